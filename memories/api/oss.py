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
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework.response import Response

from accounts.access import key_scope, key_within
from mem0g_site import openapi
from mem0g_site.api import Mem0View
from mem0g_site.api_kit.contract import read
from mem0g_site.api_kit.parsing import body_of
from mem0g_site.exceptions import Forbidden, InvalidRequest, NotFound
from mem0g_site.inputs import UNSET
from memories.api import examples, responses
from memories.api.common import contract_scope, scoped_filters
from memories.api.contract import OssAddRequest, OssListQuery, OssSearchRequest, OssUpdateRequest, search_kwargs
from memories.api.entities import entity_field
from memories.api.memory import HISTORY_SCHEMA, HistoryView
from memories.api.relations import with_relations
from memories.api.serializers import search_results
from memories.inputs import Scope, clean_id
from memories.search import memory_search
from memories.selectors import entity_list, memory_get, memory_list
from memories.services import add_ingest, memories_delete, memories_reset, memory_delete, memory_update
from memories.shapes import MemorySerializer, memories_data, memory_data

OSS_ENTITY_FIELDS = ("user_id", "agent_id", "run_id")
METADATA_FILTERS = ("project_id", "memory_lifespan", "memory_category")


@require_GET
def root(request):
    return redirect("/docs")


OSS_ENTITY_QUERY = [
    openapi.query("user_id", description="The user."),
    openapi.query("agent_id", description="The agent."),
    openapi.query("run_id", description="The run."),
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


def _require_an_id(scope: Scope) -> None:
    if scope.is_empty:
        message, details = NEEDS_AN_ID[1], NEEDS_AN_ID[2]
        raise InvalidRequest(message, details=details)


class OssMemoriesView(Mem0View):
    """``POST /memories`` (add), ``GET /memories`` (list), ``DELETE /memories`` (admin)."""

    required_scope = {"GET": "read", "POST": "write", "DELETE": "admin"}
    user_keys = True
    query_params = {
        "GET": frozenset(OssListQuery().fields),
        "DELETE": frozenset(OSS_ENTITY_FIELDS),
    }

    @extend_schema(
        operation_id="oss_memories_add",
        summary="Add memories from messages",
        description="Extracts facts from the messages (or, with `infer: false`, stores each non-system message "
        "verbatim) in the scope of `user_id`, `agent_id` and/or `run_id` (at least one).",
        tags=[openapi.OSS],
        request=OssAddRequest,
        responses={
            200: responses.AddResults,
            **openapi.errors(404, 422, 503, e400=NEEDS_AN_ID, e503=openapi.LLM_UNAVAILABLE),
        },
        examples=[
            openapi.example(
                "Conversation",
                {"messages": examples.MESSAGES, "user_id": "alice", "metadata": {"memory_category": "preferences"}},
                request=True,
            ),
            openapi.example("Added", {"results": [examples.ADD_EVENT]}),
        ],
    )
    def post(self, request):
        data = body_of(request)
        values = read(OssAddRequest, data)
        scope = key_scope(request.auth, contract_scope(values))
        _require_an_id(scope)
        outcome = add_ingest(
            project=request.auth.project,
            payload={k: v for k, v in data.items() if k != "messages"},
            messages=values["messages"],
            scope=scope,
            infer=values["infer"],
            metadata=values["metadata"],
            expiration_date=values["expiration_date"],
            prompt=values["prompt"],
            enable_graph=values["enable_graph"],
            memory_type=values["memory_type"],
        )
        # Mem0's OSS answer: the events only (the add's event is recorded, not announced).
        return Response(with_relations({"results": outcome.results}, outcome.relations))

    @extend_schema(
        operation_id="oss_memories_list",
        summary="List memories",
        description="The memories of a scope, newest first. Without `user_id`, `agent_id` or `run_id` every "
        "memory of the project is listed, which needs an `admin` key.",
        tags=[openapi.OSS],
        parameters=[OssListQuery],
        responses={200: responses.OssMemories, **openapi.errors(404, 422)},
        examples=[openapi.example("Memories", {"results": [examples.MEMORY]})],
    )
    def get(self, request):
        params = request.query_params
        values = read(OssListQuery, {**params.dict(), "domain_tags": params.getlist("domain_tags")})
        scope = key_scope(request.auth, contract_scope(values))
        if scope.is_empty and not request.auth.has_scope("admin"):
            raise Forbidden("Listing every memory needs an admin key; give user_id, agent_id or run_id")
        where = Q()
        for name in METADATA_FILTERS:
            if values[name]:
                where &= Q(metadata__contains={name: values[name]})
        for tag in values["domain_tags"]:
            where &= Q(metadata__contains={"domain_tags": [tag]})
        result = memory_list(
            project=request.auth.project,
            scope=scope,
            where=where,
            page_size=values["top_k"],
            include_expired=values["show_expired"],
        )
        return Response({"results": memories_data(result.results)})

    @extend_schema(
        operation_id="oss_memories_delete_all",
        summary="Delete the memories of a scope",
        description="Deletes every memory of `user_id`, `agent_id` and/or `run_id` (at least one); history is kept.",
        tags=[openapi.OSS],
        parameters=OSS_ENTITY_QUERY,
        responses={200: responses.DeletedResponse, **openapi.errors(404, e400=NEEDS_AN_ID)},
        examples=[openapi.example("Deleted", {"message": "All relevant memories deleted", "deleted": 12})],
    )
    def delete(self, request):
        scope = _oss_scope(request, request.query_params)
        _require_an_id(scope)
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
        tags=[openapi.OSS],
        parameters=[examples.MEMORY_ID_PARAM],
        responses={200: MemorySerializer, **openapi.errors(404)},
        examples=[openapi.example("A memory", examples.MEMORY)],
    )
    def get(self, request, memory_id: str):
        memory = memory_get(project=request.auth.project, memory_id=memory_id, within=key_within(request.auth))
        return Response(memory_data(memory))

    @extend_schema(
        operation_id="oss_memory_update",
        summary="Update a memory",
        description="Changes what is given: `text`, `metadata` (replaced), `expiration_date`.",
        tags=[openapi.OSS],
        parameters=[examples.MEMORY_ID_PARAM],
        request=OssUpdateRequest,
        responses={200: responses.MessageResponse, **openapi.errors(404, 409, 422)},
        examples=[
            openapi.example("New text", {"text": "Prefers Python and Go for scripting"}, request=True),
            openapi.example("Updated", {"message": "Memory updated successfully!"}),
        ],
    )
    def put(self, request, memory_id: str):
        values = read(OssUpdateRequest, body_of(request))
        memory_update(
            project=request.auth.project,
            memory_id=memory_id,
            text=UNSET if values.get("text") is None else values["text"],
            metadata=UNSET if values.get("metadata") is None else values["metadata"],
            expiration_date=values["expiration_date"] if "expiration_date" in values else UNSET,
            within=key_within(request.auth),
        )
        return Response({"message": "Memory updated successfully!"})

    @extend_schema(
        operation_id="oss_memory_delete",
        summary="Delete a memory",
        description="The memory's history is kept.",
        tags=[openapi.OSS],
        parameters=[examples.MEMORY_ID_PARAM],
        responses={200: responses.MessageResponse, **openapi.errors(404, 409)},
        examples=[openapi.example("Deleted", {"message": "Memory deleted successfully"})],
    )
    def delete(self, request, memory_id: str):
        memory_delete(project=request.auth.project, memory_id=memory_id, within=key_within(request.auth))
        return Response({"message": "Memory deleted successfully"})


