"""The Mem0 Platform dialect: the paths the official SDKs call (mem0ai 2.2.1 and the 0.1.x/1.0.x
clients), as thin translations onto memories.services and memories.selectors.

Every 2xx answer has a JSON body (the SDK parses every response), slash and no-slash paths both
work, and nothing redirects.
"""

from django.conf import settings
from django.db.models import Q
from drf_spectacular.utils import OpenApiResponse, PolymorphicProxySerializer, extend_schema, extend_schema_view
from rest_framework.response import Response

from accounts.access import key_scope, key_user, key_within
from graph.api import search_relations, with_relations
from mem0g_site.api import Mem0View
from mem0g_site.exceptions import InvalidRequest, NotFound, ValidationFailed
from mem0g_site.inputs import UNSET
from mem0g_site.paging import PageRequest
from memories.api import schema as doc
from memories.api.common import (
    ENTITY_FIELDS,
    as_bool,
    as_expiration,
    as_int,
    as_moment,
    as_object,
    body_of,
    merged_scope,
    page_links,
    pick_fields,
    query_filters,
    refuse_unknown,
    request_filters,
    top_level_scope,
)
from memories.api.searching import SEARCH_OPTION_FIELDS, include_superseded, search_options, search_results
from memories.api.serializers import (
    HistorySerializer,
    MemorySerializer,
    ScoredMemorySerializer,
    SourceSerializer,
    memories_data,
    memory_data,
)
from memories.filters import compile_filters, names_entity
from memories.inputs import NewMemory, Scope, clean_memory_type, clean_text
from memories.models import AddEvent, MemoryFeedback
from memories.search import memory_search
from memories.selectors import (
    ENTITY_TYPES,
    PAGE_SIZE_MAX,
    memories_export_slice,
    memory_export_get,
    memory_get,
    memory_history,
    memory_list,
    memory_sources,
)
from memories.services import (
    add_ingest,
    memories_delete,
    memories_delete_batch,
    memories_update_batch,
    memory_delete,
    memory_export_create,
    memory_update,
)
from memories.tasks import add_event_enqueue

ADD_FIELDS = {
    "messages",
    "content",
    "filters",
    "metadata",
    "infer",
    "custom_categories",
    "custom_instructions",
    "agent_custom_instructions",
    "timestamp",
    "expiration_date",
    "structured_data_schema",
    "includes",
    "excludes",
    "enable_graph",
    "prompt_profile_id",
    "temporal_reasoning",
    "timezone",
    "observation_datetime",
    "observation_date",
    "immutable",
    "async_mode",
    "output_format",
    "version",
    "categories",
    "prompt",
    "memory_type",
    "session_id",
    *ENTITY_FIELDS,
}
LIST_FIELDS = {
    "filters",
    "page",
    "page_size",
    "start_date",
    "end_date",
    "categories",
    "show_expired",
    "latest_only",
    "fields",
    "keywords",
    "version",
    "output_format",
    "limit",
    "as_of",
    "known_at",
    "metadata",
    "session_id",
    "include_merged",
    "include_superseded",
    *ENTITY_FIELDS,
}
SEARCH_FIELDS = {
    "query",
    "filters",
    "metadata",
    "top_k",
    "limit",
    "rerank",
    "threshold",
    "fields",
    "categories",
    "show_expired",
    "reference_date",
    "latest_only",
    "keyword_search",
    "explain",
    "as_of",
    "decay_half_life_days",
    "include_superseded",
    "include_merged",
    "include_sources",
    "output_format",
    "version",
    "filter_memories",
    "only_metadata_based_search",
    "enable_graph",
    "session_id",
    *ENTITY_FIELDS,
}


QUEUED_MESSAGE = "Memory processing has been queued for background execution"


# --- shared pieces -------------------------------------------------------------------------


def _ingest(request, data: dict) -> tuple[AddEvent, dict | None]:
    """Run an add request (:func:`memories.services.add_ingest`); returns its AddEvent (whose
    ``results`` are the per-memory events) and Mem0's ``relations`` (None unless graph processing
    was asked for). ``async_mode: true`` with ``infer`` queues it instead (a PENDING event), as Mem0
    does; ``infer: false`` stays synchronous."""
    refuse_unknown(data, ADD_FIELDS)
    scope = key_scope(request.auth, merged_scope(data))
    observed = as_moment(data.get("timestamp"), "timestamp") or as_moment(
        data.get("observation_datetime") or data.get("observation_date"), "observation_date"
    )
    infer = as_bool(data.get("infer"), "infer", default=True)
    queued = infer and as_bool(data.get("async_mode"), "async_mode", default=False)
    add = dict(
        project=request.auth.project,
        payload={k: v for k, v in data.items() if k != "messages"},
        messages=data.get("messages"),
        scope=scope,
        infer=infer,
        metadata=as_object(data.get("metadata"), "metadata"),
        categories=data.get("categories"),
        immutable=as_bool(data.get("immutable"), "immutable"),
        expiration_date=as_expiration(data.get("expiration_date")),
        observed_at=observed,
        includes=data.get("includes"),
        excludes=data.get("excludes"),
        # Used by the LLM path (LLM_BASE_URL); the project's instructions when the request has none.
        prompt=_optional_text(data, "prompt"),
        custom_instructions=_optional_text(data, "custom_instructions")
        or _optional_text(request.auth.project.options, "custom_instructions"),
        enable_graph=as_bool(data.get("enable_graph"), "enable_graph"),
        memory_type=clean_memory_type(data.get("memory_type")),
    )
    if queued:
        return add_event_enqueue(**add), None
    outcome = add_ingest(**add)
    return outcome.event, outcome.relations


def _optional_text(data: dict, field: str) -> str | None:
    value = data.get(field)
    if value is not None and not isinstance(value, str):
        raise ValidationFailed(f"{field} must be a string", field=field)
    return value or None


