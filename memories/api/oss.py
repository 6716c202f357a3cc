"""The Mem0 OSS server dialect (its self-hosted REST server), under the root path, with
``X-API-Key`` (any of our auth headers works). Shapes follow that server, except that a missing
memory is a 404 (it answers ``200 null``) and every memory has our one memory shape.

Memories may carry, in ``metadata``: ``project_id``, ``memory_lifespan`` (``short_term`` expires
after ``MEM0_DEFAULT_SHORT_TERM_TTL_SECONDS``, ``long_term`` never), ``memory_category`` and
``domain_tags`` (a list); ``GET /memories`` filters on them.
"""

from django.db.models import Q
from django.shortcuts import redirect
from django.views.decorators.http import require_GET
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from accounts.access import key_scope, key_within
from graph.api import with_relations
from mem0g_site.api import Mem0View
from mem0g_site.exceptions import Forbidden, InvalidRequest, NotFound, ValidationFailed
from mem0g_site.inputs import UNSET
from memories.api import schema as doc
from memories.api.common import (
    as_bool,
    as_expiration,
    as_int,
    as_object,
    body_of,
    refuse_unknown,
    request_filters,
    top_level_scope,
)
from memories.api.searching import SEARCH_OPTION_FIELDS, search_options, search_results
from memories.api.serializers import HistorySerializer, MemorySerializer, memories_data, memory_data
from memories.inputs import Scope, clean_id, clean_memory_type, clean_text
from memories.search import memory_search
from memories.selectors import ENTITY_TYPES, entity_list, memory_get, memory_history, memory_list
from memories.services import (
    add_ingest,
    memories_delete,
    memories_reset,
    memory_delete,
    memory_update,
)

OSS_ENTITY_FIELDS = ("user_id", "agent_id", "run_id")
METADATA_FILTERS = ("project_id", "memory_lifespan", "memory_category")


@require_GET
def root(request):
    return redirect("/docs")


OSS_ENTITY_QUERY = [
    doc.query("user_id", description="The user."),
    doc.query("agent_id", description="The agent."),
    doc.query("run_id", description="The run."),
]
NEEDS_AN_ID = (
    "INVALID_REQUEST",
    "At least one identifier (user_id, agent_id, run_id) is required.",
    {"key": "user_id"},
)


def _oss_scope(request, values: dict) -> Scope:
    return key_scope(
        request.auth, Scope(**{field: clean_id(values.get(field), field_name=field) for field in OSS_ENTITY_FIELDS})
    )


