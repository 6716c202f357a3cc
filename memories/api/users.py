"""Per-user operations: ``GET /v1/users/{user_id}/stats`` and ``DELETE /v1/users/{user_id}/memories``."""

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from accounts.access import key_user
from mem0g_site import openapi
from mem0g_site.api import ApiView
from memories.api import examples, responses
from memories.inputs import Scope
from memories.selectors import user_stats
from memories.services import memories_delete


class UserStatsView(ApiView):
    required_scope = "read"
    user_keys = True

    @extend_schema(
        operation_id="user_stats",
        summary="A user's memory statistics",
        description="Memory counts (total, current, superseded, expired; by agent, run and category), first and "
        "last activity and the storage taken. A user without memories is a 404.",
        tags=[openapi.OPERATIONS],
        parameters=[examples.USER_ID_PARAM],
        responses={200: responses.UserStats, **openapi.errors(404, 422, e404=openapi.USER_NOT_FOUND)},
        examples=[
            openapi.example(
                "Stats",
                {
                    "user_id": "alice",
                    "total_memories": 14,
                    "current_memories": 12,
                    "superseded_memories": 2,
                    "expired_memories": 0,
                    "by_agent": {"none": 10, "travel-agent": 4},
                    "by_run": {"none": 14},
                    "by_category": {"preferences": 5},
                    "first_activity": openapi.CREATED,
                    "last_activity": openapi.UPDATED,
                    "storage_bytes": 28672,
                },
            )
        ],
    )
    def get(self, request, user_id: str):
        stats = user_stats(project=request.auth.project, user_id=key_user(request.auth, user_id))
        return Response(stats)


class UserMemoriesView(ApiView):
    required_scope = "write"
    user_keys = True

    @extend_schema(
        operation_id="user_memories_delete",
        summary="Delete a user's memories",
        description="Deletes every memory of the user (history is kept).",
        tags=[openapi.OPERATIONS],
        parameters=[examples.USER_ID_PARAM],
        responses={200: responses.DeletedResponse, **openapi.errors(404, 422, e404=openapi.USER_NOT_FOUND)},
        examples=[openapi.example("Deleted", {"message": "Deleted 14 memories of user alice", "deleted": 14})],
    )
    def delete(self, request, user_id: str):
        user_id = key_user(request.auth, user_id)
        deleted = memories_delete(project=request.auth.project, scope=Scope(user_id=user_id))
        return Response({"message": f"Deleted {deleted} memories of user {user_id}", "deleted": deleted})
