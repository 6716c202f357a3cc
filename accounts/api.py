"""Mem0 Platform administration paths: projects and their members, webhooks, entities created
before they have memories, and user profiles. Thin views over ``accounts.services`` and
``accounts.selectors``; every 2xx answer has a JSON body, and another organisation's (or, for a
non-admin key, another project's) ids answer exactly like missing ones: 404.
"""

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from accounts.access import key_user
from accounts.models import WEBHOOK_EVENT_TYPES, ProfileJob, ProjectMember, Webhook
from accounts.selectors import (
    profile_job_get,
    profile_settings_get,
    project_for_key,
    project_member_list,
    projects_for_key,
    user_profile_get,
    webhook_get,
    webhook_list,
)
from accounts.services import (
    PROJECT_OPTIONS,
    entity_register,
    profile_job_create,
    profile_settings_update,
    project_create,
    project_delete,
    project_member_add,
    project_member_remove,
    project_member_update,
    project_update_options,
    webhook_create,
    webhook_delete,
    webhook_secret_rotate,
    webhook_update,
)
from mem0g_site import openapi
from mem0g_site.api import ApiView, Mem0View
from mem0g_site.api_kit import examples, responses
from mem0g_site.api_kit.parsing import body_of, refuse_unknown
from mem0g_site.exceptions import Forbidden, InvalidRequest
from mem0g_site.inputs import UNSET

ORG_ID = "1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9"
PROJECT_ID = "5d1c2b3a-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
PROJECT_EXAMPLE = {
    "id": PROJECT_ID,
    "project_id": PROJECT_ID,
    "org_id": ORG_ID,
    "name": "Default",
    "created_at": openapi.CREATED,
}
ORG_PARAM = openapi.path_param("org_id", "The key's organisation id (any other is a 404).", ORG_ID)
PROJECT_PARAM = openapi.path_param(
    "project_id", "The key's project, or (organisation key) another project of its organisation.", PROJECT_ID
)
NOT_FOUND = {"e404": ("NOT_FOUND", "Project not found", None)}
ORG_KEY_ONLY = "Only an organisation key can create projects (createapikey --org-admin)"


def project_data(project) -> dict:
    return {
        "id": str(project.id),
        "project_id": str(project.id),
        "org_id": str(project.organization_id),
        "name": project.name,
        "description": project.description,
        "created_at": project.created_at,
        **project.options,
    }


# --- documentation shapes --------------------------------------------------------------------


class ProjectCreateRequest(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True)


class ProjectUpdateRequest(serializers.Serializer):
    custom_instructions = serializers.CharField(required=False, allow_null=True)
    agent_custom_instructions = serializers.CharField(required=False, allow_null=True)
    custom_categories = serializers.ListField(child=serializers.JSONField(), required=False, allow_null=True)
    memory_depth = serializers.CharField(required=False, allow_null=True)
    usecase_setting = serializers.CharField(required=False, allow_null=True)
    multilingual = serializers.BooleanField(required=False, allow_null=True)
    review_mode = serializers.BooleanField(
        required=False,
        allow_null=True,
        help_text="mem0g: inferred UPDATEs and SUPERSEDEs wait for review (the old fact stays current); "
        "their add results say `pending: true`.",
    )


class ProjectResponse(serializers.Serializer):
    id = serializers.CharField()
    project_id = serializers.CharField()
    org_id = serializers.CharField()
    name = serializers.CharField()
    created_at = serializers.DateTimeField()
    custom_instructions = serializers.CharField(required=False)
    agent_custom_instructions = serializers.CharField(required=False)
    custom_categories = serializers.ListField(child=serializers.JSONField(), required=False)
    memory_depth = serializers.CharField(required=False)
    usecase_setting = serializers.CharField(required=False)
    multilingual = serializers.BooleanField(required=False)
    review_mode = serializers.BooleanField(required=False, help_text="mem0g: inferred changes wait for review.")


class ProjectData(ProjectResponse):
    description = serializers.CharField()


class ProjectCreated(ProjectData):
    message = serializers.CharField()


class ProjectUpdated(ProjectData):
    message = serializers.CharField()


class MemberRequest(serializers.Serializer):
    email = serializers.EmailField(help_text="The email of an existing user of this server.")
    role = serializers.ChoiceField(choices=ProjectMember.Role.values, required=False, help_text="Default `READER`.")


class Member(serializers.Serializer):
    email = serializers.EmailField()
    username = serializers.CharField()
    role = serializers.ChoiceField(choices=ProjectMember.Role.values)
    created_at = serializers.DateTimeField()


class Members(serializers.Serializer):
    members = Member(many=True)
    results = Member(many=True, help_text="The same list as `members`.")