class OssMemoriesView(Mem0View):
    """``POST /memories`` (add), ``GET /memories`` (list), ``DELETE /memories`` (admin)."""

    required_scope = {"GET": "read", "POST": "write", "DELETE": "admin"}
    user_keys = True
    query_params = {
        "GET": frozenset({*OSS_ENTITY_FIELDS, "top_k", "show_expired", *METADATA_FILTERS, "domain_tags"}),
        "DELETE": frozenset(OSS_ENTITY_FIELDS),
    }

    @extend_schema(
        operation_id="oss_memories_add",
        summary="Add memories from messages",
        description="Extracts facts from the messages (or, with `infer: false`, stores each non-system message "
        "verbatim) in the scope of `user_id`, `agent_id` and/or `run_id` (at least one).",
        tags=[doc.OSS],
        request=doc.OssAddRequest,
        responses={200: doc.AddResults, **doc.errors(404, 422, 503, e400=NEEDS_AN_ID, e503=doc.LLM_UNAVAILABLE)},
        examples=[
            doc.example(
                "Conversation",
                {"messages": doc.MESSAGES, "user_id": "alice", "metadata": {"memory_category": "preferences"}},
                request=True,
            ),
            doc.example("Added", {"results": [doc.ADD_EVENT]}),
        ],
    )
    def post(self, request):
        data = body_of(request)
        refuse_unknown(
            data,
            {
                "messages",
                *OSS_ENTITY_FIELDS,
                "metadata",
                "expiration_date",
                "infer",
                "memory_type",
                "prompt",
                "enable_graph",
            },
        )
        enable_graph = as_bool(data.get("enable_graph"), "enable_graph")
        if not isinstance(data.get("messages"), list):
            raise InvalidRequest("messages must be a list of {role, content}", details={"key": "messages"})
        scope = _oss_scope(request, data)
        if scope.is_empty:
            raise InvalidRequest(
                "At least one identifier (user_id, agent_id, run_id) is required.", details={"key": "user_id"}
            )
        outcome = add_ingest(
            project=request.auth.project,
            payload={k: v for k, v in data.items() if k != "messages"},
            messages=data["messages"],
            scope=scope,
            infer=as_bool(data.get("infer"), "infer", default=True),
            metadata=as_object(data.get("metadata"), "metadata"),
            expiration_date=as_expiration(data.get("expiration_date")),
            prompt=_prompt(data),
            enable_graph=enable_graph,
            memory_type=clean_memory_type(data.get("memory_type")),
        )
        # Mem0's OSS answer: the events only (the add's event is recorded, not announced).
        return Response(with_relations({"results": outcome.results}, outcome.relations))

    @extend_schema(
        operation_id="oss_memories_list",
        summary="List memories",
        description="The memories of a scope, newest first. Without `user_id`, `agent_id` or `run_id` every "
        "memory of the project is listed, which needs an `admin` key.",
        tags=[doc.OSS],
        parameters=[
            *OSS_ENTITY_QUERY,
            doc.query("top_k", int, "How many memories, 1 to 200 (default 100)."),
            doc.query("show_expired", bool, "Include expired memories."),
            doc.query("project_id", description="Only memories with this `metadata.project_id`."),
            doc.query("memory_lifespan", description="Only memories with this `metadata.memory_lifespan`."),
            doc.query("memory_category", description="Only memories with this `metadata.memory_category`."),
            doc.query(
                "domain_tags",
                description="Only memories whose `metadata.domain_tags` hold all of these (repeat the parameter "
                "or separate with commas).",
            ),
        ],
        responses={200: doc.OssMemories, **doc.errors(404, 422)},
        examples=[doc.example("Memories", {"results": [doc.MEMORY]})],
    )
    def get(self, request):
        params = request.query_params
        scope = _oss_scope(request, params)
        if scope.is_empty and not request.auth.has_scope("admin"):
            raise Forbidden("Listing every memory needs an admin key; give user_id, agent_id or run_id")
        where = Q()
        for name in METADATA_FILTERS:
            if params.get(name):
                where &= Q(metadata__contains={name: params[name]})
        for tag in params.getlist("domain_tags"):
            for part in filter(None, (t.strip() for t in tag.split(","))):
                where &= Q(metadata__contains={"domain_tags": [part]})
        result = memory_list(
            project=request.auth.project,
            scope=scope,
            where=where,
            page_size=as_int(params.get("top_k"), "top_k", 100, minimum=1, maximum=200),
            include_expired=as_bool(params.get("show_expired"), "show_expired"),
        )
        return Response({"results": memories_data(result.results)})

    @extend_schema(
        operation_id="oss_memories_delete_all",
        summary="Delete the memories of a scope",
        description="Deletes every memory of `user_id`, `agent_id` and/or `run_id` (at least one); history is kept.",
        tags=[doc.OSS],
        parameters=OSS_ENTITY_QUERY,
        responses={200: doc.DeletedResponse, **doc.errors(404, e400=NEEDS_AN_ID)},
        examples=[doc.example("Deleted", {"message": "All relevant memories deleted", "deleted": 12})],
    )
    def delete(self, request):
        scope = _oss_scope(request, request.query_params)
        if scope.is_empty:
            raise InvalidRequest(
                "At least one identifier (user_id, agent_id, run_id) is required.", details={"key": "user_id"}
            )
        deleted = memories_delete(project=request.auth.project, scope=scope)
        return Response({"message": "All relevant memories deleted", "deleted": deleted})


