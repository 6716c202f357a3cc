"""The MCP dialect: ``POST /mcp``, the Model Context Protocol's Streamable HTTP transport, for coding
agents and assistants (Claude Code, Claude Desktop, Cursor, any MCP client).

Built on the official ``mcp`` SDK: ``SERVER`` (an ``MCPServer``) declares the tools and their JSON
input schemas; the SDK's Streamable HTTP session manager, in stateless JSON-response mode, answers
each HTTP request. The view is a plain Django REST framework view served by our WSGI workers like
every other route, so the same authentication (``Authorization: Bearer <API key>``; no key or a bad
one is a 401), rate limits and user-key fence apply, and no other request pays for MCP (docs/MCP.md
says why this and not an ASGI server).

How one request runs: the view (a worker thread) hands the request to the SDK in an event loop
(``async_to_sync``); each tool's work is handed back to that same thread (``sync_to_async``,
thread-sensitive), so it uses the request's own database connection as any view does. Tools are
thin translations onto the services and selectors the REST views call, with the shared parsing
helpers; our exceptions become tool errors (``isError: true``) carrying their message.
"""

import functools
import inspect
import json
from contextvars import ContextVar
from typing import Annotated, Any

import anyio
from asgiref.sync import async_to_sync, sync_to_async
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpResponse
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from pydantic import Field
from rest_framework.views import APIView

from accounts.access import key_within
from accounts.models import ApiKey
from graph import selectors as graph_selectors
from graph.shapes import related_memories_data, timeline_data
from mem0g_site.api_kit.parsing import as_moment, as_object
from mem0g_site.exceptions import ApplicationError
from mem0g_site.inputs import UNSET
from memories.api.adding import ingest
from memories.api.common import request_filters
from memories.api.entities import entity_delete
from memories.api.events import event_data
from memories.api.memories import scope_delete
from memories.api.search import search
from memories.api.serializers import HistorySerializer
from memories.selectors import PAGE_SIZE_MAX, add_event_get, add_event_list, memory_get, memory_list
from memories.services import memory_delete, memory_update
from memories.shapes import memories_data, memory_data

# The key of the request being served (set by the view, read by the tools).
_api_key: ContextVar[ApiKey] = ContextVar("mcp_api_key")

SERVER = MCPServer(
    "mem0g",
    version=settings.VERSION,
    log_level="WARNING",  # not a line per request: our request log has one
    instructions="Long-term memory for this user or project (a Mem0-compatible memory server with a temporal "
    "memory graph). Search before answering questions about the user; add durable facts and preferences; "
    "as_of searches the memories as they were at a past moment.",
)


class KeyCaller:
    """What the shared request helpers (``memories.api.common``, ``adding``, ``search``, ...) read of a request:
    its API key (``auth``)."""

    def __init__(self, api_key: ApiKey) -> None:
        self.auth = api_key
        self.query_params: dict[str, str] = {}


def tool(*, scope: str, description: str):
    """Register ``fn(api_key, **arguments)`` as an MCP tool whose input schema is ``fn``'s other
    parameters. It runs in the request's thread (its database connection), needs ``scope`` and
    turns our exceptions into tool errors."""

    def register(fn):
        @functools.wraps(fn)
        async def run(**arguments):
            api_key = _api_key.get()
            if not api_key.has_scope(scope):
                raise ToolError(f"This API key lacks the '{scope}' scope")
            try:
                result = await sync_to_async(fn, thread_sensitive=True)(api_key, **arguments)
            except ApplicationError as exc:
                raise ToolError(exc.message) from None
            # Plain JSON (dates as ISO 8601, UUIDs as strings), as the REST answers.
            return json.loads(json.dumps(result, cls=DjangoJSONEncoder))

        # The schema comes from the signature without the key, which is not an argument.
        run.__signature__ = _without_key(fn)
        SERVER.tool(name=fn.__name__, description=description)(run)
        return fn

    return register


def _without_key(fn) -> inspect.Signature:
    signature = inspect.signature(fn, eval_str=True)
    return signature.replace(parameters=list(signature.parameters.values())[1:])