class WebhookRequest(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    url = serializers.URLField()
    event_types = serializers.ListField(child=serializers.ChoiceField(choices=WEBHOOK_EVENT_TYPES))


class WebhookUpdateRequest(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)
    url = serializers.URLField(required=False)
    event_types = serializers.ListField(child=serializers.ChoiceField(choices=WEBHOOK_EVENT_TYPES), required=False)


class WebhookData(serializers.Serializer):
    webhook_id = serializers.IntegerField()
    id = serializers.IntegerField(help_text="The same as `webhook_id`.")
    name = serializers.CharField()
    url = serializers.URLField()
    event_types = serializers.ListField(child=serializers.CharField())
    project = serializers.CharField(help_text="The project's id.")
    is_active = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class WebhookUpdated(WebhookData):
    message = serializers.CharField()


SECRET_HELP = (
    "The signing secret (`whsec_` + base64), shown only here: keep it to verify deliveries "
    "(docs/API.md, Webhook signatures)."
)


class WebhookCreated(WebhookData):
    secret = serializers.CharField(help_text=SECRET_HELP)


class WebhookSecret(serializers.Serializer):
    message = serializers.CharField()
    webhook_id = serializers.IntegerField()
    secret = serializers.CharField(help_text=SECRET_HELP)


class EntityCreateRequest(serializers.Serializer):
    name = serializers.CharField(required=False, help_text="A display name (agents, apps, runs).")
    metadata = openapi.ObjectField(required=False)


class EntityCreated(serializers.Serializer):
    type = serializers.ChoiceField(choices=["user", "agent", "app", "run"])
    name = serializers.CharField(required=False)
    metadata = openapi.ObjectField()
    created = serializers.BooleanField(help_text="False when the entity was already registered (then updated).")
    created_at = serializers.DateTimeField()


class UserProfileData(serializers.Serializer):
    entity_type = serializers.CharField()
    entity_id = serializers.CharField()
    status = serializers.ChoiceField(choices=["succeeded", "pending", "not_enabled", "insufficient_data"])
    profile = openapi.ObjectField(allow_null=True)
    updated_at = serializers.DateTimeField(allow_null=True)
    generation_count = serializers.IntegerField()


class ProfileJobRequest(serializers.Serializer):
    operation = serializers.ChoiceField(choices=ProfileJob.Operation.values)
    entity_type = serializers.ChoiceField(choices=["user"], required=False)
    entity_id = serializers.CharField(required=False, help_text="`trigger`: the user.")
    limit = serializers.IntegerField(required=False, min_value=1, max_value=10, help_text="`sample`: how many users.")


class ProfileJobCreated(serializers.Serializer):
    job_id = serializers.UUIDField()
    status = serializers.CharField()
    status_url = serializers.CharField()
    operation = serializers.CharField()
    entity_type = serializers.CharField()
    entity_count_reserved = serializers.IntegerField()
    event_id = serializers.UUIDField()
    replayed = serializers.BooleanField(help_text="True: an earlier request with this Idempotency-Key made the job.")
    sampled = serializers.IntegerField()
    entity_ids = serializers.ListField(child=serializers.CharField())


class ProfileJobData(serializers.Serializer):
    id = serializers.UUIDField()
    job_id = serializers.UUIDField()
    status = serializers.CharField()
    operation = serializers.CharField()
    entity_type = serializers.CharField()
    entity_ids = serializers.ListField(child=serializers.CharField())
    total = serializers.IntegerField()
    completed = serializers.IntegerField()
    succeeded = serializers.IntegerField()
    failed = serializers.IntegerField()
    skipped = serializers.IntegerField(help_text="Users without memories to build a profile from.")
    enumeration_complete = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)


class ProfileJobResponse(serializers.Serializer):
    job = ProfileJobData()


class ProfileEntitySettings(serializers.Serializer):
    schema = openapi.ObjectField(allow_null=True, required=False)
    custom_instructions = serializers.CharField(allow_null=True, required=False)


class ProfileEntities(serializers.Serializer):
    user = ProfileEntitySettings()


class ProfileSettingsRequest(serializers.Serializer):
    enabled = serializers.BooleanField(required=False)
    entities = ProfileEntities(required=False)


class ProfileSettingsData(serializers.Serializer):
    enabled = serializers.BooleanField()
    capabilities = openapi.ObjectField()
    entities = ProfileEntities()
    updated_at = serializers.DateTimeField(allow_null=True)