class OssMemoryView(Mem0View):
    """``GET``/``PUT``/``DELETE /memories/{id}``."""

    required_scope = {"GET": "read", "PUT": "write", "DELETE": "write"}
    user_keys = True

    @extend_schema(
        operation_id="oss_memory_get",
        summary="Get a memory",
        description="A missing memory is a 404 (Mem0's server answers `200 null`).",
        tags=[doc.OSS],
        parameters=[doc.MEMORY_ID_PARAM],
        responses={200: MemorySerializer, **doc.errors(404)},
        examples=[doc.example("A memory", doc.MEMORY)],
    )
    def get(self, request, memory_id: str):
        memory = memory_get(project=request.auth.project, memory_id=memory_id, within=key_within(request.auth))
        return Response(memory_data(memory))

    @extend_schema(
        operation_id="oss_memory_update",
        summary="Update a memory",
        description="Changes what is given: `text`, `metadata` (replaced), `expiration_date`.",
        tags=[doc.OSS],
        parameters=[doc.MEMORY_ID_PARAM],
        request=doc.OssUpdateRequest,
        responses={200: doc.MessageResponse, **doc.errors(404, 409, 422)},
        examples=[
            doc.example("New text", {"text": "Prefers Python and Go for scripting"}, request=True),
            doc.example("Updated", {"message": "Memory updated successfully!"}),
        ],
    )
    def put(self, request, memory_id: str):
        data = body_of(request)
        refuse_unknown(data, {"text", "metadata", "expiration_date"})
        memory_update(
            project=request.auth.project,
            memory_id=memory_id,
            text=data["text"] if data.get("text") is not None else UNSET,
            metadata=as_object(data["metadata"], "metadata") if data.get("metadata") is not None else UNSET,
            expiration_date=as_expiration(data["expiration_date"]) if "expiration_date" in data else UNSET,
            within=key_within(request.auth),
        )
        return Response({"message": "Memory updated successfully!"})

    @extend_schema(
        operation_id="oss_memory_delete",
        summary="Delete a memory",
        description="The memory's history is kept.",
        tags=[doc.OSS],
        parameters=[doc.MEMORY_ID_PARAM],
        responses={200: doc.MessageResponse, **doc.errors(404, 409)},
        examples=[doc.example("Deleted", {"message": "Memory deleted successfully"})],
    )
    def delete(self, request, memory_id: str):
        memory_delete(project=request.auth.project, memory_id=memory_id, within=key_within(request.auth))
        return Response({"message": "Memory deleted successfully"})


class OssHistoryView(Mem0View):
    """``GET /memories/{id}/history``."""

    required_scope = "read"
    user_keys = True

    @extend_schema(
        operation_id="oss_memory_history",
        summary="A memory's history",
        description="Every change of the memory, oldest first.",
        tags=[doc.OSS],
        parameters=[doc.MEMORY_ID_PARAM],
        responses={200: HistorySerializer(many=True), **doc.errors(404)},
        examples=[doc.example("Added once", [doc.HISTORY_ROW])],
    )
    def get(self, request, memory_id: str):
        rows = memory_history(project=request.auth.project, memory_id=memory_id, within=key_within(request.auth))
        return Response(HistorySerializer(rows, many=True).data)


class OssSearchView(Mem0View):
    """``POST /search``: ``filters`` in the full grammar, dotted keys such as
    ``{"metadata.project_id": "p1"}`` included; top-level ids are merged in."""

    required_scope = "read"
    replica_methods = frozenset({"POST"})  # only reads
    user_keys = True

    @extend_schema(
        operation_id="oss_search",
        summary="Search memories",
        description="Semantic search, best first. No ids and no `filters`: the whole project.",
        tags=[doc.OSS],
        request=doc.OssSearchRequest,
        responses={200: doc.OssSearchResults, **doc.errors(404, 422)},
        examples=[
            doc.example(
                "In a project's memories",
                {
                    "query": "Which language does Alice like?",
                    "user_id": "alice",
                    "filters": {"metadata.project_id": "p1"},
                },
                request=True,
            ),
            doc.example("Found", {"results": [doc.SCORED_MEMORY]}),
        ],
    )
    def post(self, request):
        data = body_of(request)
        refuse_unknown(data, {"query", "filters", *OSS_ENTITY_FIELDS, "top_k", "limit", *SEARCH_OPTION_FIELDS})
        query = clean_text(data.get("query"), field_name="query")
        scope, where = request_filters(request, {**data, **top_level_scope(data).as_filter()}, require_entity=False)
        options = search_options(data, default_threshold=None)
        results = memory_search(
            project=request.auth.project,
            query=query,
            scope=scope,
            where=where,
            top_k=as_int(data.get("top_k", data.get("limit")), "top_k", 10, minimum=1, maximum=1000),
            **options,
        )
        return Response({"results": search_results(results, explain=options["explain"])})


