"""``GET /v1/sources/``: the messages adds received (our extension), listed or searched per scope."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response

from accounts.access import key_scope
from mem0g_site import openapi
from mem0g_site.api import ApiView
from mem0g_site.api_kit.parsing import as_int
from memories.api import examples
from memories.api.common import ENTITY_FIELDS, page_body, top_level_scope
from memories.api.serializers import ListedSourceSerializer, ScoredSourceSerializer
from memories.inputs import clean_text
from memories.search import source_list
from memories.selectors import PAGE_SIZE_MAX

SOURCE_EXAMPLE = {
    "id": "0b7f9a52-3c1e-4d8a-9f60-2a4b5c6d7e8f",
    "role": "user",
    "name": "Caroline",
    "content": "I moved to Berlin last month, the flat is lovely.",
    "observed_at": "2023-05-08T13:56:00Z",
    "user_id": "caroline",
    "agent_id": None,
    "app_id": None,
    "run_id": None,
    "metadata": {"session": 3},
    "event_id": "5e0c1d2b-8a7f-4c3e-9d6b-1a2b3c4d5e6f",
    "memory_ids": [examples.MEMORY_ID],
    "created_at": "2023-05-08T13:56:01Z",
}


class SourceResult(ListedSourceSerializer):
    """A listed source; with ``query``, its ``score`` too."""

    score = serializers.FloatField(required=False, help_text="With `query`: how well it matched.")


class SourcesView(ApiView):
    required_scope = "read"
    user_keys = True
    query_params = frozenset({*ENTITY_FIELDS, "session_id", "query", "page", "page_size"})

    @extend_schema(
        operation_id="sources_list",
        summary="List or search the messages adds received",
        description="Every message an add received is kept as a source (role, speaker's `name`, words, "
        "observation time, add event, the add's metadata), with the memories that came from it (`memory_ids`; "
        "empty when it gave no fact). Without `query`: newest first. With `query`: best first (the hybrid "
        "ranking memory search uses), each with `score`, at most 1000 ranked. A key restricted to a user sees "
        "only that user's sources; asking for another user is a 404.",
        tags=[openapi.OPERATIONS],
        parameters=[
            *examples.ENTITY_QUERY,
            openapi.query("query", description="Words to look for (ranked by meaning and by the words themselves)."),
            openapi.query("page", int, "Page number, from 1."),
            openapi.query("page_size", int, "Sources per page, 1 to 200 (default 50)."),
        ],
        responses={
            200: inline_serializer(
                "SourcePage",
                {
                    "count": serializers.IntegerField(),
                    "next": serializers.URLField(allow_null=True),
                    "previous": serializers.URLField(allow_null=True),
                    "results": SourceResult(many=True),
                },
            ),
            **openapi.errors(404, 422, e404=openapi.USER_NOT_FOUND),
        },
        examples=[openapi.example("A page", {"count": 1, "next": None, "previous": None, "results": [SOURCE_EXAMPLE]})],
    )
    def get(self, request):
        params = request.query_params
        scope = key_scope(request.auth, top_level_scope(params))
        query = clean_text(params["query"], field_name="query") if "query" in params else None
        page = as_int(params.get("page"), "page", 1, minimum=1, maximum=10**9)
        page_size = as_int(params.get("page_size"), "page_size", 50, minimum=1, maximum=PAGE_SIZE_MAX)
        count, rows = source_list(
            project=request.auth.project, scope=scope, query=query, page=page, page_size=page_size
        )
        serializer = ScoredSourceSerializer if query is not None else ListedSourceSerializer
        results = serializer(rows, many=True).data
        return Response(page_body(request, page=page, page_size=page_size, count=count, results=results))