MESSAGE = responses.MessageResponse
MEMBER_EXAMPLE = {"email": "ana@example.com", "username": "ana", "role": "OWNER", "created_at": openapi.CREATED}
WEBHOOK_EXAMPLE = {
    "webhook_id": 7,
    "id": 7,
    "name": "Memory logger",
    "url": "https://example.com/hooks/mem0",
    "event_types": ["memory_add", "memory_update"],
    "project": PROJECT_ID,
    "is_active": True,
    "created_at": openapi.CREATED,
    "updated_at": openapi.CREATED,
}
SECRET_EXAMPLE = "whsec_LA3fq6Ey14osB4Sp1YRXRaYZ7LfqzARlGuDwLi/51tQ="
JOB_ID = "6a1f0c2e-3b4d-4e5f-8a9b-0c1d2e3f4a5b"
PROFILE_EXAMPLE = {
    "entity_type": "user",
    "entity_id": "alice",
    "status": "succeeded",
    "profile": {
        "summary": "2 memories.\n- User loves green tea\n- User lives in Lisbon",
        "facts": ["User loves green tea", "User lives in Lisbon"],
        "categories": {},
        "total_memories": 2,
        "first_activity": openapi.CREATED,
        "last_activity": openapi.UPDATED,
    },
    "updated_at": openapi.UPDATED,
    "generation_count": 1,
}


# --- projects ----------------------------------------------------------------------------------


class ProjectsView(Mem0View):
    """``/api/v1/orgs/organizations/{org}/projects/``: list (the key's project; every project of the
    organisation for an organisation key) and create (organisation keys only)."""

    required_scope = {"GET": "read", "POST": "admin"}

    @extend_schema(
        operation_id="projects_list",
        summary="List projects",
        description="The key's project; for an organisation key, every project of its organisation.",
        tags=[openapi.PLATFORM],
        parameters=[ORG_PARAM],
        responses={
            200: ProjectData(many=True),
            **openapi.errors(404, e404=("NOT_FOUND", "Organization not found", None)),
        },
        examples=[openapi.example("Projects", [{**PROJECT_EXAMPLE, "description": ""}])],
    )
    def get(self, request, org_id: str):
        project_for_key(api_key=request.auth, org_id=org_id)
        return Response([project_data(project) for project in projects_for_key(api_key=request.auth)])

    @extend_schema(
        operation_id="project_create",
        summary="Create a project",
        description="A new, empty project in the key's organisation (what the SDK's `project.create()` sends). "
        "Only an organisation key (`createapikey --org-admin`) may create projects; a project key gets a 403. "
        "Its name must be new in the organisation (else 409). Make keys for it with `createapikey`.",
        tags=[openapi.PLATFORM],
        parameters=[ORG_PARAM],
        request=ProjectCreateRequest,
        responses={
            201: ProjectCreated,
            **openapi.errors(
                404,
                409,
                422,
                e404=("NOT_FOUND", "Organization not found", None),
                e403=("FORBIDDEN", ORG_KEY_ONLY, None),
            ),
        },
        examples=[
            openapi.example("New project", {"name": "Support bot", "description": "Tickets"}, request=True),
            openapi.example(
                "Created",
                {
                    "message": "Project created successfully.",
                    **PROJECT_EXAMPLE,
                    "name": "Support bot",
                    "description": "Tickets",
                },
                status=201,
            ),
        ],
    )
    def post(self, request, org_id: str):
        organization = project_for_key(api_key=request.auth, org_id=org_id)
        if not request.auth.is_organization_key:
            raise Forbidden(ORG_KEY_ONLY)
        data = body_of(request)
        refuse_unknown(data, {"name", "description"})
        project = project_create(organization=organization, name=data.get("name"), description=data.get("description"))
        return Response({"message": "Project created successfully.", **project_data(project)}, status=201)


