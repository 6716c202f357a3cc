"""``POST /v1/users/`` (and agents, apps, runs): entities registered before their first memory."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from accounts.access import key_user
from accounts.services import entity_register
from mem0g_site import openapi
from mem0g_site.api import Mem0View
from mem0g_site.api_kit.contract import Contract, given, read
from mem0g_site.api_kit.parsing import body_of
from mem0g_site.exceptions import Forbidden


class EntityCreateRequest(Contract):
    """An entity to register: its id (`user_id`, `agent_id`, `app_id` or `run_id`), a display name and metadata."""

    # Each route's contract adds its id field (_entity_create_view); the service checks the values.

    name = given(serializers.CharField, help_text="A display name (agents, apps, runs).")
    metadata = given(openapi.ObjectField)


class EntityCreated(serializers.Serializer):
    type = serializers.ChoiceField(choices=["user", "agent", "app", "run"])
    name = serializers.CharField(required=False)
    metadata = openapi.ObjectField()
    created = serializers.BooleanField(help_text="False when the entity was already registered (then updated).")
    created_at = serializers.DateTimeField()


class EntityCreateView(Mem0View):
    """``POST /v1/users/`` (and agents, apps, runs): register an entity so that ``GET /v1/entities/``
    lists it (with 0 memories) before it has memories. Registering it again updates it."""

    required_scope = "write"
    user_keys = True
    entity_type = "user"
    contract: type[Contract]  # EntityCreateRequest with the entity's id field

    def post(self, request):
        values = read(self.contract, body_of(request))
        field = f"{self.entity_type}_id"
        name = values.get(field)
        if request.auth.user_id is not None:
            if self.entity_type != "user":
                raise Forbidden("A key restricted to one user can register only that user")
            name = key_user(request.auth, name)
        entity, created = entity_register(
            project=request.auth.project,
            entity_type=self.entity_type,
            name=name,
            display_name=values.get("name"),
            metadata=values.get("metadata"),
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
    contract = type(
        f"Create{entity_type.title()}Request",
        (EntityCreateRequest,),
        {field: given(serializers.CharField, required=True)},
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
        request=contract,
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
    return type(
        f"{entity_type.title()}CreateView",
        (EntityCreateView,),
        {"entity_type": entity_type, "contract": contract, "post": post},
    )


UserCreateView = _entity_create_view("user", "users")
AgentCreateView = _entity_create_view("agent", "agents")
AppCreateView = _entity_create_view("app", "apps")
RunCreateView = _entity_create_view("run", "runs")
