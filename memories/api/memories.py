"""The memories of a scope (Mem0 Platform and memory layer): list (``GET /v1/memories/``,
``POST /v3/memories/``, ``POST /v2/memories/``, ``GET /v1/memories/user/{id}``), add or create
(``POST /v1/memories/``), delete all of a scope (``DELETE /v1/memories/``)."""

from drf_spectacular.utils import OpenApiResponse, PolymorphicProxySerializer, extend_schema, extend_schema_view
from rest_framework.response import Response

from accounts.access import key_scope, key_user
from mem0g_site import openapi
from mem0g_site.api import Mem0View
from mem0g_site.api_kit.contract import read
from mem0g_site.api_kit.parsing import body_of
from mem0g_site.exceptions import InvalidRequest
from memories.api import examples, responses
from memories.api.adding import QUEUED_MESSAGE, ingest, legacy_event
from memories.api.common import (
    ENTITY_FIELDS,
    contract_scope,
    extra_where,
    page_body,
    pick_fields,
    query_filters,
    scoped_filters,
    top_level_scope,
)
from memories.api.contract import AddRequest, CreateMemoryRequest, LimitOffsetQuery, ListQuery, ListRequest
from memories.api.entities import entity_memories_response
from memories.api.relations import with_relations
from memories.filters import names_entity
from memories.inputs import NewMemory, Scope
from memories.models import AddEvent
from memories.selectors import memory_list
from memories.services import add_ingest, memories_delete
from memories.shapes import MemorySerializer, memories_data, memory_data


def page_example(*, page_size: int):
    """The documented answer of the memory lists: one page holding one memory."""
    page = {"count": 1, "next": None, "previous": None, "page": 1, "page_size": page_size}
    return openapi.example("A page", {**page, "results": [examples.MEMORY], "memories": [examples.MEMORY]})


def list_response(request, data: dict, *, require_entity: bool, contract: type[ListRequest] = ListRequest) -> Response:
    """A page of the memories ``data`` (read by ``contract``: a body, or :class:`ListQuery` for the
    query string) asks for; ``page`` and ``page_size`` in the query string win over the body's."""
    paging = {name: request.query_params[name] for name in ("page", "page_size") if name in request.query_params}
    values = read(contract, {**data, **paging}, superseded_by_default=True)
    scope, where = scoped_filters(request, contract_scope(values), values["filters"], require_entity=require_entity)
    page, page_size = values["page"], values["page_size"]
    result = memory_list(
        project=request.auth.project,
        scope=scope,
        where=where & extra_where(values),
        page=page,
        page_size=page_size,
        as_of=values["as_of"],
        known_at=values["known_at"],
        include_expired=values["show_expired"],
        include_superseded=values["include_superseded"],
    )
    items = pick_fields(memories_data(result.results), values.get("fields"))
    body = page_body(request, page=page, page_size=page_size, count=result.count, results=items)
    return Response({**body, "page": page, "page_size": page_size, "memories": items})


