"""Searching memories (Mem0 Platform ``POST /v3|v2|v1/memories/search/``, memory layer
``GET /v1/memories/search/``): :func:`search` is also the MCP tool ``search_memories``."""

from drf_spectacular.utils import OpenApiResponse, PolymorphicProxySerializer, extend_schema, extend_schema_view
from rest_framework.response import Response

from mem0g_site import openapi
from mem0g_site.api import Mem0View
from mem0g_site.api_kit.contract import read
from mem0g_site.api_kit.parsing import as_bool, body_of
from memories.api import examples, responses
from memories.api.common import contract_scope, extra_where, pick_fields, scoped_filters
from memories.api.contract import SearchQuery, SearchRequest, search_kwargs
from memories.api.relations import search_relations
from memories.api.serializers import search_results
from memories.search import memory_search


def search(
    request, data: dict, *, require_entity: bool, default_threshold: float | None, contract=SearchRequest
) -> list[dict]:
    """A Platform (or memory-layer) search: ``data`` read by ``contract``, in the scope the top-level
    ids and ``filters`` give (``require_entity``: they must name one), narrowed to the key's user."""
    values = read(contract, data, default_threshold=default_threshold, superseded_by_default=True)
    scope, where = scoped_filters(
        request, contract_scope(values), values.get("filters", {}), require_entity=require_entity
    )
    results = memory_search(
        project=request.auth.project,
        query=values["query"],
        scope=scope,
        where=where & extra_where(data),
        top_k=values["top_k"],
        **search_kwargs(values),
    )
    return pick_fields(search_results(results, explain=values["explain"]), values.get("fields"))


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
        tags=[openapi.PLATFORM],
        request=SearchRequest,
        responses={
            200: OpenApiResponse(
                PolymorphicProxySerializer(
                    component_name="SearchResponse",
                    serializers=[responses.PickedSearchResults, responses.PickedSearchResult(many=True)],
                    resource_type_field_name=None,
                    many=False,
                ),
                description="`{results, memories}`; with `output_format: v1.0` a bare list of results.",
            ),
            **openapi.errors(404, 422),
        },
        examples=[
            openapi.example(
                "Preferences of a user",
                {"query": "Which language does Alice like?", "filters": {"user_id": "alice"}, "top_k": 5},
                request=True,
            ),
            openapi.example("Found", {"results": [examples.SCORED_MEMORY], "memories": [examples.SCORED_MEMORY]}),
        ],
    )
    def post(self, request):
        data = body_of(request)
        results = search(request, data, require_entity=self.require_entity, default_threshold=self.default_threshold)
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
        tags=[openapi.PLATFORM, openapi.MEMORY_LAYER],
        examples=[
            openapi.example(
                "Memory layer",
                {"query": "programming language preferences", "user_id": "alice", "limit": 5},
                request=True,
            ),
            openapi.example("Found", {"results": [examples.SCORED_MEMORY], "memories": [examples.SCORED_MEMORY]}),
        ],
    )
)
class SearchV1View(SearchV3View):
    """``/v1/memories/search/``: Mem0 v1 (POST, top-level ids) and the memory-layer routes (POST,
    or GET with ``query``, ``user_id``, ``limit``, ``threshold`` in the query string)."""

    default_threshold = 0.1
    require_entity = False
    query_params = {"GET": frozenset(SearchQuery().fields)}

    @extend_schema(
        operation_id="memories_search_v1_get",
        summary="Search memories (query string)",
        description="The memory-layer search with its parameters in the query string.",
        tags=[openapi.MEMORY_LAYER],
        parameters=[SearchQuery],
        responses={200: responses.SearchResults, **openapi.errors(404, 422)},
        examples=[
            openapi.example("Found", {"results": [examples.SCORED_MEMORY], "memories": [examples.SCORED_MEMORY]})
        ],
    )
    def get(self, request):
        data = dict(request.query_params.items())
        results = search(
            request, data, require_entity=False, default_threshold=self.default_threshold, contract=SearchQuery
        )
        return Response({"results": results, "memories": results})
