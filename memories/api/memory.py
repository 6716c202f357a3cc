"""One memory (Mem0 Platform and memory layer): get, update, delete, its history; batch updates and
deletes; feedback."""

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from accounts.access import key_within
from mem0g_site import openapi
from mem0g_site.api import Mem0View
from mem0g_site.api_kit.contract import read
from mem0g_site.api_kit.parsing import as_bool, body_of
from mem0g_site.inputs import UNSET
from memories.api import examples, responses
from memories.api.contract import BatchRequest, FeedbackRequest, UpdateRequest
from memories.api.serializers import HistorySerializer, SourceSerializer
from memories.selectors import memory_get, memory_history, memory_sources
from memories.services import (
    memories_delete_batch,
    memories_update_batch,
    memory_delete,
    memory_feedback_create,
    memory_update,
)
from memories.shapes import MemorySerializer, memory_data, representer


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
        tags=[openapi.PLATFORM, openapi.MEMORY_LAYER],
        parameters=[examples.MEMORY_ID_PARAM],
        responses={200: responses.MemoryWithSources, **openapi.errors(404)},
        examples=[openapi.example("A memory", {**examples.MEMORY, "sources": [examples.SOURCE]})],
    )
    def get(self, request, memory_id: str):
        memory = memory_get(project=request.auth.project, memory_id=memory_id, within=key_within(request.auth))
        return Response(
            {**memory_data(memory), "sources": representer(SourceSerializer).many(memory_sources(memory=memory))}
        )

    @extend_schema(
        methods=["PUT"],
        operation_id="memory_update",
        summary="Update a memory",
        description="Changes what is given: the text (`text`, else `content`), `metadata` (replaced), "
        "`categories`, `expiration_date`, `timestamp` (ISO 8601 or Unix seconds: when the fact started to hold, "
        "the memory's `valid_from`). The previous state stays in the memory's history.",
        tags=[openapi.PLATFORM, openapi.MEMORY_LAYER],
        parameters=[examples.MEMORY_ID_PARAM],
        request=UpdateRequest,
        responses={200: MemorySerializer, **openapi.errors(404, 409, 422)},
        examples=[
            openapi.example(
                "New text and metadata",
                {"text": "Prefers Python and Go for scripting", "metadata": {"category": "edited"}},
                request=True,
            ),
            openapi.example(
                "Updated",
                {
                    **examples.MEMORY,
                    "memory": "Prefers Python and Go for scripting",
                    "content": "Prefers Python and Go for scripting",
                    "metadata": {"category": "edited"},
                    "updated_at": openapi.UPDATED,
                },
            ),
        ],
    )
    @extend_schema(
        methods=["PATCH"],
        operation_id="memory_partial_update",
        summary="Update a memory (PATCH)",
        description="The same as `PUT`: only what is given changes.",
        tags=[openapi.PLATFORM],
        parameters=[examples.MEMORY_ID_PARAM],
        request=UpdateRequest,
        responses={200: MemorySerializer, **openapi.errors(404, 409, 422)},
        examples=[
            openapi.example("New expiration", {"expiration_date": "2026-12-31"}, request=True),
            openapi.example(
                "Updated", {**examples.MEMORY, "expiration_date": "2026-12-31", "updated_at": openapi.UPDATED}
            ),
        ],
    )
    def put(self, request, memory_id: str):
        values = read(UpdateRequest, body_of(request))
        text = values["text"] if "text" in values else values.get("content")
        memory = memory_update(
            project=request.auth.project,
            memory_id=memory_id,
            text=UNSET if text is None else text,
            metadata=UNSET if values.get("metadata") is None else values["metadata"],
            categories=values["categories"] if "categories" in values else UNSET,
            expiration_date=values["expiration_date"] if "expiration_date" in values else UNSET,
            valid_from=UNSET if values.get("timestamp") is None else values["timestamp"],
            within=key_within(request.auth),
        )
        return Response(memory_data(memory))

    patch = put

    @extend_schema(
        operation_id="memory_delete",
        summary="Delete a memory",
        description="The memory's history is kept.",
        tags=[openapi.PLATFORM, openapi.MEMORY_LAYER],
        parameters=[
            examples.MEMORY_ID_PARAM,
            openapi.query(
                "delete_linked",
                bool,
                "Also delete the older memories this one superseded, transitively (its `supersedes` chain), so "
                "they are not shown again as superseded facts; the answer then counts them in `cascade_count`.",
            ),
        ],
        responses={200: responses.MemoryDeletedResponse, **openapi.errors(404, 409, 422)},
        examples=[
            openapi.example("Deleted", {"message": "Memory deleted successfully!"}),
            openapi.example("With its chain", {"message": "Memory deleted successfully!", "cascade_count": 2}),
        ],
    )
    def delete(self, request, memory_id: str):
        linked = as_bool(request.query_params.get("delete_linked"), "delete_linked")
        cascaded = memory_delete(
            project=request.auth.project, memory_id=memory_id, within=key_within(request.auth), delete_linked=linked
        )
        body = {"message": "Memory deleted successfully!"}
        return Response({**body, "cascade_count": cascaded} if linked else body)