class ProjectDetailView(Mem0View):
    """``/api/v1/orgs/organizations/{org}/projects/{project}/``: get, update options, delete (admin).
    An organisation key reaches every project of its organisation; other keys only their own."""

    required_scope = {"GET": "read", "PATCH": "admin", "DELETE": "admin"}
    query_params = {"GET": frozenset({"fields"})}

    def _project(self, request, org_id: str, project_id: str):
        return project_for_key(api_key=request.auth, org_id=org_id, project_id=project_id)

    @extend_schema(
        operation_id="project_get",
        summary="Get the key's project",
        description="The project's id, name and Mem0 options. Any other organisation or project is a 404.",
        tags=[openapi.PLATFORM],
        parameters=[
            ORG_PARAM,
            PROJECT_PARAM,
            openapi.query("fields", description="Only these keys (and `id`): `a,b` or `['a', 'b']`."),
        ],
        responses={
            200: OpenApiResponse(
                responses.narrowed(ProjectData, "PickedProject"),
                description="Only the `fields` asked for (and `id`), if any.",
            ),
            **openapi.errors(404, **NOT_FOUND),
        },
        examples=[openapi.example("Project", {**PROJECT_EXAMPLE, "description": ""})],
    )
    def get(self, request, org_id: str, project_id: str):
        data = project_data(self._project(request, org_id, project_id))
        fields = request.query_params.get("fields")
        if fields:
            wanted = {f.strip() for f in fields.strip("[]").replace("'", "").replace('"', "").split(",")}
            data = {k: v for k, v in data.items() if k in wanted or k == "id"}
        return Response(data)

    @extend_schema(
        operation_id="project_update",
        summary="Update the project's options",
        description="Sets Mem0 project options (what the SDK's `project.update()` sends); `null` removes one.",
        tags=[openapi.PLATFORM],
        parameters=[ORG_PARAM, PROJECT_PARAM],
        request=ProjectUpdateRequest,
        responses={200: ProjectUpdated, **openapi.errors(404, 422, **NOT_FOUND)},
        examples=[
            openapi.example("Instructions", {"custom_instructions": "Remember food preferences only."}, request=True),
            openapi.example(
                "Updated",
                {
                    "message": "Updated project settings",
                    **PROJECT_EXAMPLE,
                    "description": "",
                    "custom_instructions": "Remember food preferences only.",
                },
            ),
        ],
    )
    def patch(self, request, org_id: str, project_id: str):
        project = self._project(request, org_id, project_id)
        data = body_of(request)
        refuse_unknown(data, PROJECT_OPTIONS)
        options = {name: value for name, value in data.items() if name in PROJECT_OPTIONS}
        project = project_update_options(project=project, options=options)
        return Response({"message": "Updated project settings", **project_data(project)})

    @extend_schema(
        operation_id="project_delete",
        summary="Delete a project",
        description="Deletes the project with everything it owns: memories, history, relationships, webhooks and "
        "API keys (the key making the call too, when it is the project's own).",
        tags=[openapi.PLATFORM],
        parameters=[ORG_PARAM, PROJECT_PARAM],
        responses={200: MESSAGE, **openapi.errors(404, **NOT_FOUND)},
        examples=[openapi.example("Deleted", {"message": "Project deleted successfully."})],
    )
    def delete(self, request, org_id: str, project_id: str):
        project_delete(project=self._project(request, org_id, project_id))
        return Response({"message": "Project deleted successfully."})


def member_data(member) -> dict:
    return {
        "email": member.user.email,
        "username": member.user.get_username(),
        "role": member.role,
        "created_at": member.created_at,
    }


class ProjectMembersView(Mem0View):
    """``/api/v1/orgs/organizations/{org}/projects/{project}/members/``: list, add, change the role of
    and remove (admin) the users of a project. Members are users of the project's organisation,
    found by email."""

    required_scope = "admin"
    query_params = {"DELETE": frozenset({"email"})}

    def _project(self, request, org_id, project_id):
        return project_for_key(api_key=request.auth, org_id=org_id, project_id=project_id)

    @extend_schema(
        operation_id="project_members_list",
        summary="List a project's members",
        tags=[openapi.PLATFORM],
        parameters=[ORG_PARAM, PROJECT_PARAM],
        responses={200: Members, **openapi.errors(404, **NOT_FOUND)},
        examples=[
            openapi.example(
                "Members",
                {"members": [MEMBER_EXAMPLE], "results": [MEMBER_EXAMPLE]},
            )
        ],
    )
    def get(self, request, org_id: str, project_id: str):
        members = [member_data(m) for m in project_member_list(project=self._project(request, org_id, project_id))]
        return Response({"members": members, "results": members})

    @extend_schema(
        operation_id="project_member_add",
        summary="Add a member",
        description="Gives an existing user (by email) a role, `READER` (default) or `OWNER`. An unknown email is "
        "a 422, a user already in the project a 409.",
        tags=[openapi.PLATFORM],
        parameters=[ORG_PARAM, PROJECT_PARAM],
        request=MemberRequest,
        responses={200: MESSAGE, **openapi.errors(404, 409, 422, **NOT_FOUND)},
        examples=[
            openapi.example("Reader", {"email": "ana@example.com", "role": "READER"}, request=True),
            openapi.example("Added", {"message": "User added to the project successfully."}),
        ],
    )
    def post(self, request, org_id: str, project_id: str):
        project = self._project(request, org_id, project_id)
        data = body_of(request)
        refuse_unknown(data, {"email", "role"})
        project_member_add(project=project, email=data.get("email"), role=data.get("role", ProjectMember.Role.READER))
        return Response({"message": "User added to the project successfully."})

    @extend_schema(
        operation_id="project_member_update",
        summary="Change a member's role",
        tags=[openapi.PLATFORM],
        parameters=[ORG_PARAM, PROJECT_PARAM],
        request=MemberRequest,
        responses={200: MESSAGE, **openapi.errors(404, 422, **NOT_FOUND)},
        examples=[
            openapi.example("Owner", {"email": "ana@example.com", "role": "OWNER"}, request=True),
            openapi.example("Updated", {"message": "User role updated successfully."}),
        ],
    )
    def put(self, request, org_id: str, project_id: str):
        project = self._project(request, org_id, project_id)
        data = body_of(request)
        refuse_unknown(data, {"email", "role"})
        project_member_update(project=project, email=data.get("email"), role=data.get("role"))
        return Response({"message": "User role updated successfully."})

    @extend_schema(
        operation_id="project_member_remove",
        summary="Remove a member",
        tags=[openapi.PLATFORM],
        parameters=[ORG_PARAM, PROJECT_PARAM, openapi.query("email", description="The member's email.", required=True)],
        responses={200: MESSAGE, **openapi.errors(404, 422, **NOT_FOUND)},
        examples=[openapi.example("Removed", {"message": "User removed from the project successfully."})],
    )
    def delete(self, request, org_id: str, project_id: str):
        project = self._project(request, org_id, project_id)
        project_member_remove(project=project, email=request.query_params.get("email"))
        return Response({"message": "User removed from the project successfully."})


