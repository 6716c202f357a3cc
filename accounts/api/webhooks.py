"""``/api/v1/webhooks/...``: a project's webhooks, their changes, deletion and signing secrets."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from accounts.api.common import NOT_FOUND, PROJECT_ID, PROJECT_PARAM
from accounts.models import WEBHOOK_EVENT_TYPES, Webhook
from accounts.selectors import project_for_key, webhook_get, webhook_list
from accounts.services import webhook_create, webhook_delete, webhook_secret_rotate, webhook_update
from mem0g_site import openapi
from mem0g_site.api import ApiView, Mem0View
from mem0g_site.api_kit.contract import Contract, given, read
from mem0g_site.api_kit.parsing import body_of
from mem0g_site.api_kit.responses import MessageResponse as MESSAGE
from mem0g_site.inputs import UNSET


def _webhook_contract(name: str, *, required: bool) -> type[Contract]:
    """A new webhook (every field ``required``) or a change (what is given); the service checks the values."""
    return type(
        name,
        (Contract,),
        {
            "__doc__": "A new webhook." if required else "What to change (what is absent stays).",
            "name": given(serializers.CharField, max_length=200, required=required),
            "url": given(serializers.URLField, required=required),
            "event_types": given(
                serializers.ListField, child=serializers.ChoiceField(choices=WEBHOOK_EVENT_TYPES), required=required
            ),
        },
    )


WebhookRequest = _webhook_contract("WebhookRequest", required=True)
WebhookUpdateRequest = _webhook_contract("WebhookUpdateRequest", required=False)


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


WEBHOOK_ID_PARAM = openapi.path_param("webhook_id", "The webhook's id (a whole number).", "7")
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
        parameters=[PROJECT_PARAM],
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
        parameters=[PROJECT_PARAM],
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
        values = read(WebhookRequest, body_of(request))
        webhook = webhook_create(
            project=project, name=values.get("name"), url=values.get("url"), event_types=values.get("event_types")
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
        parameters=[WEBHOOK_ID_PARAM],
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
        values = read(WebhookUpdateRequest, body_of(request))
        webhook = webhook_update(
            webhook=webhook,
            name=values.get("name", UNSET),
            url=values.get("url", UNSET),
            event_types=values.get("event_types", UNSET),
        )
        return Response({"message": "Webhook updated successfully", **webhook_data(webhook)})

    @extend_schema(
        operation_id="webhook_delete",
        summary="Delete a webhook",
        tags=[openapi.PLATFORM],
        parameters=[WEBHOOK_ID_PARAM],
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
        parameters=[WEBHOOK_ID_PARAM],
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
