"""Entities (users, agents, apps and runs) on the Mem0 Platform paths: the list, one entity, its
memories, the ids usable in ``filters``, deleting one (:func:`entity_delete`, also an MCP tool)."""

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from accounts.access import key_scope, key_within
from accounts.selectors import entity_list_with_registered
from accounts.services import entity_forget
from mem0g_site import openapi
from mem0g_site.api import Mem0View
from mem0g_site.api_kit.contract import read
from mem0g_site.exceptions import InvalidRequest, NotFound
from memories.api import examples, responses
from memories.api.common import page_body
from memories.api.contract import LimitOffsetQuery, PageQuery
from memories.inputs import Scope
from memories.selectors import ENTITY_TYPES, entity_list, memory_list
from memories.services import memories_delete
from memories.shapes import memories_data


class EntitiesView(Mem0View):
    """``GET /v1/entities/``: every user/agent/app/run with memories; ``name`` is the id itself."""

    required_scope = "read"
    user_keys = True
    query_params = frozenset(PageQuery().fields)

    @extend_schema(
        operation_id="entities_list",
        summary="List entities",
        description="Every user, agent, app and run id that has memories, or was created with `POST /v1/users/` "
        "(`/v1/agents/`, ...) and has none yet (0 memories), with counts and first/last activity; by type, then "
        "id. Paged with `page` and `page_size` (default 100, at most 200); the `total_*` counts cover every page.",
        tags=[openapi.PLATFORM],
        parameters=[PageQuery],
        responses={200: responses.Entities, **openapi.errors(422)},
        examples=[
            openapi.example(
                "Entities",
                {
                    "count": 1,
                    "next": None,
                    "previous": None,
                    "results": [
                        {
                            "id": "alice",
                            "name": "alice",
                            "type": "user",
                            "total_memories": 12,
                            "created_at": openapi.CREATED,
                            "updated_at": openapi.UPDATED,
                            "owner": None,
                            "metadata": {},
                        }
                    ],
                    "total_users": 1,
                    "total_agents": 0,
                    "total_apps": 0,
                    "total_runs": 0,
                },
            )
        ],
    )
    def get(self, request):
        values = read(PageQuery, request.query_params.dict())
        page, page_size = values["page"], values["page_size"]
        entities = entity_list_with_registered(project=request.auth.project, within_user=request.auth.user_id)
        totals = {f"total_{kind}s": sum(1 for e in entities if e["type"] == kind) for kind in ENTITY_TYPES}
        count = len(entities)
        entities = entities[(page - 1) * page_size : page * page_size]
        results = [
            {
                "id": entity["name"],
                "name": entity["name"],
                "type": entity["type"],
                "total_memories": entity["total_memories"],
                "created_at": entity["created_at"],
                "updated_at": entity["updated_at"],
                "owner": None,
                "metadata": entity.get("metadata", {}),
            }
            for entity in entities
        ]
        return Response({**page_body(request, page=page, page_size=page_size, count=count, results=results), **totals})


def entity_field(entity_type: str) -> str:
    """The scope field of an entity type in a path (``user`` -> ``user_id``), or a 400."""
    field = ENTITY_TYPES.get(entity_type)
    if field is None:
        raise InvalidRequest("Invalid entity type: use user, agent, app or run", details={"key": "entity_type"})
    return field


def entity_delete(api_key, entity_type: str, name: str) -> int:
    """Delete every memory of one user, agent, app or run and forget its registration; how many
    memories went. Also the MCP tool ``delete_entities``."""
    field = entity_field(entity_type)
    scope = key_scope(api_key, Scope(**{field: name}))
    deleted = memories_delete(project=api_key.project, scope=scope)
    # A user-restricted key may forget only its own user's registration.
    reachable = api_key.user_id is None or (field == "user_id" and scope.user_id == name)
    forgotten = entity_forget(project=api_key.project, entity_type=entity_type, name=name) if reachable else 0
    if not deleted and not forgotten:
        raise NotFound("Entity not found", details={"type": entity_type, "name": name})
    return deleted