# --- webhooks ----------------------------------------------------------------------------------


def webhook_data(webhook: Webhook) -> dict:
    return {
        "webhook_id": webhook.id,
        "id": webhook.id,
        "name": webhook.name,
        "url": webhook.url,
        "event_types": webhook.event_types,
        "project": str(webhook.project_id),
        "is_active": webhook.is_active,
        "created_at": webhook.created_at,
        "updated_at": webhook.updated_at,
    }


WEBHOOK_PROJECT_PARAM = openapi.path_param(
    "project_id", "The key's project, or (organisation key) another project of its organisation.", PROJECT_ID
)
WEBHOOK_NOT_FOUND = {"e404": ("NOT_FOUND", "Webhook not found", {"webhook_id": "7"})}


class ProjectWebhooksView(Mem0View):
    """``/api/v1/webhooks/projects/{project_id}/``: a project's webhooks and a new one (admin: their
    URLs are the tenant's own endpoints)."""

    required_scope = "admin"

    def _project(self, request, project_id):
        return project_for_key(api_key=request.auth, org_id=request.auth.project.organization_id, project_id=project_id)

    @extend_schema(
        operation_id="webhooks_list",
        summary="List a project's webhooks",
        tags=[openapi.PLATFORM],
        parameters=[WEBHOOK_PROJECT_PARAM],
        responses={200: WebhookData(many=True), **openapi.errors(404, **NOT_FOUND)},
        examples=[openapi.example("Webhooks", [WEBHOOK_EXAMPLE])],
    )
    def get(self, request, project_id: str):
        return Response([webhook_data(w) for w in webhook_list(project=self._project(request, project_id))])

    @extend_schema(
        operation_id="webhook_create",
        summary="Create a webhook",
        description="`event_types` from: " + ", ".join(f"`{e}`" for e in WEBHOOK_EVENT_TYPES) + ". The "
        "`deliverwebhooks` worker posts `memory_add`, `memory_update` and `memory_delete` events made after the "
        'webhook to its URL (`{"event_type", "webhook_id", "project_id", "event_details": {"id", '
        '"event", "data": {"memory"}, ...}}`), never from inside a request; the other types are accepted '
        "and stored but nothing emits them yet. The URL must reach a public address (loopback, link-local, "
        "private and other special addresses are refused with 422 unless the operator set "
        "`WEBHOOK_ALLOW_PRIVATE=true`). The answer carries the webhook's signing `secret`, the only time "
        "it is shown (`POST /api/v1/webhooks/{webhook_id}/secret/` makes a new one).",
        tags=[openapi.PLATFORM],
        parameters=[WEBHOOK_PROJECT_PARAM],
        request=WebhookRequest,
        responses={201: WebhookCreated, **openapi.errors(404, 422, **NOT_FOUND)},
        examples=[
            openapi.example(
                "New webhook",
                {"name": "Memory logger", "url": "https://example.com/hooks/mem0", "event_types": ["memory_add"]},
                request=True,
            ),
            openapi.example("Created", {**WEBHOOK_EXAMPLE, "secret": SECRET_EXAMPLE}, status=201),
        ],
    )
    def post(self, request, project_id: str):
        project = self._project(request, project_id)
        data = body_of(request)
        refuse_unknown(data, {"name", "url", "event_types"})
        webhook = webhook_create(
            project=project, name=data.get("name"), url=data.get("url"), event_types=data.get("event_types")
        )
        return Response({**webhook_data(webhook), "secret": webhook.secret}, status=201)