def _present(**values: Any) -> dict[str, Any]:
    return {name: value for name, value in values.items() if value is not None}


UserId = Annotated[str | None, Field(description="The user the memories are about.")]
AgentId = Annotated[str | None, Field(description="The agent.")]
AppId = Annotated[str | None, Field(description="The app.")]
RunId = Annotated[str | None, Field(description="The run (session).")]
MemoryId = Annotated[str, Field(description="The memory's id.")]
Filters = Annotated[
    dict[str, Any] | None,
    Field(
        description="Mem0's filter grammar, e.g. "
        '{"AND": [{"user_id": "alice"}, {"created_at": {"gte": "2026-01-01"}}]}.'
    ),
]
Moment = Annotated[str | None, Field(description="ISO 8601 date or time (or Unix seconds).")]


@tool(
    scope="write",
    description="Store a fact, preference or conversation snippet. Give `text` (one message) or `messages` "
    "(role/content turns) and at least one of user_id, agent_id, app_id, run_id. Facts are extracted (unless "
    "infer is false: stored verbatim); a contradicted fact is superseded, not lost.",
)
def add_memory(
    api_key: ApiKey,
    text: Annotated[str | None, Field(description="What to remember, as one user message.")] = None,
    messages: Annotated[
        list[dict[str, Any]] | None, Field(description='Conversation turns: [{"role": "user", "content": "..."}].')
    ] = None,
    user_id: UserId = None,
    agent_id: AgentId = None,
    app_id: AppId = None,
    run_id: RunId = None,
    metadata: Annotated[dict[str, Any] | None, Field(description="Any JSON object to keep with it.")] = None,
    infer: Annotated[bool, Field(description="Extract facts (true) or store the text verbatim (false).")] = True,
) -> dict[str, Any]:
    if messages is None and text is None:
        raise ToolError("Give text or messages")
    data = _present(
        messages=messages if messages is not None else text,
        user_id=user_id,
        agent_id=agent_id,
        app_id=app_id,
        run_id=run_id,
        metadata=metadata,
        infer=infer,
    )
    event, relations = ingest(KeyCaller(api_key), data)
    answer = {"results": event.results, "event_id": str(event.id), "status": event.status}
    return answer if relations is None else {**answer, "relations": relations}


@tool(
    scope="read",
    description="Semantic (and keyword) search over the memories, best first. Narrow with user_id ... or "
    "filters. as_of searches the memories as they held at that moment (facts since superseded included).",
)
def search_memories(
    api_key: ApiKey,
    query: Annotated[str, Field(description="What to look for, in natural language.")],
    filters: Filters = None,
    user_id: UserId = None,
    agent_id: AgentId = None,
    app_id: AppId = None,
    run_id: RunId = None,
    limit: Annotated[int, Field(description="How many results, 1 to 1000.", ge=1, le=1000)] = 10,
    threshold: Annotated[float | None, Field(description="Minimum score, 0 to 1 (default 0.1).")] = None,
    as_of: Moment = None,
    include_superseded: Annotated[bool, Field(description="Also facts superseded since.")] = False,
) -> dict[str, Any]:
    data = _present(
        query=query,
        filters=filters,
        user_id=user_id,
        agent_id=agent_id,
        app_id=app_id,
        run_id=run_id,
        top_k=limit,
        threshold=threshold,
        as_of=as_of,
        include_superseded=include_superseded,
    )
    return {"results": search(KeyCaller(api_key), data, require_entity=False, default_threshold=0.1)}


@tool(scope="read", description="List memories (newest first, a page at a time), narrowed by ids or filters.")
def get_memories(
    api_key: ApiKey,
    filters: Filters = None,
    user_id: UserId = None,
    agent_id: AgentId = None,
    app_id: AppId = None,
    run_id: RunId = None,
    page: Annotated[int, Field(ge=1, description="From 1.")] = 1,
    page_size: Annotated[int, Field(ge=1, le=PAGE_SIZE_MAX)] = 50,
    as_of: Moment = None,
) -> dict[str, Any]:
    data = _present(filters=filters, user_id=user_id, agent_id=agent_id, app_id=app_id, run_id=run_id)
    scope, where = request_filters(KeyCaller(api_key), data, require_entity=False)
    result = memory_list(
        project=api_key.project,
        scope=scope,
        where=where,
        page=page,
        page_size=page_size,
        as_of=as_moment(as_of, "as_of"),
    )
    return {"count": result.count, "page": page, "page_size": page_size, "results": memories_data(result.results)}