class MemoriesView(Mem0View):
    """``/v1/memories/``: list (GET), add (POST: Mem0 ``messages`` or a memory-layer ``content``),
    delete all of a scope (DELETE, ids or ``filters`` in the query string)."""

    required_scope = {"GET": "read", "POST": "write", "DELETE": "write"}
    user_keys = True
    query_params = {
        "GET": frozenset(ListQuery().fields),
        "DELETE": frozenset({*ENTITY_FIELDS, "session_id", "filters"}),
    }
    # What a list narrows by but a delete does not: refused on DELETE, never ignored.
    narrowing_params = {"DELETE": query_params["GET"] - query_params["DELETE"]}

    @extend_schema(
        operation_id="memories_list_v1",
        summary="List memories",
        description="The memories of a scope (or of the whole project), newest first, a page at a time.",
        tags=[openapi.PLATFORM, openapi.MEMORY_LAYER],
        parameters=[ListQuery],
        responses={200: responses.PaginatedMemories, **openapi.errors(404, 422)},
        examples=[page_example(page_size=100)],
    )
    def get(self, request):
        return list_response(request, request.query_params.dict(), require_entity=False, contract=ListQuery)

    @extend_schema(
        operation_id="memories_add_v1",
        summary="Add memories (Mem0) or create one memory (memory layer)",
        description="With `messages` (Mem0 v1 `add`): as `POST /v3/memories/add/`, answering `{results}` "
        "(or a legacy shape with `output_format`; Mem0's queued shape with `async_mode: true`). With `content` "
        "and no `messages` (memory layer): stores that one text verbatim and answers 201 with the memory.",
        tags=[openapi.PLATFORM, openapi.MEMORY_LAYER],
        request=PolymorphicProxySerializer(
            component_name="AddOrCreateRequest",
            serializers=[AddRequest, CreateMemoryRequest],
            resource_type_field_name=None,
            many=False,
        ),
        responses={
            200: OpenApiResponse(
                PolymorphicProxySerializer(
                    component_name="AddResponse",
                    serializers=[
                        responses.AddResults,
                        responses.LegacyAddResults,
                        responses.LegacyAddEvent(many=True),
                        responses.LegacyAddQueuedResults,
                        responses.LegacyAddQueued(many=True),
                    ],
                    resource_type_field_name=None,
                    many=False,
                ),
                description="Messages added: `{results}` of events; `output_format` `v1.1`: legacy events; "
                "`v1.0`: a bare list of legacy events. With `async_mode: true` (and `infer`): "
                "`{results: [{message, status: PENDING, event_id}]}` (a bare list for `v1.0`).",
            ),
            201: OpenApiResponse(MemorySerializer, description="One memory created from `content`."),
            **openapi.errors(404, 422, 503, e503=openapi.LLM_UNAVAILABLE),
        },
        examples=[
            openapi.example("Mem0 add", {"messages": examples.MESSAGES, "user_id": "alice"}, request=True),
            openapi.example(
                "Memory layer create",
                {
                    "content": "Prefers Python for scripting",
                    "user_id": "alice",
                    "metadata": {"category": "language_preference"},
                },
                request=True,
            ),
            openapi.example("Added", {"results": [examples.ADD_EVENT]}, status=200),
            openapi.example(
                "Added (v1.1)",
                {
                    "results": [
                        {"id": examples.MEMORY_ID, "event": "ADD", "data": {"memory": examples.ADD_EVENT["memory"]}}
                    ]
                },
                status=200,
            ),
            openapi.example("Created", examples.MEMORY, status=201),
        ],
    )
    def post(self, request):
        data = body_of(request)
        if "content" in data and "messages" not in data:
            return self._create_one(request, data)
        event, relations = ingest(request, data)
        events = event.results
        if event.status == AddEvent.Status.PENDING:
            # Mem0's queued answer to the 0.1.x/1.0.x clients (1.0.x sends async_mode: true by default).
            events = [{"message": QUEUED_MESSAGE, "status": event.status, "event_id": str(event.id)}]
            return Response(events if data.get("output_format") == "v1.0" else {"results": events})
        output_format = data.get("output_format")
        if output_format == "v1.0":
            return Response([legacy_event(event) for event in events])
        if output_format == "v1.1":
            return Response(with_relations({"results": [legacy_event(e) for e in events]}, relations))
        return Response(with_relations({"results": events}, relations))

    def _create_one(self, request, data):
        values = read(CreateMemoryRequest, data)
        outcome = add_ingest(
            project=request.auth.project,
            payload={k: v for k, v in data.items() if k != "content"},
            enable_graph=values["enable_graph"],
            items=[
                NewMemory(
                    text=data.get("content"),
                    scope=key_scope(request.auth, contract_scope(values)),
                    metadata=values["metadata"],
                    categories=data.get("categories"),
                    immutable=values["immutable"],
                    expiration_date=values["expiration_date"],
                )
            ],
        )
        return Response(memory_data(outcome.memories[0]), status=201)

    @extend_schema(
        operation_id="memories_delete_all_v1",
        summary="Delete the memories of a scope",
        description="Deletes every memory (in any state) of the entity ids given in the query string, "
        'directly or inside `filters`. `"*"` as an id deletes every memory that has that id set. At least one '
        "id is required, so a typo cannot wipe a project. History is kept.",
        tags=[openapi.PLATFORM],
        parameters=[
            *examples.ENTITY_QUERY,
            openapi.query("filters", description="A JSON object (or Python dict literal); only its entity ids count."),
        ],
        responses={200: responses.DeletedResponse, **openapi.errors(404, 422)},
        examples=[openapi.example("Deleted", {"message": "Memories deleted successfully!", "deleted": 12})],
    )
    def delete(self, request):
        deleted = scope_delete(request.auth, request.query_params)
        return Response({"message": "Memories deleted successfully!", "deleted": deleted})