class WebhookView(Mem0View):
    """``/api/v1/webhooks/{webhook_id}/``: change (PUT) or delete a webhook (admin)."""

    required_scope = "admin"

    @extend_schema(
        operation_id="webhook_update",
        summary="Update a webhook",
        description="Changes what is given of `name`, `url`, `event_types`. A new `url` must reach a public "
        "address, as at creation. The signing secret is not shown; rotate it with "
        "`POST /api/v1/webhooks/{webhook_id}/secret/`.",
        tags=[openapi.PLATFORM],
        parameters=[openapi.path_param("webhook_id", "The webhook's id (a whole number).", "7")],
        request=WebhookUpdateRequest,
        responses={200: WebhookUpdated, **openapi.errors(404, 422, **WEBHOOK_NOT_FOUND)},
        examples=[
            openapi.example("New events", {"event_types": ["memory_add", "memory_delete"]}, request=True),
            openapi.example(
                "Updated",
                {
                    "message": "Webhook updated successfully",
                    **WEBHOOK_EXAMPLE,
                    "event_types": ["memory_add", "memory_delete"],
                },
            ),
        ],
    )
    def put(self, request, webhook_id: str):
        webhook = webhook_get(api_key=request.auth, webhook_id=webhook_id)
        data = body_of(request)
        refuse_unknown(data, {"name", "url", "event_types"})
        webhook = webhook_update(
            webhook=webhook,
            name=data.get("name", UNSET),
            url=data.get("url", UNSET),
            event_types=data.get("event_types", UNSET),
        )
        return Response({"message": "Webhook updated successfully", **webhook_data(webhook)})

    @extend_schema(
        operation_id="webhook_delete",
        summary="Delete a webhook",
        tags=[openapi.PLATFORM],
        parameters=[openapi.path_param("webhook_id", "The webhook's id (a whole number).", "7")],
        responses={200: MESSAGE, **openapi.errors(404, **WEBHOOK_NOT_FOUND)},
        examples=[openapi.example("Deleted", {"message": "Webhook deleted successfully"})],
    )
    def delete(self, request, webhook_id: str):
        webhook_delete(webhook=webhook_get(api_key=request.auth, webhook_id=webhook_id))
        return Response({"message": "Webhook deleted successfully"})


class WebhookSecretView(ApiView):
    """``POST /api/v1/webhooks/{webhook_id}/secret/``: a new signing secret, shown once (admin)."""

    required_scope = "admin"

    @extend_schema(
        operation_id="webhook_secret_rotate",
        summary="Rotate a webhook's signing secret",
        description="Replaces the webhook's signing secret and answers the new one, the only time it is shown. "
        "Deliveries from now on are signed with it alone: the old secret stops verifying at once.",
        tags=[openapi.PLATFORM],
        parameters=[openapi.path_param("webhook_id", "The webhook's id (a whole number).", "7")],
        request=None,
        responses={200: WebhookSecret, **openapi.errors(404, **WEBHOOK_NOT_FOUND)},
        examples=[
            openapi.example(
                "Rotated",
                {"message": "Webhook secret rotated", "webhook_id": 7, "secret": SECRET_EXAMPLE},
            )
        ],
    )
    def post(self, request, webhook_id: str):
        webhook = webhook_get(api_key=request.auth, webhook_id=webhook_id)
        secret = webhook_secret_rotate(webhook=webhook)
        return Response({"message": "Webhook secret rotated", "webhook_id": webhook.id, "secret": secret})


# --- entities created before their first memory --------------------------------------------------


class EntityCreateView(Mem0View):
    """``POST /v1/users/`` (and agents, apps, runs): register an entity so that ``GET /v1/entities/``
    lists it (with 0 memories) before it has memories. Registering it again updates it."""

    required_scope = "write"
    user_keys = True
    entity_type = "user"

    def post(self, request):
        data = body_of(request)
        field = f"{self.entity_type}_id"
        refuse_unknown(data, {field, "name", "metadata"})
        name = data.get(field)
        if request.auth.user_id is not None:
            if self.entity_type != "user":
                raise Forbidden("A key restricted to one user can register only that user")
            name = key_user(request.auth, name)
        entity, created = entity_register(
            project=request.auth.project,
            entity_type=self.entity_type,
            name=name,
            display_name=data.get("name"),
            metadata=data.get("metadata"),
        )
        body = {
            field: entity.name,
            "type": entity.type,
            "metadata": entity.metadata,
            "created": created,
            "created_at": entity.created_at,
        }
        if entity.display_name:
            body["name"] = entity.display_name
        return Response(body, status=201 if created else 200)


