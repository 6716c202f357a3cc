"""More Mem0 Platform paths: add events, project stats, single entities and entity filters, and
memories or history listed per entity."""

from rest_framework.response import Response

from accounts.access import key_scope, key_within
from mem0g_site.api import Mem0View
from mem0g_site.exceptions import InvalidRequest, NotFound, ValidationFailed
from mem0g_site.paging import PageRequest
from memories.api.common import as_bool, as_int, page_links
from memories.api.platform import EntityDeleteView
from memories.api.serializers import HistorySerializer, TraceSerializer, memories_data
from memories.inputs import Scope
from memories.models import MemoryHistory
from memories.selectors import (
    ENTITY_TYPES,
    PAGE_SIZE_MAX,
    add_event_get,
    add_event_list,
    add_event_traces,
    entity_list,
    memory_list,
    project_stats,
)


def event_data(event) -> dict:
    return {
        "id": str(event.id),
        "event_id": str(event.id),
        "status": event.status,
        "results": event.results,
        "payload": event.payload,
        "error": event.error,
        "latency": event.latency_ms,
        "created_at": event.created_at,
        "updated_at": event.updated_at,
    }


def _entity_field(entity_type: str) -> str:
    field = ENTITY_TYPES.get(entity_type)
    if field is None:
        raise InvalidRequest("Invalid entity type: use user, agent, app or run", details={"key": "entity_type"})
    return field


class EventView(Mem0View):
    """``GET /v1/event/{event_id}/``: an add request's status, results and latency."""

    required_scope = "read"
    # Polled for the outcome of queued adds, which the job workers write: read where they write, and
    # the key's next reads (on the replica) wait for what the primary held then.
    replica_methods = frozenset()
    marks_read_your_writes = True
    user_keys = True

    def get(self, request, event_id: str):
        event = add_event_get(project=request.auth.project, event_id=event_id, within=key_within(request.auth))
        traces = TraceSerializer(add_event_traces(event=event), many=True).data
        return Response({**event_data(event), "traces": traces})


class EventsView(Mem0View):
    """``GET /v1/events/``: add requests, newest first."""

    required_scope = "read"
    # Polled for the outcome of queued adds, which the job workers write: read where they write, and
    # the key's next reads (on the replica) wait for what the primary held then.
    replica_methods = frozenset()
    marks_read_your_writes = True
    user_keys = True
    query_params = frozenset({"page", "page_size"})

    def get(self, request):
        page = as_int(request.query_params.get("page"), "page", 1, minimum=1, maximum=10**9)
        page_size = as_int(request.query_params.get("page_size"), "page_size", 50, minimum=1, maximum=PAGE_SIZE_MAX)
        count, events = add_event_list(
            project=request.auth.project, within=key_within(request.auth), page=page, page_size=page_size
        )
        next_link, previous_link = page_links(request, page, page_size, count)
        return Response(
            {"count": count, "next": next_link, "previous": previous_link, "results": [event_data(e) for e in events]}
        )


class StatsView(Mem0View):
    """``GET /v1/stats/``: totals for the key's project (or user)."""

    required_scope = "read"
    user_keys = True

    def get(self, request):
        return Response(project_stats(project=request.auth.project, within=key_within(request.auth)))


class EntityView(EntityDeleteView):
    """``GET /v2/entities/{type}/{id}/``: one user, agent, app or run (``DELETE`` deletes its memories)."""

    required_scope = {"GET": "read", "DELETE": "write"}
    user_keys = True

    def get(self, request, entity_type: str, name: str):
        _entity_field(entity_type)
        for entity in entity_list(project=request.auth.project, within=key_within(request.auth)):
            if entity["type"] == entity_type and entity["name"] == name:
                return Response({"id": name, **entity})
        raise NotFound("Entity not found", details={"type": entity_type, "name": name})


class EntityFiltersView(Mem0View):
    """``GET /v1/entities/filters/``: the ids that can be used in ``filters``, by type."""

    required_scope = "read"
    user_keys = True

    def get(self, request):
        entities = entity_list(project=request.auth.project, within=key_within(request.auth))
        return Response({f"{kind}s": [e["name"] for e in entities if e["type"] == kind] for kind in ENTITY_TYPES})


class EntityMemoriesView(Mem0View):
    """``GET /v1/memories/{entity_type}/{entity_id}/?limit=&offset=``: one entity's memories, newest
    first (``/v1/memories/user/{user_id}`` is the memory-layer form of the same)."""

    required_scope = "read"
    user_keys = True
    query_params = frozenset({"limit", "offset", "show_expired"})

    def get(self, request, entity_type: str, entity_id: str):
        field = _entity_field(entity_type)
        return entity_memories_response(request, key_scope(request.auth, Scope(**{field: entity_id})))


def entity_memories_response(request, scope: Scope) -> Response:
    """One entity's memories, newest first, paged with ``limit``/``offset`` (a multiple of limit)."""
    limit = as_int(request.query_params.get("limit"), "limit", 50, minimum=1, maximum=PAGE_SIZE_MAX)
    offset = as_int(request.query_params.get("offset"), "offset", 0, minimum=0, maximum=10**9)
    if offset % limit:
        raise ValidationFailed("offset must be a multiple of limit", field="offset")
    result = memory_list(
        project=request.auth.project,
        scope=scope,
        page=offset // limit + 1,
        page_size=limit,
        include_expired=as_bool(request.query_params.get("show_expired"), "show_expired"),
    )
    items = memories_data(result.results)
    return Response({"count": result.count, "limit": limit, "offset": offset, "results": items, "memories": items})


class MemoryEventsView(Mem0View):
    """``GET /v1/memories/events/``: every ADD/UPDATE/DELETE of the project, newest first."""

    required_scope = "read"
    user_keys = True
    query_params = frozenset({"page", "page_size"})

    def get(self, request):
        page = as_int(request.query_params.get("page"), "page", 1, minimum=1, maximum=10**9)
        page_size = as_int(request.query_params.get("page_size"), "page_size", 100, minimum=1, maximum=PAGE_SIZE_MAX)
        rows = MemoryHistory.objects.filter(project=request.auth.project)
        within = key_within(request.auth)
        if within is not None:
            rows = rows.filter(user_id=within.user_id)
        found = PageRequest(page=page, page_size=page_size).cut(rows.order_by("-created_at", "-id"))
        count, items = found.count, HistorySerializer(found.results, many=True).data
        next_link, previous_link = page_links(request, page, page_size, count)
        return Response({"count": count, "next": next_link, "previous": previous_link, "results": items})
