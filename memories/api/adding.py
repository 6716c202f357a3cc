"""Adding memories from messages (Mem0 Platform ``POST /v3/memories/add/``, and the add form of
``POST /v1/memories/``): :func:`ingest` is also the MCP tool ``add_memory``."""

from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema
from rest_framework.response import Response

from accounts.access import key_scope
from mem0g_site import openapi
from mem0g_site.api import Mem0View
from mem0g_site.api_kit.contract import read
from mem0g_site.api_kit.parsing import body_of
from mem0g_site.exceptions import ValidationFailed
from memories.api import examples, responses
from memories.api.common import merged_scope
from memories.api.contract import AddRequest
from memories.api.relations import with_relations
from memories.models import AddEvent
from memories.services import add_ingest
from memories.tasks import add_event_enqueue

QUEUED_MESSAGE = "Memory processing has been queued for background execution"


def ingest(request, data: dict) -> tuple[AddEvent, dict | None]:
    """Run an add request (:func:`memories.services.add_ingest`), ``data`` read by
    :class:`~memories.api.contract.AddRequest`; returns its AddEvent (whose ``results`` are the
    per-memory events) and Mem0's ``relations`` (None unless graph processing was asked for).
    ``async_mode: true`` with ``infer`` queues it instead (a PENDING event), as Mem0 does;
    ``infer: false`` stays synchronous."""
    values = read(AddRequest, data)
    scope = key_scope(request.auth, merged_scope(data))
    add = dict(
        project=request.auth.project,
        payload={k: v for k, v in data.items() if k != "messages"},
        messages=data.get("messages"),
        scope=scope,
        infer=values["infer"],
        metadata=values["metadata"],
        categories=data.get("categories"),
        immutable=values["immutable"],
        expiration_date=values["expiration_date"],
        observed_at=values["timestamp"] or values["observation_datetime"],
        includes=data.get("includes"),
        excludes=data.get("excludes"),
        # Used by the LLM path (LLM_BASE_URL); the project's instructions when the request has none.
        prompt=values["prompt"],
        custom_instructions=values["custom_instructions"] or project_instructions(request.auth.project),
        enable_graph=values["enable_graph"],
        memory_type=values["memory_type"],
    )
    if values["infer"] and values["async_mode"]:
        return add_event_enqueue(**add), None
    outcome = add_ingest(**add)
    return outcome.event, outcome.relations


def project_instructions(project) -> str | None:
    """The project's ``custom_instructions`` option (a string, else none)."""
    value = project.options.get("custom_instructions")
    if value is not None and not isinstance(value, str):
        raise ValidationFailed("custom_instructions must be a string", field="custom_instructions")
    return value or None


def legacy_event(event: dict) -> dict:
    """Mem0's legacy event shape; an UPDATE/SUPERSEDE also carries the text it replaced."""
    data = {"memory": event["memory"]}
    if "previous_memory" in event:
        data["previous_memory"] = event["previous_memory"]
    legacy = {"id": event["id"], "event": event["event"], "data": data}
    if "supersedes" in event:
        legacy["supersedes"] = event["supersedes"]
    if event.get("pending"):
        legacy["pending"] = True
    return legacy


class AddV3View(Mem0View):
    """``POST /v3/memories/add/`` (mem0ai 2.x): ``{"results": [{"id", "memory", "event"}]}``."""

    required_scope = "write"
    user_keys = True

    @extend_schema(
        operation_id="memories_add_v3",
        summary="Add memories from messages",
        description="Extracts facts from the messages (or, with `infer: false`, stores each non-system message "
        "verbatim) and stores them in the scope of the entity ids. A fact the scope already holds is skipped. "
        "Synchronous by default: the memories are searchable when this answers. With `async_mode: true` (and "
        "`infer`) it answers at once with a PENDING event and a worker adds in the background.",
        tags=[openapi.PLATFORM],
        request=AddRequest,
        responses={
            200: PolymorphicProxySerializer(
                component_name="AddV3Response",
                serializers=[responses.AddResultsV3, responses.AddQueued],
                resource_type_field_name=None,
                many=False,
            ),
            **openapi.errors(404, 422, 503, e503=openapi.LLM_UNAVAILABLE),
        },
        examples=[
            openapi.example("Conversation", {"messages": examples.MESSAGES, "user_id": "alice"}, request=True),
            openapi.example(
                "Verbatim, in a session",
                {
                    "messages": "Alice's flight lands at 18:40",
                    "user_id": "alice",
                    "run_id": "trip-42",
                    "infer": False,
                    "metadata": {"source": "itinerary"},
                },
                request=True,
            ),
            openapi.example(
                "Added", {"results": [examples.ADD_EVENT], "event_id": examples.EVENT_ID, "status": "SUCCEEDED"}
            ),
            openapi.example("Queued (async_mode)", {"event_id": examples.EVENT_ID, "status": "PENDING"}),
        ],
    )
    def post(self, request):
        data = body_of(request)
        if "content" in data and "messages" not in data:  # a single text given as `content`: one user message
            data = {**{k: v for k, v in data.items() if k != "content"}, "messages": data["content"]}
        event, relations = ingest(request, data)
        if event.status == AddEvent.Status.PENDING:
            return Response({"event_id": str(event.id), "status": event.status})
        body = {"results": event.results, "event_id": str(event.id), "status": event.status}
        return Response(with_relations(body, relations))