class EntityView(Mem0View):
    """``GET /v2/entities/{type}/{name}/``: one user, agent, app or run; ``DELETE`` deletes its
    memories (also at the v1 path the TypeScript SDK uses)."""

    required_scope = {"GET": "read", "DELETE": "write"}
    user_keys = True

    @extend_schema(
        operation_id="entity_get",
        summary="Get an entity",
        description="One user, agent, app or run with its memory count and first/last activity.",
        tags=[openapi.PLATFORM],
        parameters=[examples.ENTITY_TYPE_PARAM, openapi.path_param("name", "The entity id.", "alice")],
        responses={
            200: responses.Entity,
            **openapi.errors(404, 422, e404=("NOT_FOUND", "Entity not found", {"type": "user", "name": "bob"})),
        },
        examples=[openapi.example("A user", examples.ENTITY)],
    )
    def get(self, request, entity_type: str, name: str):
        entity_field(entity_type)
        for entity in entity_list(project=request.auth.project, within=key_within(request.auth)):
            if entity["type"] == entity_type and entity["name"] == name:
                return Response({"id": name, **entity})
        raise NotFound("Entity not found", details={"type": entity_type, "name": name})

    @extend_schema(
        operation_id="entity_delete",
        summary="Delete an entity's memories",
        description="Deletes every memory of a user, agent, app or run (history is kept). `v1` is the path of the "
        "TypeScript SDK, `v2` that of the Python SDK.",
        tags=[openapi.PLATFORM],
        parameters=[examples.ENTITY_TYPE_PARAM, openapi.path_param("name", "The entity id.", "alice")],
        responses={
            200: responses.DeletedResponse,
            **openapi.errors(404, 422, e404=("NOT_FOUND", "Entity not found", {"type": "user", "name": "bob"})),
        },
        examples=[openapi.example("Deleted", {"message": "Entity deleted successfully.", "deleted": 12})],
    )
    def delete(self, request, entity_type: str, name: str):
        deleted = entity_delete(request.auth, entity_type, name)
        return Response({"message": "Entity deleted successfully.", "deleted": deleted})


class EntityFiltersView(Mem0View):
    """``GET /v1/entities/filters/``: the ids that can be used in ``filters``, by type."""

    required_scope = "read"
    user_keys = True

    @extend_schema(
        operation_id="entity_filters",
        summary="Entity ids for filters",
        description="The ids that have memories, by type, for use in `filters`.",
        tags=[openapi.PLATFORM],
        responses={200: responses.EntityFilters, **openapi.errors()},
        examples=[
            openapi.example("Ids", {"users": ["alice", "bob"], "agents": ["helper"], "apps": [], "runs": ["r1"]})
        ],
    )
    def get(self, request):
        entities = entity_list(project=request.auth.project, within=key_within(request.auth))
        return Response({f"{kind}s": [e["name"] for e in entities if e["type"] == kind] for kind in ENTITY_TYPES})


class EntityMemoriesView(Mem0View):
    """``GET /v1/memories/{entity_type}/{entity_id}/?limit=&offset=``: one entity's memories, newest
    first (``/v1/memories/user/{user_id}`` is the memory-layer form of the same)."""

    required_scope = "read"
    user_keys = True
    query_params = frozenset(LimitOffsetQuery().fields)

    @extend_schema(
        operation_id="memories_of_entity",
        summary="List an agent's, app's or run's memories",
        description="One entity's memories, newest first, `limit` at a time from `offset` "
        "(`/v1/memories/user/{user_id}` is the same for a user).",
        tags=[openapi.PLATFORM],
        parameters=[
            openapi.path_param("entity_type", "The kind of entity.", "agent", enum=["agent", "app", "run"]),
            openapi.path_param("entity_id", "The entity id.", "helper"),
            LimitOffsetQuery,
        ],
        responses={200: responses.UserMemoriesPage, **openapi.errors(404, 422)},
        examples=[
            openapi.example(
                "A page",
                {"count": 1, "limit": 50, "offset": 0, "results": [examples.MEMORY], "memories": [examples.MEMORY]},
            )
        ],
    )
    def get(self, request, entity_type: str, entity_id: str):
        field = entity_field(entity_type)
        return entity_memories_response(request, key_scope(request.auth, Scope(**{field: entity_id})))


def entity_memories_response(request, scope: Scope) -> Response:
    """One entity's memories, newest first, paged with ``limit``/``offset`` (a multiple of limit)."""
    values = read(LimitOffsetQuery, request.query_params.dict())
    limit, offset = values["limit"], values["offset"]
    result = memory_list(
        project=request.auth.project,
        scope=scope,
        page=offset // limit + 1,
        page_size=limit,
        include_expired=values["show_expired"],
    )
    items = memories_data(result.results)
    return Response({"count": result.count, "limit": limit, "offset": offset, "results": items, "memories": items})