# What both dialects' history routes document alike (``oss.OssHistoryView`` is this route's answer).
HISTORY_SCHEMA = {
    "summary": "A memory's history",
    "parameters": [examples.MEMORY_ID_PARAM],
    "responses": {200: HistorySerializer(many=True), **openapi.errors(404)},
    "examples": [openapi.example("Added once", [examples.HISTORY_ROW])],
}


class HistoryView(Mem0View):
    """``GET /v1/memories/{id}/history/``: a JSON list, oldest first."""

    required_scope = "read"
    user_keys = True

    @extend_schema(
        operation_id="memory_history",
        description="Every change of the memory (ADD, UPDATE, SUPERSEDE, DELETE, ...), oldest first.",
        tags=[openapi.PLATFORM],
        **HISTORY_SCHEMA,
    )
    def get(self, request, memory_id: str):
        rows = memory_history(project=request.auth.project, memory_id=memory_id, within=key_within(request.auth))
        return Response(HistorySerializer(rows, many=True).data)


class BatchView(Mem0View):
    """``PUT /v1/batch/`` and ``DELETE /v1/batch/`` (JSON body): up to 1000 memories, all or nothing."""

    required_scope = "write"
    user_keys = True

    def _items(self, request) -> list[dict]:
        return read(BatchRequest, body_of(request))["memories"]

    @extend_schema(
        operation_id="memories_batch_update",
        summary="Update memories in a batch",
        description="Up to 1000 memories, each with its new `text` and/or `metadata`; all or nothing.",
        tags=[openapi.PLATFORM],
        request=BatchRequest,
        responses={200: responses.MessageResponse, **openapi.errors(404, 409, 422)},
        examples=[
            openapi.example(
                "Two updates",
                {
                    "memories": [
                        {"memory_id": examples.MEMORY_ID, "text": "Prefers Python and Go for scripting"},
                        {"memory_id": examples.OTHER_MEMORY_ID, "metadata": {"reviewed": True}},
                    ]
                },
                request=True,
            ),
            openapi.example("Updated", {"message": "Successfully updated 2 memories"}),
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
        tags=[openapi.PLATFORM],
        request=BatchRequest,
        responses={200: responses.MessageResponse, **openapi.errors(404, 409, 422)},
        examples=[
            openapi.example(
                "Two ids",
                {"memories": [{"memory_id": examples.MEMORY_ID}, {"memory_id": examples.OTHER_MEMORY_ID}]},
                request=True,
            ),
            openapi.example("Deleted", {"message": "Successfully deleted 2 memories"}),
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
        tags=[openapi.PLATFORM],
        request=FeedbackRequest,
        responses={200: responses.FeedbackResponse, **openapi.errors(404, 422)},
        examples=[
            openapi.example(
                "Negative",
                {"memory_id": examples.MEMORY_ID, "feedback": "NEGATIVE", "feedback_reason": "Outdated"},
                request=True,
            ),
            openapi.example(
                "Stored",
                {
                    "id": "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d",
                    "memory_id": examples.MEMORY_ID,
                    "feedback": "NEGATIVE",
                    "feedback_reason": "Outdated",
                },
            ),
        ],
    )
    def post(self, request):
        values = read(FeedbackRequest, body_of(request))
        row = memory_feedback_create(
            project=request.auth.project,
            memory_id=values.get("memory_id"),
            feedback=values["feedback"],
            feedback_reason=values["feedback_reason"],
            within=key_within(request.auth),
        )
        return Response(
            {
                "id": str(row.id),
                "memory_id": str(row.memory_id),
                "feedback": row.feedback,
                "feedback_reason": row.feedback_reason,
            }
        )