def _extra_where(data: dict) -> Q:
    """``categories``, ``metadata``, ``keywords``, ``start_date``/``end_date`` given beside ``filters``."""
    extra = {}
    if data.get("categories") is not None:
        extra["categories"] = {"in": data["categories"]} if isinstance(data["categories"], list) else data["categories"]
    if data.get("metadata") is not None:
        extra["metadata"] = data["metadata"]
    if data.get("keywords") is not None:
        extra["keywords"] = data["keywords"]
    start, end = data.get("start_date"), data.get("end_date")
    if start is not None or end is not None:
        extra["created_at"] = {k: v for k, v in (("gte", start), ("lte", end)) if v is not None}
    return compile_filters(extra) if extra else Q()


def _list_response(request, data: dict, *, require_entity: bool) -> Response:
    refuse_unknown(data, LIST_FIELDS)
    scope, where = request_filters(request, data, require_entity=require_entity)
    page = as_int(request.query_params.get("page", data.get("page")), "page", 1, minimum=1, maximum=10**9)
    default_size = as_int(data.get("limit"), "limit", 100, minimum=1, maximum=PAGE_SIZE_MAX)
    page_size = as_int(
        request.query_params.get("page_size", data.get("page_size")),
        "page_size",
        default_size,
        minimum=1,
        maximum=PAGE_SIZE_MAX,
    )
    result = memory_list(
        project=request.auth.project,
        scope=scope,
        where=where & _extra_where(data),
        page=page,
        page_size=page_size,
        as_of=as_moment(data.get("as_of"), "as_of"),
        known_at=as_moment(data.get("known_at"), "known_at"),
        include_expired=as_bool(data.get("show_expired"), "show_expired"),
        include_superseded=include_superseded(data, by_default=True),
    )
    items = pick_fields(memories_data(result.results), data.get("fields"))
    next_link, previous_link = page_links(request, page, page_size, result.count)
    return Response(
        {
            "count": result.count,
            "next": next_link,
            "previous": previous_link,
            "page": page,
            "page_size": page_size,
            "results": items,
            "memories": items,
        }
    )


def _search(request, data: dict, *, require_entity: bool, default_threshold: float | None) -> list[dict]:
    refuse_unknown(data, SEARCH_FIELDS)
    query = clean_text(data.get("query"), field_name="query")
    scope, where = request_filters(request, data, require_entity=require_entity)
    top_k = as_int(data.get("top_k", data.get("limit")), "top_k", 10, minimum=1, maximum=1000)
    options = search_options(data, default_threshold=default_threshold, superseded_by_default=True)
    results = memory_search(
        project=request.auth.project,
        query=query,
        scope=scope,
        where=where & _extra_where(data),
        top_k=top_k,
        **options,
    )
    return pick_fields(search_results(results, explain=options["explain"]), data.get("fields"))


# --- views ---------------------------------------------------------------------------------


class PingView(Mem0View):
    """``GET /v1/ping/``: the SDK's constructor check. ``org_id`` and ``project_id`` must be non-empty."""

    required_scope = None
    user_keys = True

    @extend_schema(
        operation_id="ping",
        summary="Check the key",
        description="What the SDK's constructor calls: the key's organisation and project.",
        tags=[doc.PLATFORM],
        responses={200: doc.PingResponse, **doc.errors()},
        examples=[
            doc.example(
                "Pong",
                {
                    "status": "ok",
                    "message": "pong",
                    "org_id": "1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9",
                    "project_id": "5d1c2b3a-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
                    "org_name": "Default",
                    "project_name": "Default",
                    "user_email": "mem0_AbCdEfG@default.mem0g",
                },
            )
        ],
    )
    def get(self, request):
        project = request.auth.project
        return Response(
            {
                "status": "ok",
                "message": "pong",
                "org_id": str(project.organization_id),
                "project_id": str(project.id),
                "org_name": project.organization.name,
                "project_name": project.name,
                "user_email": f"{request.auth.prefix}@{project.organization.slug}.mem0g",
            }
        )


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
        tags=[doc.PLATFORM],
        request=doc.AddRequest,
        responses={
            200: PolymorphicProxySerializer(
                component_name="AddV3Response",
                serializers=[doc.AddResultsV3, doc.AddQueued],
                resource_type_field_name=None,
                many=False,
            ),
            **doc.errors(404, 422, 503, e503=doc.LLM_UNAVAILABLE),
        },
        examples=[
            doc.example("Conversation", {"messages": doc.MESSAGES, "user_id": "alice"}, request=True),
            doc.example(
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
            doc.example("Added", {"results": [doc.ADD_EVENT], "event_id": doc.EVENT_ID, "status": "SUCCEEDED"}),
            doc.example("Queued (async_mode)", {"event_id": doc.EVENT_ID, "status": "PENDING"}),
        ],
    )
    def post(self, request):
        data = body_of(request)
        if "content" in data and "messages" not in data:  # a single text given as `content`: one user message
            data = {**{k: v for k, v in data.items() if k != "content"}, "messages": data["content"]}
        event, relations = _ingest(request, data)
        if event.status == AddEvent.Status.PENDING:
            return Response({"event_id": str(event.id), "status": event.status})
        body = {"results": event.results, "event_id": str(event.id), "status": event.status}
        return Response(with_relations(body, relations))