@extend_schema_view(
    get=extend_schema(
        operation_id="oss_memory_history",
        description="Every change of the memory, oldest first.",
        tags=[openapi.OSS],
        **HISTORY_SCHEMA,
    )
)
class OssHistoryView(HistoryView):
    """``GET /memories/{id}/history``: the Platform route's answer, in the OSS server's place."""


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
        tags=[openapi.OSS],
        request=OssSearchRequest,
        responses={200: responses.OssSearchResults, **openapi.errors(404, 422)},
        examples=[
            openapi.example(
                "In a project's memories",
                {
                    "query": "Which language does Alice like?",
                    "user_id": "alice",
                    "filters": {"metadata.project_id": "p1"},
                },
                request=True,
            ),
            openapi.example("Found", {"results": [examples.SCORED_MEMORY]}),
        ],
    )
    def post(self, request):
        values = read(OssSearchRequest, body_of(request), default_threshold=None)
        scope, where = scoped_filters(request, contract_scope(values), values["filters"], require_entity=False)
        results = memory_search(
            project=request.auth.project,
            query=values["query"],
            scope=scope,
            where=where,
            top_k=values["top_k"],
            **search_kwargs(values),
        )
        return Response({"results": search_results(results, explain=values["explain"])})


class OssResetView(Mem0View):
    """``POST /reset`` (admin): every memory of the key's project (or of its user) is deleted."""

    required_scope = "admin"
    user_keys = True

    @extend_schema(
        operation_id="oss_reset",
        summary="Delete every memory",
        description="Every memory of the key's project (or, for a user-restricted key, of its user); history is "
        "kept. No body.",
        tags=[openapi.OSS],
        request=None,
        responses={200: responses.DeletedResponse, **openapi.errors()},
        examples=[openapi.example("Reset", {"message": "All memories reset", "deleted": 240})],
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
        tags=[openapi.OSS],
        responses={200: responses.OssEntityRow(many=True), **openapi.errors()},
        examples=[
            openapi.example(
                "Entities",
                [
                    {
                        "id": "alice",
                        "type": "user",
                        "total_memories": 12,
                        "created_at": openapi.CREATED,
                        "updated_at": openapi.UPDATED,
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
        tags=[openapi.OSS],
        parameters=[examples.ENTITY_TYPE_PARAM, openapi.path_param("entity_id", "The entity id.", "alice")],
        responses={
            200: responses.DeletedResponse,
            **openapi.errors(404, 422, e404=("NOT_FOUND", "Entity not found", {"type": "user", "id": "bob"})),
        },
        examples=[openapi.example("Deleted", {"message": "Entity deleted", "deleted": 12})],
    )
    def delete(self, request, entity_type: str, entity_id: str):
        field = entity_field(entity_type)
        deleted = memories_delete(
            project=request.auth.project, scope=key_scope(request.auth, Scope(**{field: entity_id}))
        )
        if not deleted:
            raise NotFound("Entity not found", details={"type": entity_type, "id": entity_id})
        return Response({"message": "Entity deleted", "deleted": deleted})
