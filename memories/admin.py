"""Operators curate memories here. Saves and deletes go through the same services as the API, so
every change is embedded and written to the history like any other."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.db import connection
from django.db.models import Count, QuerySet
from django.http import HttpResponseRedirect
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from graph.models import Relationship
from mem0g_site.exceptions import ApplicationError, ValidationFailed
from memories.inputs import (
    NewMemory,
    Scope,
    clean_categories,
    clean_entity_id,
    clean_id,
    clean_metadata,
    clean_text,
    clean_uuid,
)
from memories.models import DecisionTrace, Memory, MemoryHistory, MemorySourceLink
from memories.review import review_accept, review_edit, review_reject
from memories.review_selectors import review_decorate
from memories.selectors import memory_history
from memories.services import (
    add_ingest,
    memories_reembed,
    memory_delete,
    memory_expire,
    memory_restore,
    memory_update,
)


class StateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("current", "Current"), ("superseded", "Superseded"), ("expired", "Expired")]

    def queryset(self, request, queryset):
        # The same three states as Memory.state: superseded (closed or retracted) wins over expired.
        now = timezone.now()
        if self.value() == "current":
            return queryset.current().unexpired(now)
        if self.value() == "superseded":
            return queryset.closed()
        if self.value() == "expired":
            return queryset.current().expired(now)
        return queryset


class TopValuesFilter(admin.SimpleListFilter):
    """The most used values of a scope field (one grouped query); any other value: search ``=value``."""

    field = ""
    shown = 20

    def lookups(self, request, model_admin):
        rows = (
            Memory.objects.filter(**{f"{self.field}__isnull": False})
            .values_list(self.field)
            .annotate(n=Count("id"))
            .order_by("-n", self.field)[: self.shown]
        )
        return [(value, f"{value} ({n})") for value, n in rows]

    def queryset(self, request, queryset):
        return queryset.filter(**{self.field: self.value()}) if self.value() else queryset


class UserFilter(TopValuesFilter):
    title = "user"
    parameter_name = "user_id"
    field = "user_id"


class AgentFilter(TopValuesFilter):
    title = "agent"
    parameter_name = "agent_id"
    field = "agent_id"


class CategoryFilter(admin.SimpleListFilter):
    title = "category"
    parameter_name = "category"

    def lookups(self, request, model_admin):
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT category, count(*) FROM memories_memory, unnest(categories) AS category"
                " GROUP BY category ORDER BY count(*) DESC, category LIMIT 30"
            )
            return [(category, f"{category} ({n})") for category, n in cursor.fetchall()]

    def queryset(self, request, queryset):
        return queryset.filter(categories__contains=[self.value()]) if self.value() else queryset


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


class MemoryIdSearchMixin:
    """A pasted memory id in the search box finds that memory's rows."""

    memory_id_field = "pk"

    def get_search_results(self, request, queryset, search_term):
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        memory_id = clean_uuid(search_term.strip())
        if memory_id is not None:
            results |= queryset.filter(**{self.memory_id_field: memory_id})
        return results, may_have_duplicates


EDITABLE_FIELDS = (
    "project",
    "memory",
    "user_id",
    "agent_id",
    "app_id",
    "run_id",
    "metadata",
    "categories",
    "expiration_date",
    "immutable",
    "actor_id",
    "role",
    "valid_from",
)
READONLY_FIELDS = ("hash", "embedding_model", "created_at", "updated_at", "valid_to", "invalidated_at")


class MemoryAdminForm(forms.ModelForm):
    """Runs the services' own input checks so problems show next to the field."""

    class Meta:
        model = Memory
        fields = EDITABLE_FIELDS

    def clean(self):
        data = super().clean()
        checks = [
            ("memory", lambda v: clean_text(v, field_name="memory")),
            ("metadata", clean_metadata),
            ("categories", clean_categories),
            *[
                (name, lambda v, name=name: clean_entity_id(v or None, field_name=name))
                for name in ("user_id", "agent_id", "app_id", "run_id")
            ],
            ("actor_id", lambda v: clean_id(v or None, field_name="actor_id")),
        ]
        for name, check in checks:
            if name in data:
                try:
                    check(data[name])
                except ValidationFailed as exc:
                    self.add_error(name, exc.message)
        if not self.instance.pk and not any(data.get(n) for n in ("user_id", "agent_id", "app_id", "run_id")):
            self.add_error("user_id", "at least one of user_id, agent_id, app_id or run_id is required")
        return data