def _entity_create_view(entity_type: str, plural: str):
    field = f"{entity_type}_id"
    request_shape = type(
        f"Create{entity_type.title()}Request", (EntityCreateRequest,), {field: serializers.CharField()}
    )
    response_shape = type(f"{entity_type.title()}Created", (EntityCreated,), {field: serializers.CharField()})
    example_id = {"user": "alice", "agent": "support-bot", "app": "helpdesk", "run": "trip-42"}[entity_type]

    def post(self, request):
        return EntityCreateView.post(self, request)

    post = extend_schema(
        operation_id=f"{plural}_create",
        summary=f"Create a {'run' if entity_type == 'run' else entity_type}",
        description=f"Registers `{field}` so `GET /v1/entities/` lists it with 0 memories until it has some "
        "(201; 200 when it was registered already, then its name and metadata are updated). An entity also "
        "exists, without this, once it has memories.",
        tags=[openapi.PLATFORM],
        request=request_shape,
        responses={201: response_shape, 200: response_shape, **openapi.errors(404, 422)},
        examples=[
            openapi.example("New", {field: example_id, "metadata": {"plan": "pro"}}, request=True),
            openapi.example(
                "Created",
                {
                    field: example_id,
                    "type": entity_type,
                    "metadata": {"plan": "pro"},
                    "created": True,
                    "created_at": openapi.CREATED,
                },
                status=201,
            ),
        ],
    )(post)
    return type(f"{entity_type.title()}CreateView", (EntityCreateView,), {"entity_type": entity_type, "post": post})


UserCreateView = _entity_create_view("user", "users")
AgentCreateView = _entity_create_view("agent", "agents")
AppCreateView = _entity_create_view("app", "apps")
RunCreateView = _entity_create_view("run", "runs")


# --- user profiles -------------------------------------------------------------------------------


def _job_data(job: ProfileJob) -> dict:
    done = job.succeeded + job.failed + job.skipped
    return {
        "id": str(job.id),
        "job_id": str(job.id),
        "status": job.status,
        "operation": job.operation,
        "entity_type": job.entity_type,
        "entity_ids": job.entity_ids,
        "total": len(job.entity_ids),
        "completed": done,
        "succeeded": job.succeeded,
        "failed": job.failed,
        "skipped": job.skipped,
        "enumeration_complete": True,
        "created_at": job.created_at,
        "finished_at": job.finished_at,
    }


class UserProfileView(Mem0View):
    """``GET /v2/entities/user/{user_id}/profile/``: the user's profile and its status."""

    required_scope = "read"
    user_keys = True

    @extend_schema(
        operation_id="user_profile_get",
        summary="A user's profile",
        description="The profile last built by a profile job (`POST /v2/profiles/jobs/`), from the user's memories: "
        "a digest, recent facts, categories and, when the settings have a schema, the facts matching each "
        "property. `status`: `succeeded`, `pending` (not built yet), `insufficient_data` (no memories), "
        "`not_enabled`. A user the project does not know is a 404.",
        tags=[openapi.PLATFORM],
        parameters=[examples.USER_ID_PARAM],
        responses={200: UserProfileData, **openapi.errors(404, 422, e404=openapi.USER_NOT_FOUND)},
        examples=[openapi.example("Built", PROFILE_EXAMPLE)],
    )
    def get(self, request, user_id: str):
        return Response(
            user_profile_get(project=request.auth.project, user_id=user_id, within_user=request.auth.user_id)
        )


IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    description="The same key again returns the job it first made (`replayed: true`) and runs nothing; "
    "with a different body, a 409.",
    examples=[OpenApiExample("Key", value="b7f3c0d2a1e94f5c")],
)


class ProfileJobsView(Mem0View):
    """``POST /v2/profiles/jobs/``: build profiles now (``trigger`` one user, ``sample`` a few)."""

    required_scope = "write"
    user_keys = True

    @extend_schema(
        operation_id="profile_jobs_create",
        summary="Build profiles",
        description="`trigger` builds (or rebuilds) `entity_id`'s profile; `sample` those of the `limit` (1-10, "
        "default 3) users with the most memories. The job runs to completion before this answers (status "
        "`succeeded`); users without memories are `skipped`. Profiles disabled in the settings: 422.",
        tags=[openapi.PLATFORM],
        parameters=[IDEMPOTENCY_HEADER],
        request=ProfileJobRequest,
        responses={200: ProfileJobCreated, **openapi.errors(404, 409, 422, e404=openapi.USER_NOT_FOUND)},
        examples=[
            openapi.example(
                "Trigger", {"operation": "trigger", "entity_type": "user", "entity_id": "alice"}, request=True
            ),
            openapi.example(
                "Done",
                {
                    "job_id": JOB_ID,
                    "status": "succeeded",
                    "status_url": f"/v2/profiles/jobs/{JOB_ID}/",
                    "operation": "trigger",
                    "entity_type": "user",
                    "entity_count_reserved": 1,
                    "event_id": JOB_ID,
                    "replayed": False,
                    "sampled": 1,
                    "entity_ids": ["alice"],
                },
            ),
        ],
    )
    def post(self, request):
        data = body_of(request)
        refuse_unknown(data, {"operation", "entity_type", "entity_id", "limit"})
        job, replayed = profile_job_create(
            project=request.auth.project,
            operation=data.get("operation"),
            entity_type=data.get("entity_type", "user"),
            entity_id=data.get("entity_id"),
            limit=data.get("limit"),
            idempotency_key=request.headers.get("Idempotency-Key"),
            within_user=request.auth.user_id,
        )
        return Response(
            {
                "job_id": str(job.id),
                "status": job.status,
                "status_url": f"/v2/profiles/jobs/{job.id}/",
                "operation": job.operation,
                "entity_type": job.entity_type,
                "entity_count_reserved": len(job.entity_ids),
                "event_id": str(job.id),
                "replayed": replayed,
                "sampled": len(job.entity_ids),
                "entity_ids": job.entity_ids,
            }
        )


