from django import forms
from django.contrib import admin, messages

from accounts.models import ApiKey, Membership, Organization, Project, ProjectMember, Webhook, WebhookDelivery
from accounts.services import apikey_create, apikey_revoke


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ("user",)


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "created_at")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    inlines = [MembershipInline]


class ProjectMemberInline(admin.TabularInline):
    model = ProjectMember
    extra = 0
    autocomplete_fields = ("user",)


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    inlines = [ProjectMemberInline]
    list_display = ("name", "slug", "organization", "created_at")
    list_filter = ("organization",)
    list_select_related = ("organization",)
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}


class ApiKeyCreateForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(choices=ApiKey.Scope.choices, widget=forms.CheckboxSelectMultiple)
    organization_key = forms.BooleanField(
        required=False,
        label="Organisation key",
        help_text="Manages every project of the project's organisation (implies admin; no user restriction).",
    )

    class Meta:
        model = ApiKey
        fields = ("project", "name", "scopes", "user_id", "organization_key")

    def clean(self):
        data = super().clean()
        if data.get("organization_key") and data.get("user_id"):
            self.add_error("user_id", "An organisation key cannot be restricted to one user.")
        return data


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = (
        "prefix",
        "name",
        "project",
        "kind",
        "scope_list",
        "user_id",
        "last_used_at",
        "revoked_at",
        "created_at",
    )
    list_filter = ("kind", "project", "revoked_at")
    list_select_related = ("project__organization",)
    search_fields = ("prefix", "name", "=user_id")
    actions = ["revoke"]
    # Never the hash or the salt: the admin shows prefixes only.
    readonly_fields = ("prefix", "project", "kind", "scopes", "user_id", "created_at", "last_used_at", "revoked_at")
    fields = ("name", *readonly_fields)

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = ApiKeyCreateForm
        return super().get_form(request, obj, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.readonly_fields

    def get_fields(self, request, obj=None):
        return ApiKeyCreateForm.Meta.fields if obj is None else self.fields

    @admin.display(description="scopes")
    def scope_list(self, obj: ApiKey) -> str:
        return ", ".join(obj.scopes)

    def save_model(self, request, obj, form, change):
        if change:
            obj.save(update_fields=["name"])
            return
        data = form.cleaned_data
        api_key, raw_key = apikey_create(
            project=data["project"],
            name=data["name"],
            scopes=data["scopes"],
            user_id=data["user_id"] or None,
            organization_key=data.get("organization_key", False),
        )
        obj.pk = api_key.pk
        obj.__dict__.update({k: v for k, v in api_key.__dict__.items() if not k.startswith("_")})
        self.message_user(
            request,
            f"New API key (shown this once, copy it now): {raw_key}",
            level=messages.WARNING,
        )

    @admin.action(description="Revoke selected keys")
    def revoke(self, request, queryset):
        for api_key in queryset:
            apikey_revoke(api_key=api_key)
        self.message_user(request, f"Revoked {queryset.count()} key(s).")


@admin.register(Webhook)
class WebhookAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "url", "project", "is_active", "created_at")
    list_filter = ("project", "is_active")
    list_select_related = ("project__organization",)
    search_fields = ("name", "url")


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    """What happened to each event sent to a webhook (read-only: the worker writes these)."""

    list_display = ("id", "webhook", "event_type", "status", "attempts", "last_status_code", "created_at")
    list_filter = ("status", "event_type")
    list_select_related = ("webhook",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