class OssResetView(Mem0View):
    """``POST /reset`` (admin): every memory of the key's project (or of its user) is deleted."""

    required_scope = "admin"
    user_keys = True

    @extend_schema(
        operation_id="oss_reset",
        summary="Delete every memory",
        description="Every memory of the key's project (or, for a user-restricted key, of its user); history is "
        "kept. No body.",
        tags=[doc.OSS],
        request=None,
        responses={200: doc.DeletedResponse, **doc.errors()},
        examples=[doc.example("Reset", {"message": "All memories reset", "deleted": 240})],
    )
    def post(self, request):
        deleted = memories_reset(project=request.auth.project, within=key_within(request.auth))
        return Response({"message": "All memories reset", "deleted": deleted})


class OssEntitiesView(Mem0View):
    """``GET /entities``: a bare list of users, agents and runs with their memory counts."""

    required_scope = "read"
    user_keys = True

    @extend_schema(
        operation_id="oss_entities_list",
        summary="List entities",
        description="Every user, agent, app and run id that has memories, with counts.",
        tags=[doc.OSS],
        responses={200: doc.OssEntityRow(many=True), **doc.errors()},
        examples=[
            doc.example(
                "Entities",
                [
                    {
                        "id": "alice",
                        "type": "user",
                        "total_memories": 12,
                        "created_at": doc.CREATED,
                        "updated_at": doc.UPDATED,
                    }
                ],
            )
        ],
    )
    def get(self, request):
        return Response(
            [
                {
                    "id": entity["name"],
                    "type": entity["type"],
                    "total_memories": entity["total_memories"],
                    "created_at": entity["created_at"],
                    "updated_at": entity["updated_at"],
                }
                for entity in entity_list(project=request.auth.project, within=key_within(request.auth))
            ]
        )


class OssEntityView(Mem0View):
    """``DELETE /entities/{type}/{id}`` (admin)."""

    required_scope = "admin"
    user_keys = True

    @extend_schema(
        operation_id="oss_entity_delete",
        summary="Delete an entity's memories",
        description="Deletes every memory of a user, agent, app or run; history is kept.",
        tags=[doc.OSS],
        parameters=[doc.ENTITY_TYPE_PARAM, doc.path_param("entity_id", "The entity id.", "alice")],
        responses={
            200: doc.DeletedResponse,
            **doc.errors(404, e404=("NOT_FOUND", "Entity not found", {"type": "user", "id": "bob"})),
        },
        examples=[doc.example("Deleted", {"message": "Entity deleted", "deleted": 12})],
    )
    def delete(self, request, entity_type: str, entity_id: str):
        field = ENTITY_TYPES.get(entity_type)
        if field is None:
            raise InvalidRequest("Invalid entity type: use user, agent, app or run", details={"key": "entity_type"})
        deleted = memories_delete(
            project=request.auth.project, scope=key_scope(request.auth, Scope(**{field: entity_id}))
        )
        if not deleted:
            raise NotFound("Entity not found", details={"type": entity_type, "id": entity_id})
        return Response({"message": "Entity deleted", "deleted": deleted})


def _prompt(data: dict) -> str | None:
    """The custom fact-extraction prompt, used when an LLM is configured (LLM_BASE_URL)."""
    prompt = data.get("prompt")
    if prompt is not None and not isinstance(prompt, str):
        raise ValidationFailed("prompt must be a string", field="prompt")
    return prompt or None
