"""The history admin: a read-only record of every change."""

from django.contrib import admin

from mem0g_site.admin_kit import ReadOnlyAdmin
from memories.admin.common import MemoryIdSearchMixin
from memories.models import MemoryHistory


@admin.register(MemoryHistory)
class MemoryHistoryAdmin(ReadOnlyAdmin, MemoryIdSearchMixin, admin.ModelAdmin):
    # The history is a record: read-only in the admin.
    memory_id_field = "memory_id"
    list_display = ("created_at", "event", "memory_id", "user_id", "agent_id", "short_new", "actor_id", "project")
    list_filter = ("event", "project", "created_at")
    list_select_related = ("project__organization",)
    search_fields = ("=user_id", "old_memory", "new_memory")

    ordering = ("-created_at",)

    @admin.display(description="new memory")
    def short_new(self, obj: MemoryHistory) -> str:
        text = obj.new_memory or ""
        return text if len(text) <= 60 else text[:59] + "…"
