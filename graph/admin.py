"""Operators look at relationships here and retract wrong ones; the record itself is not edited
(changes go through graph.services, like the API's)."""

from django.contrib import admin, messages

from graph.models import Relationship
from graph.services import relationship_retract
from mem0g_site.admin_kit import ReadOnlyAdmin
from mem0g_site.exceptions import ApplicationError


class OpenFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("open", "Open"), ("closed", "Closed"), ("retracted", "Retracted")]

    def queryset(self, request, queryset):
        if self.value() == "open":
            return queryset.current()
        if self.value() == "closed":
            return queryset.closed().not_retracted()
        if self.value() == "retracted":
            return queryset.retracted()
        return queryset


@admin.register(Relationship)
class RelationshipAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    # Relationships are made by the API and the add pipeline, and retracted rather than deleted.
    list_display = ("short_source", "relation", "short_target", "weight", "origin", "state", "valid_from", "valid_to")
    list_filter = ("relation", "origin", OpenFilter, "project")
    list_select_related = ("source", "target", "project__organization")
    search_fields = ("=relation", "=id", "=source__id", "=target__id", "source__memory", "target__memory")
    ordering = ("-created_at",)
    date_hierarchy = "created_at"
    actions = ["retract"]
    fields = (
        "id",
        "project",
        "source",
        "relation",
        "target",
        "weight",
        "origin",
        "metadata",
        "valid_from",
        "valid_to",
        "created_at",
        "invalidated_at",
    )
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).defer("source__embedding", "target__embedding")

    @admin.display(description="source")
    def short_source(self, obj: Relationship) -> str:
        return _short(obj.source.memory)

    @admin.display(description="target")
    def short_target(self, obj: Relationship) -> str:
        return _short(obj.target.memory)

    @admin.display(description="state")
    def state(self, obj: Relationship) -> str:
        if obj.invalidated_at is not None:
            return "retracted"
        return "closed" if obj.valid_to is not None else "open"

    @admin.action(description="Retract the selected relationships")
    def retract(self, request, queryset):
        retracted = 0
        for relationship in queryset.not_retracted().select_related("project"):
            try:
                relationship_retract(project=relationship.project, relationship_id=relationship.pk)
            except ApplicationError as exc:
                self.message_user(request, f"{relationship.pk}: {exc.message}", level=messages.ERROR)
                continue
            retracted += 1
        self.message_user(request, f"Retracted {retracted} relationship(s).")


def _short(text: str) -> str:
    return text if len(text) <= 60 else text[:59] + "…"
