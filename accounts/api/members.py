"""``/api/v1/orgs/organizations/{org}/projects/{project}/members/``: the users of a project and
their roles."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from accounts.api.common import NOT_FOUND, ORG_PARAM, PROJECT_PARAM
from accounts.models import ProjectMember
from accounts.selectors import project_for_key, project_member_list
from accounts.services import project_member_add, project_member_remove, project_member_update
from mem0g_site import openapi
from mem0g_site.api import Mem0View
from mem0g_site.api_kit.contract import Contract, given, read
from mem0g_site.api_kit.parsing import body_of
from mem0g_site.api_kit.responses import MessageResponse as MESSAGE


class MemberRequest(Contract):
    """A member to add, or whose role to change."""

    # The service checks both values (an unknown email is a 422, as a user of another organisation).

    email = given(serializers.EmailField, required=True, help_text="The email of an existing user of this server.")
    role = given(serializers.ChoiceField, choices=ProjectMember.Role.values, help_text="Default `READER`.")


class MemberQuery(Contract):
    """The member to remove."""

    email = given(serializers.CharField, required=True, allow_blank=True, help_text="The member's email.")


class Member(serializers.Serializer):
    email = serializers.EmailField()
    username = serializers.CharField()
    role = serializers.ChoiceField(choices=ProjectMember.Role.values)
    created_at = serializers.DateTimeField()


class Members(serializers.Serializer):
    members = Member(many=True)
    results = Member(many=True, help_text="The same list as `members`.")


MEMBER_EXAMPLE = {"email": "ana@example.com", "username": "ana", "role": "OWNER", "created_at": openapi.CREATED}


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
    query_params = {"DELETE": frozenset(MemberQuery().fields)}

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
        values = read(MemberRequest, body_of(request))
        project_member_add(
            project=project, email=values.get("email"), role=values.get("role", ProjectMember.Role.READER)
        )
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
        values = read(MemberRequest, body_of(request))
        project_member_update(project=project, email=values.get("email"), role=values.get("role"))
        return Response({"message": "User role updated successfully."})

    @extend_schema(
        operation_id="project_member_remove",
        summary="Remove a member",
        tags=[openapi.PLATFORM],
        parameters=[ORG_PARAM, PROJECT_PARAM, MemberQuery],
        responses={200: MESSAGE, **openapi.errors(404, 422, **NOT_FOUND)},
        examples=[openapi.example("Removed", {"message": "User removed from the project successfully."})],
    )
    def delete(self, request, org_id: str, project_id: str):
        project = self._project(request, org_id, project_id)
        email = read(MemberQuery, request.query_params.dict()).get("email")
        project_member_remove(project=project, email=email)
        return Response({"message": "User removed from the project successfully."})