@tool(scope="read", description="One memory by its id.")
def get_memory(api_key: ApiKey, memory_id: MemoryId) -> dict[str, Any]:
    return memory_data(memory_get(project=api_key.project, memory_id=memory_id, within=key_within(api_key)))


@tool(scope="write", description="Change a memory's text (and metadata); it keeps its id and gains a history row.")
def update_memory(
    api_key: ApiKey,
    memory_id: MemoryId,
    text: Annotated[str, Field(description="The new text.")],
    metadata: Annotated[dict[str, Any] | None, Field(description="Replaces the metadata when given.")] = None,
) -> dict[str, Any]:
    memory = memory_update(
        project=api_key.project,
        memory_id=memory_id,
        text=text,
        metadata=as_object(metadata, "metadata") if metadata is not None else UNSET,
        within=key_within(api_key),
    )
    return memory_data(memory)


@tool(scope="write", description="Delete one memory (its history is kept).")
def delete_memory(api_key: ApiKey, memory_id: MemoryId) -> dict[str, Any]:
    memory_delete(project=api_key.project, memory_id=memory_id, within=key_within(api_key))
    return {"message": "Memory deleted successfully!"}


@tool(
    scope="write",
    description="Delete every memory of a user, agent, app or run (at least one id; history is kept).",
)
def delete_all_memories(
    api_key: ApiKey, user_id: UserId = None, agent_id: AgentId = None, app_id: AppId = None, run_id: RunId = None
) -> dict[str, Any]:
    params = _present(user_id=user_id, agent_id=agent_id, app_id=app_id, run_id=run_id)
    return {"message": "Memories deleted successfully!", "deleted": scope_delete(api_key, params)}


@tool(scope="read", description="The users, agents, apps and runs that have memories, with counts.")
def list_entities(api_key: ApiKey) -> dict[str, Any]:
    from accounts.selectors import entity_list_with_registered

    return {"results": entity_list_with_registered(project=api_key.project, within_user=api_key.user_id)}


@tool(
    scope="write",
    description="Delete users, agents, apps or runs: all their memories and their registration.",
)
def delete_entities(
    api_key: ApiKey, user_id: UserId = None, agent_id: AgentId = None, app_id: AppId = None, run_id: RunId = None
) -> dict[str, Any]:
    named = _present(user=user_id, agent=agent_id, app=app_id, run=run_id)
    if not named:
        raise ToolError("Give at least one of user_id, agent_id, app_id or run_id")
    deleted = sum(entity_delete(api_key, kind, name) for kind, name in named.items())
    return {"message": "Entity deleted successfully.", "deleted": deleted}


@tool(scope="read", description="Add requests (events), newest first, with their status and results.")
def list_events(
    api_key: ApiKey,
    page: Annotated[int, Field(ge=1)] = 1,
    page_size: Annotated[int, Field(ge=1, le=PAGE_SIZE_MAX)] = 50,
) -> dict[str, Any]:
    count, events = add_event_list(project=api_key.project, within=key_within(api_key), page=page, page_size=page_size)
    return {"count": count, "results": [event_data(event) for event in events]}


@tool(scope="read", description="The status (PENDING, SUCCEEDED, FAILED) and results of one add request.")
def get_event_status(api_key: ApiKey, event_id: Annotated[str, Field(description="The event's id.")]) -> dict[str, Any]:
    return event_data(add_event_get(project=api_key.project, event_id=event_id, within=key_within(api_key)))


