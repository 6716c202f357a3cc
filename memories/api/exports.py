"""Exports and summaries of the memories matching ``filters`` (Mem0 Platform)."""

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from mem0g_site import openapi
from mem0g_site.api import Mem0View
from mem0g_site.api_kit.contract import read
from mem0g_site.api_kit.parsing import body_of
from memories.api import examples, responses
from memories.api.common import scoped_filters
from memories.api.contract import ExportGetRequest, ExportRequest, SummaryRequest
from memories.inputs import Scope
from memories.selectors import memories_export_slice, memory_export_get, memory_summary
from memories.services import memory_export_create
from memories.shapes import memories_data


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
        tags=[openapi.PLATFORM],
        request=ExportRequest,
        responses={201: responses.ExportCreated, **openapi.errors(404, 422)},
        examples=[
            openapi.example(
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
            openapi.example(
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
        values = read(ExportRequest, body_of(request))
        schema, filters = values["schema"], values["filters"]
        # A restricted key exports its own user's memories only, whatever the filters say.
        scope, where = scoped_filters(request, Scope(), filters, require_entity=False)
        rows, next_cursor = memories_export_slice(
            project=request.auth.project,
            scope=scope,
            where=where,
            cursor=values.get("cursor"),
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
        tags=[openapi.PLATFORM],
        request=ExportGetRequest,
        responses={
            200: responses.ExportResponse,
            **openapi.errors(404, 422, e404=("NOT_FOUND", "Export not found", None)),
        },
        examples=[
            openapi.example("By id", {"memory_export_id": "2d3e4f5a-6b7c-4d8e-9f0a-1b2c3d4e5f6a"}, request=True),
            openapi.example(
                "Export",
                {
                    "id": "2d3e4f5a-6b7c-4d8e-9f0a-1b2c3d4e5f6a",
                    "status": "COMPLETED",
                    "created_at": openapi.UPDATED,
                    "schema": {
                        "type": "object",
                        "properties": {"id": {"type": "string"}, "memory": {"type": "string"}},
                    },
                    "filters": {"user_id": "alice"},
                    "count": 1,
                    "next_cursor": None,
                    "results": [{"id": examples.MEMORY_ID, "memory": "Prefers Python for scripting"}],
                    "memories": [{"id": examples.MEMORY_ID, "memory": "Prefers Python for scripting"}],
                },
            ),
        ],
    )
    def post(self, request):
        values = read(ExportGetRequest, body_of(request))
        export = memory_export_get(
            project=request.auth.project,
            export_id=values.get("memory_export_id") or None,
            filters=values["filters"],
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
        tags=[openapi.PLATFORM],
        request=SummaryRequest,
        responses={200: responses.SummaryResponse, **openapi.errors(404, 422)},
        examples=[
            openapi.example("A user", {"filters": {"user_id": "alice"}}, request=True),
            openapi.example(
                "Digest",
                {
                    "summary": "1 memories across 1 categories.\n- Prefers Python for scripting",
                    "total_memories": 1,
                    "categories": {"preferences": 1},
                    "recent": [
                        {
                            "id": examples.MEMORY_ID,
                            "memory": "Prefers Python for scripting",
                            "created_at": openapi.CREATED,
                        }
                    ],
                },
            ),
        ],
    )
    def post(self, request):
        filters = read(SummaryRequest, body_of(request))["filters"]
        scope, where = scoped_filters(request, Scope(), filters, require_entity=False)
        return Response(memory_summary(project=request.auth.project, scope=scope, where=where))