class MemoriesView(Mem0View):
    """``/v1/memories/``: list (GET), add (POST: Mem0 ``messages`` or a memory-layer ``content``),
    delete all of a scope (DELETE, ids or ``filters`` in the query string)."""

    required_scope = {"GET": "read", "POST": "write", "DELETE": "write"}
    user_keys = True
    query_params = {
        "GET": frozenset(
            {
                *ENTITY_FIELDS,
                "session_id",
                "page",
                "page_size",
                "limit",
                "show_expired",
                "filters",
                "metadata",
                "categories",
                "keywords",
                "as_of",
                "known_at",
                "latest_only",
                "include_merged",
                "include_superseded",
            }
        ),
        "DELETE": frozenset({*ENTITY_FIELDS, "session_id", "filters"}),
    }
    # What a list narrows by but a delete does not: refused on DELETE, never ignored.
    narrowing_params = {"DELETE": query_params["GET"] - query_params["DELETE"]}

    @extend_schema(
        operation_id="memories_list_v1",
        summary="List memories",
        description="The memories of a scope (or of the whole project), newest first, a page at a time.",
        tags=[doc.PLATFORM, doc.MEMORY_LAYER],
        parameters=[
            *doc.ENTITY_QUERY,
            *doc.PAGE_QUERY,
            doc.query("limit", int, "The default `page_size`."),
            doc.query("show_expired", bool, "Include expired memories."),
            doc.query("filters", description="A JSON object (or Python dict literal) in the filter grammar."),
            doc.query(
                "metadata",
                description="Accepted, but a query-string value is a string and is refused with a 400 "
                "(`'metadata' must be an object`): put metadata conditions in `filters`.",
            ),
            doc.query("categories", description="A category the memories must have."),
            doc.query("keywords", description="Text the memories must contain."),
            doc.query("as_of", description="List the memories as they were then (ISO 8601 or Unix seconds)."),
            doc.query("known_at", description="List what was on record then, retracted since or not (record time)."),
            *doc.READ_FLAG_PARAMS,
        ],
        responses={200: doc.PaginatedMemories, **doc.errors(404, 422)},
        examples=[
            doc.example(
                "A page",
                {
                    "count": 1,
                    "next": None,
                    "previous": None,
                    "page": 1,
                    "page_size": 100,
                    "results": [doc.MEMORY],
                    "memories": [doc.MEMORY],
                },
            )
        ],
    )
    def get(self, request):
        params = {k: v for k, v in request.query_params.items() if k not in ("page", "page_size")}
        for flag in ("show_expired", "latest_only", "include_merged", "include_superseded"):
            if flag in params:
                params[flag] = as_bool(params[flag], flag)
        for name in ("filters", "metadata"):
            if name in params:
                params[name] = query_filters(params[name], key=name)
        return _list_response(request, params, require_entity=False)

    @extend_schema(
        operation_id="memories_add_v1",
        summary="Add memories (Mem0) or create one memory (memory layer)",
        description="With `messages` (Mem0 v1 `add`): as `POST /v3/memories/add/`, answering `{results}` "
        "(or a legacy shape with `output_format`; Mem0's queued shape with `async_mode: true`). With `content` "
        "and no `messages` (memory layer): stores that one text verbatim and answers 201 with the memory.",
        tags=[doc.PLATFORM, doc.MEMORY_LAYER],
        request=PolymorphicProxySerializer(
            component_name="AddOrCreateRequest",
            serializers=[doc.AddRequest, doc.CreateMemoryRequest],
            resource_type_field_name=None,
            many=False,
        ),
        responses={
            200: OpenApiResponse(
                PolymorphicProxySerializer(
                    component_name="AddResponse",
                    serializers=[
                        doc.AddResults,
                        doc.LegacyAddResults,
                        doc.LegacyAddEvent(many=True),
                        doc.LegacyAddQueuedResults,
                        doc.LegacyAddQueued(many=True),
                    ],
                    resource_type_field_name=None,
                    many=False,
                ),
                description="Messages added: `{results}` of events; `output_format` `v1.1`: legacy events; "
                "`v1.0`: a bare list of legacy events. With `async_mode: true` (and `infer`): "
                "`{results: [{message, status: PENDING, event_id}]}` (a bare list for `v1.0`).",
            ),
            201: OpenApiResponse(MemorySerializer, description="One memory created from `content`."),
            **doc.errors(404, 422, 503, e503=doc.LLM_UNAVAILABLE),
        },
        examples=[
            doc.example("Mem0 add", {"messages": doc.MESSAGES, "user_id": "alice"}, request=True),
            doc.example(
                "Memory layer create",
                {
                    "content": "Prefers Python for scripting",
                    "user_id": "alice",
                    "metadata": {"category": "language_preference"},
                },
                request=True,
            ),
            doc.example("Added", {"results": [doc.ADD_EVENT]}, status=200),
            doc.example(
                "Added (v1.1)",
                {"results": [{"id": doc.MEMORY_ID, "event": "ADD", "data": {"memory": doc.ADD_EVENT["memory"]}}]},
                status=200,
            ),
            doc.example("Created", doc.MEMORY, status=201),
        ],
    )
    def post(self, request):
        data = body_of(request)
        if "content" in data and "messages" not in data:
            return self._create_one(request, data)
        event, relations = _ingest(request, data)
        events = event.results
        if event.status == AddEvent.Status.PENDING:
            # Mem0's queued answer to the 0.1.x/1.0.x clients (1.0.x sends async_mode: true by default).
            events = [{"message": QUEUED_MESSAGE, "status": event.status, "event_id": str(event.id)}]
            return Response(events if data.get("output_format") == "v1.0" else {"results": events})
        output_format = data.get("output_format")
        if output_format == "v1.0":
            return Response([_legacy_event(event) for event in events])
        if output_format == "v1.1":
            return Response(with_relations({"results": [_legacy_event(e) for e in events]}, relations))
        return Response(with_relations({"results": events}, relations))

    def _create_one(self, request, data):
        refuse_unknown(data, ADD_FIELDS)
        outcome = add_ingest(
            project=request.auth.project,
            payload={k: v for k, v in data.items() if k != "content"},
            enable_graph=as_bool(data.get("enable_graph"), "enable_graph"),
            items=[
                NewMemory(
                    text=data.get("content"),
                    scope=key_scope(request.auth, top_level_scope(data)),
                    metadata=as_object(data.get("metadata"), "metadata"),
                    categories=data.get("categories"),
                    immutable=as_bool(data.get("immutable"), "immutable"),
                    expiration_date=as_expiration(data.get("expiration_date")),
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
        tags=[doc.PLATFORM],
        parameters=[
            *doc.ENTITY_QUERY,
            doc.query("filters", description="A JSON object (or Python dict literal); only its entity ids count."),
        ],
        responses={200: doc.DeletedResponse, **doc.errors(404, 422)},
        examples=[doc.example("Deleted", {"message": "Memories deleted successfully!", "deleted": 12})],
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


def _legacy_event(event: dict) -> dict:
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


LIST_EXAMPLES = [
    doc.example(
        "One user's preferences",
        {"filters": {"AND": [{"user_id": "alice"}, {"categories": {"in": ["preferences"]}}]}, "page_size": 50},
        request=True,
    ),
    doc.example(
        "A page",
        {
            "count": 1,
            "next": None,
            "previous": None,
            "page": 1,
            "page_size": 50,
            "results": [doc.MEMORY],
            "memories": [doc.MEMORY],
        },
    ),
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
        tags=[doc.PLATFORM],
        parameters=doc.PAGE_QUERY,
        request=doc.ListRequest,
        responses={200: doc.PaginatedMemories, **doc.errors(404, 422)},
        examples=LIST_EXAMPLES,
    )
    def post(self, request):
        return _list_response(request, body_of(request), require_entity=True)


@extend_schema_view(
    post=extend_schema(
        operation_id="memories_list_v2",
        summary="List memories (get_all, v2)",
        description="As `POST /v3/memories/`, for the 1.0.x clients: top-level ids or `filters`.",
    )
)
class ListV2View(ListV3View):
    """``POST /v2/memories/`` (1.0.x ``get_all``): top-level ids or ``filters``."""


class SearchV3View(Mem0View):
    """``POST /v3/memories/search/``: ``{"results": [memory + score]}``; threshold 0.1 by default."""

    required_scope = "read"
    replica_methods = frozenset({"GET", "POST"})  # only reads
    user_keys = True
    default_threshold = 0.1
    require_entity = True

    @extend_schema(
        operation_id="memories_search_v3",
        summary="Search memories",
        description="Semantic search in the memories matching `filters` (which must name a user, agent, app or "
        "run, or a top-level id must), best first, scores at or above `threshold` (default 0.1).",
        tags=[doc.PLATFORM],
        request=doc.SearchRequest,
        responses={
            200: OpenApiResponse(
                PolymorphicProxySerializer(
                    component_name="SearchResponse",
                    serializers=[doc.SearchResults, ScoredMemorySerializer(many=True)],
                    resource_type_field_name=None,
                    many=False,
                ),
                description="`{results, memories}`; with `output_format: v1.0` a bare list of results.",
            ),
            **doc.errors(404, 422),
        },
        examples=[
            doc.example(
                "Preferences of a user",
                {"query": "Which language does Alice like?", "filters": {"user_id": "alice"}, "top_k": 5},
                request=True,
            ),
            doc.example("Found", {"results": [doc.SCORED_MEMORY], "memories": [doc.SCORED_MEMORY]}),
        ],
    )
    def post(self, request):
        data = body_of(request)
        results = _search(request, data, require_entity=self.require_entity, default_threshold=self.default_threshold)
        if data.get("output_format") == "v1.0":
            return Response(results)
        body = {"results": results, "memories": results}
        if as_bool(data.get("enable_graph"), "enable_graph"):
            body["relations"] = search_relations(request, data)
        return Response(body)


@extend_schema_view(
    post=extend_schema(
        operation_id="memories_search_v2",
        summary="Search memories (v2)",
        description="As `POST /v3/memories/search/`, for the 1.0.x clients; the default `threshold` is 0.3.",
    )
)
class SearchV2View(SearchV3View):
    default_threshold = 0.3


@extend_schema_view(
    post=extend_schema(
        operation_id="memories_search_v1",
        summary="Search memories (v1, memory layer)",
        description="As `POST /v3/memories/search/`, but the scope may be given by top-level ids alone or not at "
        "all (the whole project).",
        tags=[doc.PLATFORM, doc.MEMORY_LAYER],
        examples=[
            doc.example(
                "Memory layer",
                {"query": "programming language preferences", "user_id": "alice", "limit": 5},
                request=True,
            ),
            doc.example("Found", {"results": [doc.SCORED_MEMORY], "memories": [doc.SCORED_MEMORY]}),
        ],
    )
)
class SearchV1View(SearchV3View):
    """``/v1/memories/search/``: Mem0 v1 (POST, top-level ids) and the memory-layer routes (POST,
    or GET with ``query``, ``user_id``, ``limit``, ``threshold`` in the query string)."""

    default_threshold = 0.1
    require_entity = False
    query_params = {"GET": frozenset({"query", *ENTITY_FIELDS, "session_id", "limit", "top_k", *SEARCH_OPTION_FIELDS})}

    @extend_schema(
        operation_id="memories_search_v1_get",
        summary="Search memories (query string)",
        description="The memory-layer search with its parameters in the query string.",
        tags=[doc.MEMORY_LAYER],
        parameters=[
            doc.query("query", description="What to look for.", required=True),
            *doc.ENTITY_QUERY,
            doc.query("limit", int, "How many results, 1 to 1000 (default 10)."),
            doc.query("top_k", int, "An alias of `limit` (wins over it)."),
            *doc.search_option_params(default_threshold=0.1),
        ],
        responses={200: doc.SearchResults, **doc.errors(404, 422)},
        examples=[doc.example("Found", {"results": [doc.SCORED_MEMORY], "memories": [doc.SCORED_MEMORY]})],
    )
    def get(self, request):
        data = dict(request.query_params.items())
        results = _search(request, data, require_entity=False, default_threshold=self.default_threshold)
        return Response({"results": results, "memories": results})


class UserMemoriesListView(Mem0View):
    """``GET /v1/memories/user/{user_id}?limit=&offset=`` (memory-layer routes)."""

    required_scope = "read"
    user_keys = True
    query_params = frozenset({"limit", "offset", "show_expired"})

    @extend_schema(
        operation_id="memories_of_user",
        summary="List a user's memories",
        description="A user's memories, newest first, `limit` at a time from `offset`.",
        tags=[doc.MEMORY_LAYER],
        parameters=[
            doc.USER_ID_PARAM,
            doc.query("limit", int, "1 to 200 (default 50)."),
            doc.query("offset", int, "A multiple of `limit` (default 0)."),
            doc.query("show_expired", bool, "Include expired memories."),
        ],
        responses={200: doc.UserMemoriesPage, **doc.errors(404, 422, e404=doc.USER_NOT_FOUND)},
        examples=[
            doc.example(
                "A page",
                {"count": 1, "limit": 50, "offset": 0, "results": [doc.MEMORY], "memories": [doc.MEMORY]},
            )
        ],
    )
    def get(self, request, user_id: str):
        from memories.api.events import entity_memories_response

        return entity_memories_response(request, Scope(user_id=key_user(request.auth, user_id)))


class MemoryDetailView(Mem0View):
    """``/v1/memories/{id}/``: get, update (``text`` or ``content``, ``metadata``,
    ``expiration_date``, ``timestamp``), delete."""

    required_scope = {"GET": "read", "PUT": "write", "PATCH": "write", "DELETE": "write"}
    user_keys = True
    query_params = {"DELETE": frozenset({"delete_linked"})}

    @extend_schema(
        operation_id="memory_get",
        summary="Get a memory",
        description="The memory, and (our extension) `sources`: the messages it came from, oldest first.",
        tags=[doc.PLATFORM, doc.MEMORY_LAYER],
        parameters=[doc.MEMORY_ID_PARAM],
        responses={200: doc.MemoryWithSources, **doc.errors(404)},
        examples=[doc.example("A memory", {**doc.MEMORY, "sources": [doc.SOURCE]})],
    )
    def get(self, request, memory_id: str):
        memory = memory_get(project=request.auth.project, memory_id=memory_id, within=key_within(request.auth))
        return Response(
            {**memory_data(memory), "sources": SourceSerializer(memory_sources(memory=memory), many=True).data}
        )

    @extend_schema(
        methods=["PUT"],
        operation_id="memory_update",
        summary="Update a memory",
        description="Changes what is given: the text (`text`, else `content`), `metadata` (replaced), "
        "`categories`, `expiration_date`, `timestamp` (ISO 8601 or Unix seconds: when the fact started to hold, "
        "the memory's `valid_from`). The previous state stays in the memory's history.",
        tags=[doc.PLATFORM, doc.MEMORY_LAYER],
        parameters=[doc.MEMORY_ID_PARAM],
        request=doc.UpdateRequest,
        responses={200: MemorySerializer, **doc.errors(404, 409, 422)},
        examples=[
            doc.example(
                "New text and metadata",
                {"text": "Prefers Python and Go for scripting", "metadata": {"category": "edited"}},
                request=True,
            ),
            doc.example(
                "Updated",
                {
                    **doc.MEMORY,
                    "memory": "Prefers Python and Go for scripting",
                    "content": "Prefers Python and Go for scripting",
                    "metadata": {"category": "edited"},
                    "updated_at": doc.UPDATED,
                },
            ),
        ],
    )
    @extend_schema(
        methods=["PATCH"],
        operation_id="memory_partial_update",
        summary="Update a memory (PATCH)",
        description="The same as `PUT`: only what is given changes.",
        tags=[doc.PLATFORM],
        parameters=[doc.MEMORY_ID_PARAM],
        request=doc.UpdateRequest,
        responses={200: MemorySerializer, **doc.errors(404, 409, 422)},
        examples=[
            doc.example("New expiration", {"expiration_date": "2026-12-31"}, request=True),
            doc.example("Updated", {**doc.MEMORY, "expiration_date": "2026-12-31", "updated_at": doc.UPDATED}),
        ],
    )
    def put(self, request, memory_id: str):
        data = body_of(request)
        refuse_unknown(data, {"text", "content", "metadata", "timestamp", "expiration_date", "categories"})
        text = data.get("text", data.get("content", UNSET))
        memory = memory_update(
            project=request.auth.project,
            memory_id=memory_id,
            text=UNSET if text is None else text,
            metadata=as_object(data["metadata"], "metadata") if data.get("metadata") is not None else UNSET,
            categories=data["categories"] if "categories" in data else UNSET,
            expiration_date=as_expiration(data["expiration_date"]) if "expiration_date" in data else UNSET,
            valid_from=as_moment(data["timestamp"], "timestamp") if data.get("timestamp") is not None else UNSET,
            within=key_within(request.auth),
        )
        return Response(memory_data(memory))

    patch = put

    @extend_schema(
        operation_id="memory_delete",
        summary="Delete a memory",
        description="The memory's history is kept.",
        tags=[doc.PLATFORM, doc.MEMORY_LAYER],
        parameters=[
            doc.MEMORY_ID_PARAM,
            doc.query(
                "delete_linked",
                bool,
                "Also delete the older memories this one superseded, transitively (its `supersedes` chain), so "
                "they are not shown again as superseded facts; the answer then counts them in `cascade_count`.",
            ),
        ],
        responses={200: doc.MemoryDeletedResponse, **doc.errors(404, 409, 422)},
        examples=[
            doc.example("Deleted", {"message": "Memory deleted successfully!"}),
            doc.example("With its chain", {"message": "Memory deleted successfully!", "cascade_count": 2}),
        ],
    )
    def delete(self, request, memory_id: str):
        linked = as_bool(request.query_params.get("delete_linked"), "delete_linked")
        cascaded = memory_delete(
            project=request.auth.project, memory_id=memory_id, within=key_within(request.auth), delete_linked=linked
        )
        body = {"message": "Memory deleted successfully!"}
        return Response({**body, "cascade_count": cascaded} if linked else body)


class HistoryView(Mem0View):
    """``GET /v1/memories/{id}/history/``: a JSON list, oldest first."""

    required_scope = "read"
    user_keys = True

    @extend_schema(
        operation_id="memory_history",
        summary="A memory's history",
        description="Every change of the memory (ADD, UPDATE, SUPERSEDE, DELETE, ...), oldest first.",
        tags=[doc.PLATFORM],
        parameters=[doc.MEMORY_ID_PARAM],
        responses={200: HistorySerializer(many=True), **doc.errors(404)},
        examples=[doc.example("Added once", [doc.HISTORY_ROW])],
    )
    def get(self, request, memory_id: str):
        rows = memory_history(project=request.auth.project, memory_id=memory_id, within=key_within(request.auth))
        return Response(HistorySerializer(rows, many=True).data)


class EntitiesView(Mem0View):
    """``GET /v1/entities/``: every user/agent/app/run with memories; ``name`` is the id itself."""

    required_scope = "read"
    user_keys = True
    query_params = frozenset({"page", "page_size"})

    @extend_schema(
        operation_id="entities_list",
        summary="List entities",
        description="Every user, agent, app and run id that has memories, or was created with `POST /v1/users/` "
        "(`/v1/agents/`, ...) and has none yet (0 memories), with counts and first/last activity; by type, then "
        "id. Paged with `page` and `page_size` (default 100, at most 200); the `total_*` counts cover every page.",
        tags=[doc.PLATFORM],
        parameters=[
            doc.query("page", int, "Page number, from 1."),
            doc.query("page_size", int, "Entities per page, 1 to 200 (default 100)."),
        ],
        responses={200: doc.Entities, **doc.errors()},
        examples=[
            doc.example(
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
                            "created_at": doc.CREATED,
                            "updated_at": doc.UPDATED,
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
        from accounts.selectors import entity_list_with_registered

        page = as_int(request.query_params.get("page"), "page", 1, minimum=1, maximum=10**9)
        page_size = as_int(request.query_params.get("page_size"), "page_size", 100, minimum=1, maximum=PAGE_SIZE_MAX)
        entities = entity_list_with_registered(project=request.auth.project, within_user=request.auth.user_id)
        totals = {f"total_{kind}s": sum(1 for e in entities if e["type"] == kind) for kind in ENTITY_TYPES}
        found = PageRequest(page=page, page_size=page_size).cut(entities)
        count, entities = found.count, found.results
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
        next_link, previous_link = page_links(request, page, page_size, count)
        return Response({"count": count, "next": next_link, "previous": previous_link, "results": results, **totals})


class EntityDeleteView(Mem0View):
    """``DELETE /v2/entities/{type}/{name}/`` (and the v1 path the TypeScript SDK uses)."""

    required_scope = "write"
    user_keys = True

    @extend_schema(
        operation_id="entity_delete",
        summary="Delete an entity's memories",
        description="Deletes every memory of a user, agent, app or run (history is kept). `v1` is the path of the "
        "TypeScript SDK, `v2` that of the Python SDK.",
        tags=[doc.PLATFORM],
        parameters=[doc.ENTITY_TYPE_PARAM, doc.path_param("name", "The entity id.", "alice")],
        responses={
            200: doc.DeletedResponse,
            **doc.errors(404, e404=("NOT_FOUND", "Entity not found", {"type": "user", "name": "bob"})),
        },
        examples=[doc.example("Deleted", {"message": "Entity deleted successfully.", "deleted": 12})],
    )
    def delete(self, request, entity_type: str, name: str):
        deleted = entity_delete(request.auth, entity_type, name)
        return Response({"message": "Entity deleted successfully.", "deleted": deleted})


def entity_delete(api_key, entity_type: str, name: str) -> int:
    """Delete every memory of one user, agent, app or run and forget its registration; how many
    memories went. Also the MCP tool ``delete_entities``."""
    field = ENTITY_TYPES.get(entity_type)
    if field is None:
        raise InvalidRequest("Invalid entity type: use user, agent, app or run", details={"key": "entity_type"})
    from accounts.services import entity_forget

    scope = key_scope(api_key, Scope(**{field: name}))
    deleted = memories_delete(project=api_key.project, scope=scope)
    # A user-restricted key may forget only its own user's registration.
    reachable = api_key.user_id is None or (field == "user_id" and scope.user_id == name)
    forgotten = entity_forget(project=api_key.project, entity_type=entity_type, name=name) if reachable else 0
    if not deleted and not forgotten:
        raise NotFound("Entity not found", details={"type": entity_type, "name": name})
    return deleted


class BatchView(Mem0View):
    """``PUT /v1/batch/`` and ``DELETE /v1/batch/`` (JSON body): up to 1000 memories, all or nothing."""

    required_scope = "write"
    user_keys = True

    def _items(self, request) -> list[dict]:
        data = body_of(request)
        refuse_unknown(data, {"memories"})
        items = data.get("memories")
        if not isinstance(items, list) or not items:
            raise ValidationFailed("memories must be a non-empty list", field="memories")
        if len(items) > 1000:
            raise ValidationFailed("Maximum of 1000 memories per batch", field="memories")
        if not all(isinstance(item, dict) and item.get("memory_id") for item in items):
            raise ValidationFailed("every item needs a memory_id", field="memories")
        return items

    @extend_schema(
        operation_id="memories_batch_update",
        summary="Update memories in a batch",
        description="Up to 1000 memories, each with its new `text` and/or `metadata`; all or nothing.",
        tags=[doc.PLATFORM],
        request=doc.BatchRequest,
        responses={200: doc.MessageResponse, **doc.errors(404, 409, 422)},
        examples=[
            doc.example(
                "Two updates",
                {
                    "memories": [
                        {"memory_id": doc.MEMORY_ID, "text": "Prefers Python and Go for scripting"},
                        {"memory_id": doc.OTHER_MEMORY_ID, "metadata": {"reviewed": True}},
                    ]
                },
                request=True,
            ),
            doc.example("Updated", {"message": "Successfully updated 2 memories"}),
        ],
    )
    def put(self, request):
        items = self._items(request)
        memories_update_batch(project=request.auth.project, items=items, within=key_within(request.auth))
        return Response({"message": f"Successfully updated {len(items)} memories"})

    @extend_schema(
        operation_id="memories_batch_delete",
        summary="Delete memories in a batch",
        description="Up to 1000 memories by id, given in a JSON body; all or nothing.",
        tags=[doc.PLATFORM],
        request=doc.BatchRequest,
        responses={200: doc.MessageResponse, **doc.errors(404, 409, 422)},
        examples=[
            doc.example(
                "Two ids",
                {"memories": [{"memory_id": doc.MEMORY_ID}, {"memory_id": doc.OTHER_MEMORY_ID}]},
                request=True,
            ),
            doc.example("Deleted", {"message": "Successfully deleted 2 memories"}),
        ],
    )
    def delete(self, request):
        items = self._items(request)
        memories_delete_batch(
            project=request.auth.project,
            memory_ids=[item["memory_id"] for item in items],
            within=key_within(request.auth),
        )
        return Response({"message": f"Successfully deleted {len(items)} memories"})


class FeedbackView(Mem0View):
    """``POST /v1/feedback/``: stored against the memory for curation."""

    required_scope = "write"
    user_keys = True

    @extend_schema(
        operation_id="feedback_create",
        summary="Give feedback on a memory",
        tags=[doc.PLATFORM],
        request=doc.FeedbackRequest,
        responses={200: doc.FeedbackResponse, **doc.errors(404, 422)},
        examples=[
            doc.example(
                "Negative",
                {"memory_id": doc.MEMORY_ID, "feedback": "NEGATIVE", "feedback_reason": "Outdated"},
                request=True,
            ),
            doc.example(
                "Stored",
                {
                    "id": "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d",
                    "memory_id": doc.MEMORY_ID,
                    "feedback": "NEGATIVE",
                    "feedback_reason": "Outdated",
                },
            ),
        ],
    )
    def post(self, request):
        data = body_of(request)
        refuse_unknown(data, {"memory_id", "feedback", "feedback_reason"})
        memory = memory_get(
            project=request.auth.project, memory_id=data.get("memory_id"), within=key_within(request.auth)
        )
        feedback = data.get("feedback")
        if feedback is not None and feedback not in MemoryFeedback.Kind.values:
            raise ValidationFailed("feedback must be POSITIVE, NEGATIVE, VERY_NEGATIVE or null", field="feedback")
        reason = data.get("feedback_reason")
        if reason is not None and not isinstance(reason, str):
            raise ValidationFailed("feedback_reason must be a string", field="feedback_reason")
        row = MemoryFeedback.objects.create(
            project=request.auth.project, memory_id=memory.id, feedback=feedback, feedback_reason=reason
        )
        return Response(
            {"id": str(row.id), "memory_id": str(memory.id), "feedback": feedback, "feedback_reason": reason}
        )


def _shape(items: list[dict], schema: dict) -> list[dict]:
    """Keep the properties a JSON schema asks for (all of them when it names none)."""
    properties = schema.get("properties") if isinstance(schema, dict) else None
    if isinstance(properties, dict) and isinstance(properties.get("memories"), dict):
        properties = properties["memories"].get("items", {}).get("properties")
    if not isinstance(properties, dict) or not properties:
        return items
    return [{key: item.get(key) for key in properties} for item in items]


class ExportsView(Mem0View):
    """``POST /v1/exports/``: snapshot the memories matching ``filters`` in the shape of ``schema``."""

    required_scope = "read"
    user_keys = True

    @extend_schema(
        operation_id="export_create",
        summary="Export memories",
        description="Snapshots the current memories matching `filters`, oldest first, keeping the properties "
        "`schema` names. The export is ready when this answers. One export holds at most `EXPORT_MAX_ROWS` "
        "memories (default 5,000): when more match, `next_cursor` is set, and the same request with "
        "`cursor: <next_cursor>` exports the next ones (repeat until `next_cursor` is null). A key restricted "
        "to one user exports that user's memories only, whatever `filters` say.",
        tags=[doc.PLATFORM],
        request=doc.ExportRequest,
        responses={201: doc.ExportCreated, **doc.errors(404, 422)},
        examples=[
            doc.example(
                "Texts of a user",
                {
                    "schema": {
                        "type": "object",
                        "properties": {"id": {"type": "string"}, "memory": {"type": "string"}},
                    },
                    "filters": {"user_id": "alice"},
                },
                request=True,
            ),
            doc.example(
                "Ready",
                {
                    "message": "Memory export request received. The export is ready.",
                    "id": "2d3e4f5a-6b7c-4d8e-9f0a-1b2c3d4e5f6a",
                    "count": 1,
                    "next_cursor": None,
                },
                status=201,
            ),
        ],
    )
    def post(self, request):
        data = body_of(request)
        refuse_unknown(data, {"schema", "filters", "export_instructions", "cursor"})
        schema = data.get("schema") or {}
        if isinstance(schema, str):
            import json

            try:
                schema = json.loads(schema)
            except ValueError:
                raise ValidationFailed("schema must be a JSON schema object", field="schema") from None
        filters = as_object(data.get("filters"), "filters") or {}
        # A restricted key exports its own user's memories only, whatever the filters say.
        scope, where = request_filters(request, {"filters": filters}, require_entity=False)
        rows, next_cursor = memories_export_slice(
            project=request.auth.project,
            scope=scope,
            where=where,
            cursor=data.get("cursor"),
            limit=settings.EXPORT_MAX_ROWS,
        )
        results = _shape(memories_data(rows), schema)
        export = memory_export_create(
            project=request.auth.project,
            schema=schema,
            filters=filters,
            results=results,
            user_id=request.auth.user_id,
            next_cursor=next_cursor,
        )
        return Response(
            {
                "message": "Memory export request received. The export is ready.",
                "id": str(export.id),
                "count": len(results),
                "next_cursor": next_cursor,
            },
            status=201,
        )


class ExportGetView(Mem0View):
    """``POST /v1/exports/get/``: an export by ``memory_export_id``, or the latest for ``filters``."""

    required_scope = "read"
    user_keys = True

    @extend_schema(
        operation_id="export_get",
        summary="Get an export",
        description="An export by `memory_export_id`, or the latest one made with exactly these `filters`. A key "
        "restricted to one user finds only the exports made with a key of that user (any other is a 404).",
        tags=[doc.PLATFORM],
        request=doc.ExportGetRequest,
        responses={
            200: doc.ExportResponse,
            **doc.errors(404, 422, e404=("NOT_FOUND", "Export not found", None)),
        },
        examples=[
            doc.example("By id", {"memory_export_id": "2d3e4f5a-6b7c-4d8e-9f0a-1b2c3d4e5f6a"}, request=True),
            doc.example(
                "Export",
                {
                    "id": "2d3e4f5a-6b7c-4d8e-9f0a-1b2c3d4e5f6a",
                    "status": "COMPLETED",
                    "created_at": doc.UPDATED,
                    "schema": {
                        "type": "object",
                        "properties": {"id": {"type": "string"}, "memory": {"type": "string"}},
                    },
                    "filters": {"user_id": "alice"},
                    "count": 1,
                    "next_cursor": None,
                    "results": [{"id": doc.MEMORY_ID, "memory": "Prefers Python for scripting"}],
                    "memories": [{"id": doc.MEMORY_ID, "memory": "Prefers Python for scripting"}],
                },
            ),
        ],
    )
    def post(self, request):
        data = body_of(request)
        refuse_unknown(data, {"memory_export_id", "filters"})
        export = memory_export_get(
            project=request.auth.project,
            export_id=data.get("memory_export_id") or None,
            filters=as_object(data.get("filters"), "filters") or {},
            within_user=request.auth.user_id,
        )
        return Response(
            {
                "id": str(export.id),
                "status": "COMPLETED",
                "created_at": export.created_at,
                "schema": export.schema,
                "filters": export.filters,
                "count": len(export.results),
                "next_cursor": export.next_cursor,
                "results": export.results,
                "memories": export.results,
            }
        )


class SummaryView(Mem0View):
    """``POST /v1/summary/``: a deterministic digest of the memories matching ``filters``."""

    required_scope = "read"
    replica_methods = frozenset({"GET", "POST"})  # only reads
    user_keys = True

    @extend_schema(
        operation_id="memories_summary",
        summary="Summarize memories",
        description="A deterministic digest (no LLM) of the current memories matching `filters`: counts, "
        "categories and the 10 newest.",
        tags=[doc.PLATFORM],
        request=doc.SummaryRequest,
        responses={200: doc.SummaryResponse, **doc.errors(404, 422)},
        examples=[
            doc.example("A user", {"filters": {"user_id": "alice"}}, request=True),
            doc.example(
                "Digest",
                {
                    "summary": "1 memories across 1 categories.\n- Prefers Python for scripting",
                    "total_memories": 1,
                    "categories": {"preferences": 1},
                    "recent": [
                        {"id": doc.MEMORY_ID, "memory": "Prefers Python for scripting", "created_at": doc.CREATED}
                    ],
                },
            ),
        ],
    )
    def post(self, request):
        from memories.selectors import memory_summary

        data = body_of(request)
        refuse_unknown(data, {"filters"})
        scope, where = request_filters(
            request, {"filters": as_object(data.get("filters"), "filters") or {}}, require_entity=False
        )
        return Response(memory_summary(project=request.auth.project, scope=scope, where=where))


PROJECT_EXAMPLE = {
    "id": "5d1c2b3a-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
    "project_id": "5d1c2b3a-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
    "org_id": "1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9",
    "name": "Default",
    "created_at": doc.CREATED,
}


class ProjectView(Mem0View):
    """``GET``/``PATCH /api/v1/orgs/organizations/{org}/projects/{project}/``: the key's own project."""

    required_scope = {"GET": "read", "PATCH": "admin"}
    query_params = {"GET": frozenset({"fields"})}
    OPTIONS = {
        "custom_instructions",
        "custom_categories",
        "memory_depth",
        "usecase_setting",
        "multilingual",
        "agent_custom_instructions",
        "review_mode",
    }

    def _project(self, request, org_id: str, project_id: str):
        project = request.auth.project
        if org_id != str(project.organization_id) or project_id != str(project.id):
            raise NotFound("Project not found")
        return project

    def _data(self, project) -> dict:
        return {
            "id": str(project.id),
            "project_id": str(project.id),
            "org_id": str(project.organization_id),
            "name": project.name,
            "created_at": project.created_at,
            **project.options,
        }

    @extend_schema(
        operation_id="project_get",
        summary="Get the key's project",
        description="The project's id, name and Mem0 options. Any other organisation or project is a 404.",
        tags=[doc.PLATFORM],
        parameters=[
            doc.path_param("org_id", "The key's organisation id.", PROJECT_EXAMPLE["org_id"]),
            doc.path_param("project_id", "The key's project id.", PROJECT_EXAMPLE["project_id"]),
            doc.query("fields", description="Only these keys (and `id`): `a,b` or `['a', 'b']`."),
        ],
        responses={200: doc.ProjectResponse, **doc.errors(404, e404=("NOT_FOUND", "Project not found", None))},
        examples=[doc.example("Project", PROJECT_EXAMPLE)],
    )
    def get(self, request, org_id: str, project_id: str):
        data = self._data(self._project(request, org_id, project_id))
        fields = request.query_params.get("fields")
        if fields:
            wanted = {f.strip() for f in fields.strip("[]").replace("'", "").replace('"', "").split(",")}
            data = {k: v for k, v in data.items() if k in wanted or k == "id"}
        return Response(data)

    @extend_schema(
        operation_id="project_update",
        summary="Update the project's options",
        description="Sets Mem0 project options (what the SDK's `project.update()` sends); `null` removes one.",
        tags=[doc.PLATFORM],
        parameters=[
            doc.path_param("org_id", "The key's organisation id.", PROJECT_EXAMPLE["org_id"]),
            doc.path_param("project_id", "The key's project id.", PROJECT_EXAMPLE["project_id"]),
        ],
        request=doc.ProjectUpdateRequest,
        responses={
            200: doc.ProjectUpdated,
            **doc.errors(404, 422, e404=("NOT_FOUND", "Project not found", None)),
        },
        examples=[
            doc.example("Instructions", {"custom_instructions": "Remember food preferences only."}, request=True),
            doc.example(
                "Updated",
                {
                    "message": "Updated project settings",
                    **PROJECT_EXAMPLE,
                    "custom_instructions": "Remember food preferences only.",
                },
            ),
        ],
    )
    def patch(self, request, org_id: str, project_id: str):
        from accounts.services import project_update_options

        project = self._project(request, org_id, project_id)
        data = body_of(request)
        refuse_unknown(data, self.OPTIONS)
        options = {name: value for name, value in data.items() if name in self.OPTIONS}
        project = project_update_options(project=project, options=options)
        return Response({"message": "Updated project settings", **self._data(project)})
