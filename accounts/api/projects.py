"""``/api/v1/orgs/organizations/{org}/projects/``: a key's projects, a new one (organisation keys),
one project's options and its deletion."""

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.response import Response

from accounts.api.common import NOT_FOUND, ORG_ID, ORG_PARAM, PROJECT_ID, PROJECT_PARAM
from accounts.selectors import project_for_key, projects_for_key
from accounts.services import PROJECT_OPTIONS, project_create, project_delete, project_update_options
from mem0g_site import openapi
from mem0g_site.api import Mem0View
from mem0g_site.api_kit.contract import Contract, Lenient, given, read
from mem0g_site.api_kit.parsing import body_of
from mem0g_site.api_kit.responses import MessageResponse as MESSAGE
from mem0g_site.api_kit.responses import narrowed
from mem0g_site.exceptions import Forbidden

PROJECT_EXAMPLE = {
    "id": PROJECT_ID,
    "project_id": PROJECT_ID,
    "org_id": ORG_ID,
    "name": "Default",
    "created_at": openapi.CREATED,
}
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


# --- the contract and the shapes ---------------------------------------------------------------

# The options' help in a request and in an answer (the options themselves: accounts.services.PROJECT_OPTIONS).
REQUEST_HELP = {
    "review_mode": "mem0g: inferred UPDATEs and SUPERSEDEs wait for review (the old fact stays current); their add "
    "results say `pending: true`."
}
ANSWER_HELP = {"review_mode": "mem0g: inferred changes wait for review."}


def _option_field(kind: type, *, request: bool, **kwargs) -> serializers.Field:
    """A project option (``accounts.services.PROJECT_OPTIONS``) in a request (as given: the service
    checks its type) or in an answer."""
    field_class = {str: serializers.CharField, list: serializers.ListField, bool: serializers.BooleanField}[kind]
    if kind is list:
        kwargs["child"] = serializers.JSONField()
    if request:
        return given(field_class, allow_null=True, **kwargs)
    return field_class(required=False, **kwargs)


class ProjectCreateRequest(Contract):
    """A new project: its name (new in the organisation) and a description."""

    # The service checks the values.
    name = given(serializers.CharField, max_length=200, required=True)
    description = given(serializers.CharField, allow_blank=True)


# ``PATCH``: the options given (``null`` removes one); the service checks each one's type.
ProjectUpdateRequest = type(
    "ProjectUpdateRequest",
    (Contract,),
    {
        "__doc__": "The options to set; `null` removes one.",
        **{
            name: _option_field(kind, request=True, help_text=REQUEST_HELP.get(name))
            for name, kind in PROJECT_OPTIONS.items()
        },
    },
)


@extend_schema_field({"type": "string"})
class ProjectFieldNames(Lenient, serializers.Field):
    """``fields``: ``a,b`` or ``['a', 'b']``, as a set of names (None: every field)."""

    def parse(self, value):
        if not value:
            return None
        return {name.strip() for name in value.strip("[]").replace("'", "").replace('"', "").split(",")}


class ProjectQuery(Contract):
    """Only some of the project's fields."""

    fields = ProjectFieldNames(help_text="Only these keys (and `id`): `a,b` or `['a', 'b']`.")


# The answer: the project and the options it has.
ProjectResponse = type(
    "ProjectResponse",
    (serializers.Serializer,),
    {
        "id": serializers.CharField(),
        "project_id": serializers.CharField(),
        "org_id": serializers.CharField(),
        "name": serializers.CharField(),
        "created_at": serializers.DateTimeField(),
        **{
            name: _option_field(
                kind,
                request=False,
                help_text=ANSWER_HELP.get(name),
            )
            for name, kind in PROJECT_OPTIONS.items()
        },
    },
)


class ProjectData(ProjectResponse):
    description = serializers.CharField()


class ProjectCreated(ProjectData):
    message = serializers.CharField()


class ProjectUpdated(ProjectData):
    message = serializers.CharField()


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
        values = read(ProjectCreateRequest, body_of(request))
        project = project_create(
            organization=organization, name=values.get("name"), description=values.get("description")
        )
        return Response({"message": "Project created successfully.", **project_data(project)}, status=201)


class ProjectDetailView(Mem0View):
    """``/api/v1/orgs/organizations/{org}/projects/{project}/``: get, update options, delete (admin).
    An organisation key reaches every project of its organisation; other keys only their own."""

    required_scope = {"GET": "read", "PATCH": "admin", "DELETE": "admin"}
    query_params = {"GET": frozenset(ProjectQuery().fields)}

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
            ProjectQuery,
        ],
        responses={
            200: OpenApiResponse(
                narrowed(ProjectData, "PickedProject"),
                description="Only the `fields` asked for (and `id`), if any.",
            ),
            **openapi.errors(404, **NOT_FOUND),
        },
        examples=[openapi.example("Project", {**PROJECT_EXAMPLE, "description": ""})],
    )
    def get(self, request, org_id: str, project_id: str):
        project = self._project(request, org_id, project_id)
        wanted = read(ProjectQuery, request.query_params.dict())["fields"]
        data = project_data(project)
        if wanted:
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
        options = read(ProjectUpdateRequest, body_of(request))
        project = project_update_options(project=project, options=dict(options))
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
