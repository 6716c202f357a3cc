"""What a memory's admin page shows below its fields: relationships, sources and decision traces."""

from django.contrib import admin
from django.utils.html import format_html_join

from graph.models import Relationship
from memories.models import DecisionTrace, MemorySourceLink


class OutgoingInline(admin.TabularInline):
    """The memory's relationships, read-only (made by the API, the UI and the add pipeline)."""

    model = Relationship
    fk_name = "source"
    verbose_name = "relationship from this memory"
    verbose_name_plural = "relationships from this memory"
    fields = ("relation", "target", "origin", "weight", "valid_from", "valid_to", "invalidated_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("target").defer("target__embedding")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class IncomingInline(OutgoingInline):
    fk_name = "target"
    verbose_name = "relationship to this memory"
    verbose_name_plural = "relationships to this memory"
    fields = ("source", "relation", "origin", "weight", "valid_from", "valid_to", "invalidated_at")
    readonly_fields = fields

    def get_queryset(self, request):
        return admin.TabularInline.get_queryset(self, request).select_related("source").defer("source__embedding")


class _ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class SourceInline(_ReadOnlyInline):
    """The messages the memory came from, as said (kept by the add pipeline)."""

    model = MemorySourceLink
    verbose_name = "source message"
    verbose_name_plural = "source messages (what was said)"
    fields = ("said_by", "observed_at", "content")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("source").defer("source__embedding")

    @admin.display(description="said by")
    def said_by(self, obj: MemorySourceLink) -> str:
        return obj.source.name or obj.source.role

    @admin.display(description="observed")
    def observed_at(self, obj: MemorySourceLink):
        return obj.source.observed_at

    @admin.display(description="message")
    def content(self, obj: MemorySourceLink) -> str:
        return obj.source.content


class TraceInline(_ReadOnlyInline):
    """What each add decided about this memory's facts, and why."""

    model = DecisionTrace
    verbose_name = "decision trace"
    verbose_name_plural = "decision traces (why)"
    fields = ("created_at", "fact", "extractor", "decision", "why", "candidate_list")
    readonly_fields = fields

    @admin.display(description="reason")
    def why(self, obj: DecisionTrace) -> str:
        reason = obj.reason or {}
        parts = [reason.get("rule", ""), reason.get("detail", "")]
        if reason.get("slot"):
            parts.append(f"slot {reason['slot']}")
        if reason.get("similarity") is not None:
            parts.append(f"similarity {reason['similarity']}")
        if reason.get("override"):
            parts.append(reason["override"])
        return "; ".join(p for p in parts if p)

    @admin.display(description="candidates")
    def candidate_list(self, obj: DecisionTrace):
        return format_html_join(
            "", "<div>{} <small>({})</small></div>", ((c.get("text"), c.get("score")) for c in obj.candidates)
        )