@admin.register(Memory)
class MemoryAdmin(MemoryIdSearchMixin, admin.ModelAdmin):
    form = MemoryAdminForm
    list_display = (
        "short_text",
        "user_id",
        "agent_id",
        "app_id",
        "run_id",
        "category_list",
        "project",
        "state",
        "created_at",
    )
    list_filter = ("project", UserFilter, AgentFilter, CategoryFilter, StateFilter, "role", "immutable", "created_at")
    list_select_related = ("project__organization",)
    # "memory" finds substrings; "@memory" is PostgreSQL full-text search (stems: "loves" finds "love").
    search_fields = ("memory", "@memory", "=user_id", "=agent_id", "=app_id", "=run_id")
    ordering = ("-created_at",)
    date_hierarchy = "created_at"
    fields = EDITABLE_FIELDS + READONLY_FIELDS + ("history",)
    readonly_fields = READONLY_FIELDS + ("history",)
    inlines = [OutgoingInline, IncomingInline, SourceInline, TraceInline]
    # With Django's "delete selected" (a confirmation page, then memory_delete for each).
    actions = ["expire_now", "restore", "reembed"]

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []  # a new memory has no relationships yet

    @admin.display(description="categories")
    def category_list(self, obj: Memory) -> str:
        return ", ".join(obj.categories)

    @admin.display(description="history")
    def history(self, obj: Memory) -> str:
        if obj.pk is None:
            return "-"
        try:
            rows = memory_history(project=obj.project, memory_id=obj.pk)
        except ApplicationError:
            return "-"
        return format_html(
            "<ol>{}</ol>",
            format_html_join(
                "",
                "<li>{} <b>{}</b> {} → {} <i>{}</i></li>",
                (
                    (
                        row.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                        row.event,
                        row.old_memory or "",
                        row.new_memory or "",
                        row.actor_id or "",
                    )
                    for row in rows
                ),
            ),
        )

    def _each(self, request, queryset, action, done: str):
        count = 0
        for memory in queryset.select_related("project").defer("embedding"):
            try:
                action(project=memory.project, memory_id=memory.pk, actor_id=f"admin:{request.user.get_username()}")
            except ApplicationError as exc:
                self.message_user(request, f"{memory.pk}: {exc.message}", level=messages.ERROR)
                continue
            count += 1
        self.message_user(request, f"{done} {count} memor{'y' if count == 1 else 'ies'}.")

    @admin.action(description="Expire the selected memories now")
    def expire_now(self, request, queryset):
        self._each(request, queryset, memory_expire, "Expired")

    @admin.action(description="Restore the selected memories (serve them again)")
    def restore(self, request, queryset):
        self._each(request, queryset, memory_restore, "Restored")

    @admin.action(description="Re-embed the selected memories")
    def reembed(self, request, queryset):
        count = 0
        for project_id in queryset.values_list("project", flat=True).distinct().order_by():
            picked = queryset.filter(project_id=project_id)
            project = picked.select_related("project").defer("embedding").first().project
            count += memories_reembed(project=project, memory_ids=list(picked.values_list("pk", flat=True)))
        self.message_user(request, f"Re-embedded {count} memor{'y' if count == 1 else 'ies'}.")

    def get_queryset(self, request):
        return super().get_queryset(request).defer("embedding")

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return self.readonly_fields
        # Scope, project and validity belong to the record; only its content is edited here.
        return (
            *self.readonly_fields,
            "project",
            "user_id",
            "agent_id",
            "app_id",
            "run_id",
            "immutable",
            "actor_id",
            "role",
            "valid_from",
        )

    @admin.display(description="memory")
    def short_text(self, obj: Memory) -> str:
        return obj.memory if len(obj.memory) <= 80 else obj.memory[:79] + "…"

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        try:
            if change:
                updated = memory_update(
                    project=obj.project,
                    memory_id=obj.pk,
                    text=data["memory"],
                    metadata=data["metadata"],
                    categories=data["categories"],
                    expiration_date=data["expiration_date"],
                    actor_id=f"admin:{request.user.get_username()}",
                )
            else:
                updated = add_ingest(
                    project=data["project"],
                    payload={"via": "admin"},
                    items=[
                        NewMemory(
                            text=data["memory"],
                            scope=Scope(
                                **{name: data[name] or None for name in ("user_id", "agent_id", "app_id", "run_id")}
                            ),
                            metadata=data["metadata"],
                            categories=data["categories"],
                            expiration_date=data["expiration_date"],
                            immutable=data["immutable"],
                            actor_id=data["actor_id"] or None,
                            role=data["role"] or None,
                            valid_from=data["valid_from"],
                        )
                    ],
                ).memories[0]
        except ApplicationError as exc:
            # The services validated before writing anything; tell the operator why.
            self.message_user(request, f"Not saved: {exc.message}", level=messages.ERROR)
            raise _NotSaved from exc
        obj.pk = updated.pk
        obj.__dict__.update({k: v for k, v in updated.__dict__.items() if not k.startswith("_")})

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except _NotSaved:
            return HttpResponseRedirect(request.get_full_path())

    def delete_model(self, request, obj):
        memory_delete(project=obj.project, memory_id=obj.pk, actor_id=f"admin:{request.user.get_username()}")

    def delete_queryset(self, request, queryset: QuerySet):
        for memory in queryset.select_related("project"):
            memory_delete(project=memory.project, memory_id=memory.pk, actor_id=f"admin:{request.user.get_username()}")


class _NotSaved(Exception):
    pass


