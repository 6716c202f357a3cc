"""``GET /v1/ping/``: the Mem0 SDK's constructor check of its key (its organisation and project)."""

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from mem0g_site import openapi
from mem0g_site.api import Mem0View
from memories.api import responses


class PingView(Mem0View):
    """``GET /v1/ping/``: the SDK's constructor check. ``org_id`` and ``project_id`` must be non-empty."""

    required_scope = None
    user_keys = True

    @extend_schema(
        operation_id="ping",
        summary="Check the key",
        description="What the SDK's constructor calls: the key's organisation and project.",
        tags=[openapi.PLATFORM],
        responses={200: responses.PingResponse, **openapi.errors()},
        examples=[
            openapi.example(
                "Pong",
                {
                    "status": "ok",
                    "message": "pong",
                    "org_id": "1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9",
                    "project_id": "5d1c2b3a-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
                    "org_name": "Default",
                    "project_name": "Default",
                    "user_email": "mem0_AbCdEfG@default.mem0g",
                },
            )
        ],
    )
    def get(self, request):
        project = request.auth.project
        return Response(
            {
                "status": "ok",
                "message": "pong",
                "org_id": str(project.organization_id),
                "project_id": str(project.id),
                "org_name": project.organization.name,
                "project_name": project.name,
                "user_email": f"{request.auth.prefix}@{project.organization.slug}.mem0g",
            }
        )
