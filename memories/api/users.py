"""Per-user operations: ``GET /v1/users/{user_id}/stats`` and ``DELETE /v1/users/{user_id}/memories``."""

from rest_framework.response import Response

from accounts.access import key_user
from mem0g_site.api import ApiView
from memories.inputs import Scope
from memories.selectors import user_stats
from memories.services import memories_delete


class UserStatsView(ApiView):
    required_scope = "read"

    def get(self, request, user_id: str):
        stats = user_stats(project=request.auth.project, user_id=key_user(request.auth, user_id))
        return Response(stats)


class UserMemoriesView(ApiView):
    required_scope = "write"

    def delete(self, request, user_id: str):
        user_id = key_user(request.auth, user_id)
        deleted = memories_delete(project=request.auth.project, scope=Scope(user_id=user_id))
        return Response({"message": f"Deleted {deleted} memories of user {user_id}", "deleted": deleted})