def scope_delete(api_key, params) -> int:
    """Delete every memory of the entity ids in ``params`` (``user_id`` ... or ``session_id``, and the
    ids inside ``filters``, a JSON object or Python dict literal); ``"*"`` as an id: every memory that
    has one. At least one positive id is needed. Also the MCP tool ``delete_all_memories``."""
    filters = query_filters(params["filters"]) if params.get("filters") is not None else {}
    requested = {field: params.get(field) for field in ENTITY_FIELDS}
    if requested["run_id"] is None:
        requested["run_id"] = params.get("session_id")
    wildcard = {field for field, value in requested.items() if value == "*"}
    scope = key_scope(api_key, top_level_scope({f: v for f, v in requested.items() if f not in wildcard}))
    # Only a positive id (or "*") names an entity: {"user_id": {"ne": "nobody"}} does not.
    if scope.is_empty and not wildcard and not names_entity(filters):
        raise InvalidRequest(
            "Give at least one of user_id, agent_id, app_id or run_id (an id, a list of ids with 'in', or '*'); "
            "negations such as ne, nin or NOT do not name an entity",
            details={"key": "user_id"},
        )
    return memories_delete(project=api_key.project, scope=scope, any_of=wildcard, filters=filters)


LIST_EXAMPLES = [
    openapi.example(
        "One user's preferences",
        {"filters": {"AND": [{"user_id": "alice"}, {"categories": {"in": ["preferences"]}}]}, "page_size": 50},
        request=True,
    ),
    page_example(page_size=50),
]


class ListV3View(Mem0View):
    """``POST /v3/memories/`` (mem0ai 2.x ``get_all``): ``filters`` must name an entity."""

    required_scope = "read"
    replica_methods = frozenset({"GET", "POST"})  # only reads
    user_keys = True
    query_params = frozenset({"page", "page_size"})

    @extend_schema(
        operation_id="memories_list_v3",
        summary="List memories (get_all)",
        description="The memories matching `filters` (which must name a user, agent, app or run, or a top-level "
        "id must), newest first, a page at a time.",
        tags=[openapi.PLATFORM],
        parameters=examples.PAGE_QUERY,
        request=ListRequest,
        responses={200: responses.PaginatedMemories, **openapi.errors(404, 422)},
        examples=LIST_EXAMPLES,
    )
    def post(self, request):
        return list_response(request, body_of(request), require_entity=True)


@extend_schema_view(
    post=extend_schema(
        operation_id="memories_list_v2",
        summary="List memories (get_all, v2)",
        description="As `POST /v3/memories/`, for the 1.0.x clients: top-level ids or `filters`.",
    )
)
class ListV2View(ListV3View):
    """``POST /v2/memories/`` (1.0.x ``get_all``): top-level ids or ``filters``."""


class UserMemoriesListView(Mem0View):
    """``GET /v1/memories/user/{user_id}?limit=&offset=`` (memory-layer routes)."""

    required_scope = "read"
    user_keys = True
    query_params = frozenset(LimitOffsetQuery().fields)

    @extend_schema(
        operation_id="memories_of_user",
        summary="List a user's memories",
        description="A user's memories, newest first, `limit` at a time from `offset`.",
        tags=[openapi.MEMORY_LAYER],
        parameters=[
            examples.USER_ID_PARAM,
            LimitOffsetQuery,
        ],
        responses={200: responses.UserMemoriesPage, **openapi.errors(404, 422, e404=openapi.USER_NOT_FOUND)},
        examples=[
            openapi.example(
                "A page",
                {"count": 1, "limit": 50, "offset": 0, "results": [examples.MEMORY], "memories": [examples.MEMORY]},
            )
        ],
    )
    def get(self, request, user_id: str):
        return entity_memories_response(request, Scope(user_id=key_user(request.auth, user_id)))