class ProfileJobView(Mem0View):
    """``GET /v2/profiles/jobs/{job_id}/``: one profile job."""

    required_scope = "read"
    user_keys = True

    @extend_schema(
        operation_id="profile_job_get",
        summary="A profile job",
        tags=[openapi.PLATFORM],
        parameters=[openapi.path_param("job_id", "The job's id.", JOB_ID)],
        responses={200: ProfileJobResponse, **openapi.errors(404, e404=("NOT_FOUND", "Profile job not found", None))},
        examples=[
            openapi.example(
                "Job",
                {
                    "job": {
                        "id": JOB_ID,
                        "job_id": JOB_ID,
                        "status": "succeeded",
                        "operation": "trigger",
                        "entity_type": "user",
                        "entity_ids": ["alice"],
                        "total": 1,
                        "completed": 1,
                        "succeeded": 1,
                        "failed": 0,
                        "skipped": 0,
                        "enumeration_complete": True,
                        "created_at": openapi.CREATED,
                        "finished_at": openapi.CREATED,
                    }
                },
            )
        ],
    )
    def get(self, request, job_id: str):
        job = profile_job_get(project=request.auth.project, job_id=job_id, within_user=request.auth.user_id)
        return Response({"job": _job_data(job)})


CAPABILITIES = {"entity_types": ["user"], "operations": ["trigger", "sample"], "generation": "deterministic"}


def _settings_data(row) -> dict:
    return {
        "enabled": row.enabled,
        "capabilities": CAPABILITIES,
        "entities": {"user": {"schema": row.schema, "custom_instructions": row.custom_instructions}},
        "updated_at": row.updated_at if row.pk else None,
    }


SETTINGS_EXAMPLE_SCHEMA = {"type": "object", "properties": {"diet": {"type": "array", "description": "What they eat"}}}
SETTINGS_EXAMPLE = {
    "enabled": True,
    "capabilities": CAPABILITIES,
    "entities": {
        "user": {
            "schema": SETTINGS_EXAMPLE_SCHEMA,
            "custom_instructions": None,
        }
    },
    "updated_at": openapi.UPDATED,
}


class ProfileSettingsView(Mem0View):
    """``/v2/profiles/settings/``: the project's profile settings (read; changing them: admin)."""

    required_scope = {"GET": "read", "POST": "admin"}

    @extend_schema(
        operation_id="profile_settings_get",
        summary="Profile settings",
        description="Profiles are enabled by default, without a schema.",
        tags=[openapi.PLATFORM],
        responses={200: ProfileSettingsData, **openapi.errors()},
        examples=[openapi.example("Settings", SETTINGS_EXAMPLE)],
    )
    def get(self, request):
        return Response(_settings_data(profile_settings_get(project=request.auth.project)))

    @extend_schema(
        operation_id="profile_settings_update",
        summary="Change the profile settings",
        description="`enabled` (project-wide) and, under `entities.user`, `schema` (a JSON Schema whose every "
        "property has a `description`) and `custom_instructions`; what is absent stays, `null` clears. Other "
        "keys, or `schema` at the top level, are a 400 `Unsupported settings`.",
        tags=[openapi.PLATFORM],
        request=ProfileSettingsRequest,
        responses={200: ProfileSettingsData, **openapi.errors(422)},
        examples=[
            openapi.example("Schema", {"entities": {"user": {"schema": SETTINGS_EXAMPLE_SCHEMA}}}, request=True),
            openapi.example("Stored", SETTINGS_EXAMPLE),
        ],
    )
    def post(self, request):
        data = body_of(request)
        if not data:
            raise InvalidRequest("Give enabled and/or entities")
        row = profile_settings_update(project=request.auth.project, data=data)
        return Response(_settings_data(row))
