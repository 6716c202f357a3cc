"""Add events, the change feed and project statistics (Mem0 Platform)."""

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from accounts.access import key_within
from mem0g_site import openapi
from mem0g_site.api import Mem0View
from mem0g_site.api_kit.contract import read
from memories.api import examples, responses
from memories.api.common import page_body
from memories.api.contract import EventPageQuery, PageQuery
from memories.api.serializers import HistorySerializer, TraceSerializer
from memories.selectors import add_event_get, add_event_list, add_event_traces, memory_changes, project_stats


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


class EventView(Mem0View):
    """``GET /v1/event/{event_id}/``: an add request's status, results and latency."""

    required_scope = "read"
    # Polled for the outcome of queued adds, which the job workers write: read where they write, and
    # the key's next reads (on the replica) wait for what the primary held then.
    replica_methods = frozenset()
    marks_read_your_writes = True
    user_keys = True

    @extend_schema(
        operation_id="event_get",
        summary="Get an add event",
        description="What became of one add request: its status, results and latency, and (our extension) `traces`: "
        "per fact, the extractor, the candidates it was compared with, the decision and its reason.",
        tags=[openapi.PLATFORM],
        parameters=[openapi.path_param("event_id", "The add event's id.", examples.ADD_EVENT_RECORD["id"])],
        responses={200: responses.AddEventRecord, **openapi.errors(404, e404=("NOT_FOUND", "Event not found", None))},
        examples=[openapi.example("Succeeded", examples.ADD_EVENT_RECORD)],
    )
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
    query_params = frozenset(EventPageQuery().fields)

    @extend_schema(
        operation_id="events_list",
        summary="List add events",
        description="The add requests of the project (or of the key's user), newest first.",
        tags=[openapi.PLATFORM],
        parameters=[EventPageQuery],
        responses={200: responses.AddEventsPage, **openapi.errors(422)},
        examples=[
            openapi.example(
                "A page", {"count": 1, "next": None, "previous": None, "results": [examples.ADD_EVENT_RECORD]}
            )
        ],
    )
    def get(self, request):
        values = read(EventPageQuery, request.query_params.dict())
        page, page_size = values["page"], values["page_size"]
        count, events = add_event_list(
            project=request.auth.project, within=key_within(request.auth), page=page, page_size=page_size
        )
        results = [event_data(e) for e in events]
        return Response(page_body(request, page=page, page_size=page_size, count=count, results=results))


class StatsView(Mem0View):
    """``GET /v1/stats/``: totals for the key's project (or user)."""

    required_scope = "read"
    user_keys = True

    @extend_schema(
        operation_id="stats",
        summary="Project statistics",
        description="Totals for the key's project (or user): memories, entities by type, add events.",
        tags=[openapi.PLATFORM],
        responses={200: responses.ProjectStats, **openapi.errors()},
        examples=[
            openapi.example(
                "Totals",
                {
                    "total_memories": 14,
                    "current_memories": 12,
                    "total_users": 2,
                    "total_agents": 1,
                    "total_apps": 0,
                    "total_runs": 1,
                    "total_add_events": 5,
                },
            )
        ],
    )
    def get(self, request):
        return Response(project_stats(project=request.auth.project, within=key_within(request.auth)))


class MemoryEventsView(Mem0View):
    """``GET /v1/memories/events/``: every ADD/UPDATE/DELETE of the project, newest first."""

    required_scope = "read"
    user_keys = True
    query_params = frozenset(PageQuery().fields)

    @extend_schema(
        operation_id="memory_events",
        summary="The change feed",
        description="Every ADD, UPDATE, DELETE, ... of the project's memories (or of the key's user's), newest first.",
        tags=[openapi.PLATFORM],
        parameters=[PageQuery],
        responses={200: responses.HistoryPage, **openapi.errors(422)},
        examples=[
            openapi.example("A page", {"count": 1, "next": None, "previous": None, "results": [examples.HISTORY_ROW]})
        ],
    )
    def get(self, request):
        values = read(PageQuery, request.query_params.dict())
        page, page_size = values["page"], values["page_size"]
        count, rows = memory_changes(
            project=request.auth.project, within=key_within(request.auth), page=page, page_size=page_size
        )
        results = HistorySerializer(rows, many=True).data
        return Response(page_body(request, page=page, page_size=page_size, count=count, results=results))