@tool(scope="read", description="Every change of a memory (ADD, UPDATE, SUPERSEDE, DELETE ...), oldest first.")
def memory_history(api_key: ApiKey, memory_id: MemoryId) -> dict[str, Any]:
    from memories import selectors

    rows = selectors.memory_history(project=api_key.project, memory_id=memory_id, within=key_within(api_key))
    return {"results": HistorySerializer(rows, many=True).data}


@tool(
    scope="read",
    description="The memories within `depth` relationship hops of a memory (supersedes, related_to ...), "
    "nearest first; as_of follows the relationships that held then.",
)
def related_memories(
    api_key: ApiKey,
    memory_id: MemoryId,
    depth: Annotated[int, Field(ge=1, le=5)] = 1,
    relation: Annotated[str | None, Field(description="Only this relation, e.g. supersedes.")] = None,
    direction: Annotated[str, Field(description="outgoing, incoming or both.")] = "both",
    as_of: Moment = None,
    limit: Annotated[int, Field(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    related = graph_selectors.related_memories(
        project=api_key.project,
        memory_id=memory_id,
        depth=depth,
        relation=relation,
        direction=direction,
        limit=limit,
        within=key_within(api_key),
        as_of=as_moment(as_of, "as_of"),
    )
    return {"results": related_memories_data(related)}


@tool(
    scope="read",
    description="A memory through time: its versions with when each held, and the chain of facts it "
    "superseded or that superseded it.",
)
def memory_timeline(api_key: ApiKey, memory_id: MemoryId) -> dict[str, Any]:
    timeline = graph_selectors.memory_timeline(project=api_key.project, memory_id=memory_id, within=key_within(api_key))
    return timeline_data(timeline)


# --- the HTTP side ---------------------------------------------------------------------------


class McpView(APIView):
    """``POST /mcp``: one Streamable HTTP message exchange (stateless, JSON responses). Any valid key
    may call it (each tool checks its scope), keys restricted to one user too (every tool fences to
    that user); GET (a server-sent event stream) is not offered: 405."""

    required_scope = None
    user_keys = True
    schema = None  # not in the OpenAPI document: docs/MCP.md describes it

    def post(self, request):
        django_request = request._request
        status, headers, body = async_to_sync(_exchange)(request.auth, _asgi_scope(django_request), django_request.body)
        response = HttpResponse(body, status=status)
        for name, value in headers:
            if name.lower() not in ("content-length", "date", "server"):
                response[name] = value
        return response


def _asgi_scope(request) -> dict:
    headers = [
        (name[5:].replace("_", "-").lower().encode("latin-1"), str(value).encode("latin-1"))
        for name, value in request.META.items()
        if name.startswith("HTTP_") and name not in ("HTTP_AUTHORIZATION", "HTTP_X_API_KEY")
    ]
    for name in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if request.META.get(name):
            headers.append((name.replace("_", "-").lower().encode(), str(request.META[name]).encode("latin-1")))
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": request.method,
        "scheme": request.scheme,
        "path": request.path,
        "raw_path": request.path.encode(),
        "root_path": "",
        "query_string": request.META.get("QUERY_STRING", "").encode("latin-1"),
        "headers": headers,
        "server": (request.get_host().rsplit(":", 1)[0], int(request.get_port() or 80)),
        "client": (request.META.get("REMOTE_ADDR") or "", 0),
    }


async def _exchange(api_key: ApiKey, scope: dict, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
    """Run one request through a fresh stateless session manager; what it answered."""
    manager = StreamableHTTPSessionManager(app=SERVER._lowlevel_server, stateless=True, json_response=True)
    answered = anyio.Event()
    status, headers, chunks = 500, [], []
    sent_body = False

    async def receive():
        nonlocal sent_body
        if not sent_body:
            sent_body = True
            return {"type": "http.request", "body": body, "more_body": False}
        await answered.wait()
        return {"type": "http.disconnect"}

    async def send(message):
        nonlocal status, headers
        if message["type"] == "http.response.start":
            status = message["status"]
            headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in message.get("headers", [])]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                answered.set()

    token = _api_key.set(api_key)
    try:
        async with manager.run():
            await manager.handle_request(scope, receive, send)
    finally:
        _api_key.reset(token)
    return status, headers, b"".join(chunks)
