"""``/v2/entities/user/{user_id}/profile/`` and ``/v2/profiles/...``: user profiles, the jobs that
build them, and the project's profile settings."""

from collections.abc import Mapping

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from accounts.models import ProfileJob
from accounts.selectors import profile_job_get, profile_settings_get, user_profile_get
from accounts.services import profile_job_create, profile_settings_update
from mem0g_site import openapi
from mem0g_site.api import Mem0View
from mem0g_site.api_kit import examples
from mem0g_site.api_kit.contract import Contract, given, read
from mem0g_site.api_kit.parsing import body_of
from mem0g_site.exceptions import InvalidRequest


class UserProfileData(serializers.Serializer):
    entity_type = serializers.CharField()
    entity_id = serializers.CharField()
    status = serializers.ChoiceField(choices=["succeeded", "pending", "not_enabled", "insufficient_data"])
    profile = openapi.ObjectField(allow_null=True)
    updated_at = serializers.DateTimeField(allow_null=True)
    generation_count = serializers.IntegerField()


class ProfileJobRequest(Contract):
    """`trigger`: build `entity_id`'s profile; `sample`: those of `limit` users."""

    # The service checks the values (and which operation needs which).

    operation = given(serializers.ChoiceField, choices=ProfileJob.Operation.values, required=True)
    entity_type = given(serializers.ChoiceField, choices=["user"])
    entity_id = given(serializers.CharField, help_text="`trigger`: the user.")
    limit = given(serializers.IntegerField, min_value=1, max_value=10, help_text="`sample`: how many users.")


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


class ProfileSettingsRequest(Contract):
    """`enabled` and `entities.user`; any other key is a 400 `Unsupported settings`."""

    # Handed to the service whole: it refuses other keys (where Mem0's other routes ignore unknown
    # fields) and checks the values; the fields here document them.

    enabled = serializers.BooleanField(required=False)
    entities = ProfileEntities(required=False)

    def to_internal_value(self, data):
        if not isinstance(data, Mapping):
            raise InvalidRequest("The request body must be a JSON object")
        if not data:
            raise InvalidRequest("Give enabled and/or entities")
        return dict(data)


class ProfileSettingsData(serializers.Serializer):
    enabled = serializers.BooleanField()
    capabilities = openapi.ObjectField()
    entities = ProfileEntities()
    updated_at = serializers.DateTimeField(allow_null=True)


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
        values = read(ProfileJobRequest, body_of(request))
        job, replayed = profile_job_create(
            project=request.auth.project,
            operation=values.get("operation"),
            entity_type=values.get("entity_type", "user"),
            entity_id=values.get("entity_id"),
            limit=values.get("limit"),
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
        changes = read(ProfileSettingsRequest, body_of(request))
        row = profile_settings_update(project=request.auth.project, data=changes)
        return Response(_settings_data(row))
