"""Operators curate memories here. Saves and deletes go through the same services as the API, so
every change is embedded and written to the history like any other."""

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpResponseRedirect

from mem0g_site.exceptions import ApplicationError, ValidationFailed
from memories.inputs import NewMemory, Scope, clean_categories, clean_id, clean_metadata, clean_text, clean_uuid
from memories.models import Memory, MemoryHistory
from memories.services import memories_add, memory_delete, memory_update


class StateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("current", "Current"), ("superseded", "Superseded")]

    def queryset(self, request, queryset):
        if self.value() == "current":
            return queryset.current()
        if self.value() == "superseded":
            return queryset.exclude(pk__in=queryset.current().values("pk"))
        return queryset


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
                (name, lambda v, name=name: clean_id(v or None, field_name=name))
                for name in ("user_id", "agent_id", "app_id", "run_id", "actor_id")
            ],
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
    list_display = ("short_text", "user_id", "agent_id", "app_id", "run_id", "project", "state", "created_at")
    list_filter = ("project", StateFilter, "role", "immutable", "created_at")
    list_select_related = ("project__organization",)
    search_fields = ("memory", "=user_id", "=agent_id", "=app_id", "=run_id")
    ordering = ("-created_at",)
    date_hierarchy = "created_at"
    fields = EDITABLE_FIELDS + READONLY_FIELDS
    readonly_fields = READONLY_FIELDS

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
                updated = memories_add(
                    project=data["project"],
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
                )[0]
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
