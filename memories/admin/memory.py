"""The memory admin: edits, deletes and actions go through the same services as the API, so every
change is embedded and written to the history like any other."""

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpResponseRedirect
from django.utils.html import format_html, format_html_join

from mem0g_site.exceptions import ApplicationError, ValidationFailed
from memories.admin.common import MemoryIdSearchMixin, NotSaved, each_row
from memories.admin.filters import AgentFilter, CategoryFilter, StateFilter, UserFilter
from memories.admin.inlines import IncomingInline, OutgoingInline, SourceInline, TraceInline
from memories.inputs import (
    NewMemory,
    Scope,
    clean_categories,
    clean_entity_id,
    clean_id,
    clean_metadata,
    clean_text,
)
from memories.models import Memory
from memories.selectors import memory_history
from memories.services import (
    add_ingest,
    memories_reembed,
    memory_delete,
    memory_expire,
    memory_restore,
    memory_update,
)

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
        each_row(
            self,
            request,
            queryset.select_related("project").defer("embedding"),
            lambda memory, actor_id: action(project=memory.project, memory_id=memory.pk, actor_id=actor_id),
            done,
            ("memory", "memories"),
        )

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
            raise NotSaved from exc
        obj.pk = updated.pk
        obj.__dict__.update({k: v for k, v in updated.__dict__.items() if not k.startswith("_")})

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except NotSaved:
            return HttpResponseRedirect(request.get_full_path())

    def delete_model(self, request, obj):
        memory_delete(project=obj.project, memory_id=obj.pk, actor_id=f"admin:{request.user.get_username()}")

    def delete_queryset(self, request, queryset: QuerySet):
        for memory in queryset.select_related("project"):
            memory_delete(project=memory.project, memory_id=memory.pk, actor_id=f"admin:{request.user.get_username()}")