@admin.register(MemoryHistory)
class MemoryHistoryAdmin(MemoryIdSearchMixin, admin.ModelAdmin):
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

    # The history is a record: read-only in the admin.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReviewFilter(admin.SimpleListFilter):
    """The review queue first: without a choice, the changes waiting for review."""

    title = "review"
    parameter_name = "review"

    def lookups(self, request, model_admin):
        return [
            ("pending", "Waiting for review"),
            ("accepted", "Accepted"),
            ("rejected", "Rejected"),
            ("none", "Nothing to review"),
            ("all", "All"),
        ]

    def value(self):
        return super().value() or "pending"

    def queryset(self, request, queryset):
        return queryset if self.value() == "all" else queryset.filter(review_state=self.value())

    def choices(self, changelist):
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }


class ReviewForm(forms.ModelForm):
    text = forms.CharField(
        label="Corrected text",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 80}),
        help_text="Saving a text here accepts the change with these words instead of the inferred ones "
        "(a change still waiting for review is applied with them).",
    )

    class Meta:
        model = DecisionTrace
        fields = []


@admin.register(DecisionTrace)
class ReviewAdmin(admin.ModelAdmin):
    """The review queue (``memories.review``): inferred changes with their trace. Accept, reject (undo)
    and edit go through the same services as the web UI, as ``admin:<username>``."""

    form = ReviewForm
    list_display = (
        "created_at",
        "decision",
        "waiting",
        "change_text",
        "user_id",
        "review_state",
        "reviewed_by",
        "project",
    )
    list_filter = (ReviewFilter, "decision", "project")
    list_select_related = ("project__organization",)
    search_fields = ("fact", "=user_id")
    ordering = ("-created_at",)
    actions = ["accept", "reject"]
    fields = (
        "text",
        "change_text",
        "review_state",
        "reviewed_by",
        "reviewed_at",
        "fact",
        "extractor",
        "decision",
        "why",
        "candidate_list",
        "sources",
        "memory",
        "target_id",
        "user_id",
        "agent_id",
        "created_at",
    )
    readonly_fields = tuple(name for name in fields if name != "text")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # a trace goes with its memory

    def get_queryset(self, request):
        return super().get_queryset(request).defer("memory__embedding")

    def get_changelist(self, request, **kwargs):
        class ReviewChangeList(ChangeList):
            def get_results(self, request):
                super().get_results(request)
                # The page's previous texts, targets and sources: three queries per project, not per row.
                self.result_list = list(self.result_list)
                by_project: dict = {}
                for trace in self.result_list:
                    by_project.setdefault(trace.project_id, []).append(trace)
                for traces in by_project.values():
                    review_decorate(traces[0].project, traces)

        return ReviewChangeList

    def _decorated(self, obj: DecisionTrace) -> DecisionTrace:
        if not hasattr(obj, "proposed"):
            review_decorate(obj.project, [obj])
        return obj

    @admin.display(description="waiting", boolean=True)
    def waiting(self, obj: DecisionTrace) -> bool:
        return obj.is_held

    @admin.display(description="change")
    def change_text(self, obj: DecisionTrace):
        obj = self._decorated(obj)
        if obj.decision == DecisionTrace.Decision.ADD or not obj.previous:
            return format_html("<ins>{}</ins>", obj.proposed or obj.fact)
        return format_html("<del>{}</del> → <ins>{}</ins>", obj.previous, obj.proposed)

    @admin.display(description="reason")
    def why(self, obj: DecisionTrace) -> str:
        return TraceInline.why(self, obj)

    @admin.display(description="candidates")
    def candidate_list(self, obj: DecisionTrace):
        return TraceInline.candidate_list(self, obj)

    @admin.display(description="sources (what was said)")
    def sources(self, obj: DecisionTrace):
        obj = self._decorated(obj)
        return format_html_join(
            "",
            "<div><small>{} on {}:</small> “{}”</div>",
            ((s.name or s.role, s.observed_at.strftime("%Y-%m-%d"), s.content) for s in obj.source_rows),
        )

    def _each(self, request, queryset, action, done: str):

        service = {"accept": review_accept, "reject": review_reject}[action]
        count = 0
        for trace in queryset.select_related("project").only("id", "project"):
            try:
                service(project=trace.project, trace_id=trace.pk, actor_id=f"admin:{request.user.get_username()}")
            except ApplicationError as exc:
                self.message_user(request, f"{trace.pk}: {exc.message}", level=messages.ERROR)
                continue
            count += 1
        self.message_user(request, f"{done} {count} change{'' if count == 1 else 's'}.")

    @admin.action(description="Accept the selected changes")
    def accept(self, request, queryset):
        self._each(request, queryset, "accept", "Accepted")

    @admin.action(description="Reject the selected changes (undo them)")
    def reject(self, request, queryset):
        self._each(request, queryset, "reject", "Rejected and undid")

    def save_model(self, request, obj, form, change):

        text = form.cleaned_data.get("text", "").strip()
        if not text:
            return
        try:
            review_edit(
                project=obj.project, trace_id=obj.pk, text=text, actor_id=f"admin:{request.user.get_username()}"
            )
        except ApplicationError as exc:
            self.message_user(request, f"Not saved: {exc.message}", level=messages.ERROR)
            raise _NotSaved from exc

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except _NotSaved:
            return HttpResponseRedirect(request.get_full_path())
