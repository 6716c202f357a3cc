"""Entities registered before they have memories, and user profiles built from their memories."""

from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import ProfileJob, ProfileSettings, Project, RegisteredEntity, UserProfile
from accounts.selectors import profile_settings_get, profile_user_exists
from accounts.services.projects import clean_name
from mem0g_site.exceptions import Conflict, InvalidRequest, UserNotFound, ValidationFailed
from memories.inputs import Scope, clean_entity_id, clean_id, clean_metadata, clean_text
from memories.models import Memory
from memories.search import memory_search
from memories.selectors import entity_list, memory_summary, user_stats

# --- entities created before they have memories ----------------------------------------------


def entity_register(
    *, project: Project, entity_type: str, name: Any, display_name: Any = None, metadata: Any = None, now=None
) -> tuple[RegisteredEntity, bool]:
    """Record a user/agent/app/run (``POST /v1/users/`` ...). Registering it again updates its name
    and metadata. Returns the row and whether it is new."""
    if entity_type not in RegisteredEntity.Type.values:
        raise ValidationFailed("entity type must be user, agent, app or run", field="entity_type")
    field = f"{entity_type}_id"
    entity_id = clean_entity_id(name, field_name=field)
    if entity_id is None:
        raise ValidationFailed(f"{field} is required", field=field)
    if display_name is not None:
        display_name = clean_name(display_name, field="name", max_length=255)
    metadata = clean_metadata(metadata) if metadata is not None else None
    now = now or timezone.now()
    entity, created = RegisteredEntity.objects.get_or_create(
        project=project,
        type=entity_type,
        name=entity_id,
        defaults={"display_name": display_name or "", "metadata": metadata or {}, "created_at": now, "updated_at": now},
    )
    if not created and (display_name is not None or metadata is not None):
        if display_name is not None:
            entity.display_name = display_name
        if metadata is not None:
            entity.metadata = metadata
        entity.updated_at = now
        entity.save(update_fields=["display_name", "metadata", "updated_at"])
    return entity, created


def entity_forget(*, project: Project, entity_type: str, name: str) -> int:
    """Drop a registered entity (and, for a user, their profile); returns how many rows went."""
    deleted, _ = RegisteredEntity.objects.filter(project=project, type=entity_type, name=name).delete()
    if entity_type == "user":
        UserProfile.objects.filter(project=project, user_id=name).delete()
    return deleted


# --- user profiles ----------------------------------------------------------------------------


def profile_settings_update(*, project: Project, data: dict, now: datetime | None = None) -> ProfileSettings:
    """Apply ``{"enabled", "entities": {"user": {"schema", "custom_instructions"}}}``; an absent key
    stays as it is, ``null`` clears ``schema``/``custom_instructions``."""
    unknown = sorted(set(data) - {"enabled", "entities", "org_id", "project_id"})
    if unknown:
        raise InvalidRequest(f"Unsupported settings: {', '.join(unknown)}", details={"unknown": unknown})
    settings_row = profile_settings_get(project=project)
    changes = {}
    if "enabled" in data:
        if not isinstance(data["enabled"], bool):
            raise ValidationFailed("enabled must be true or false", field="enabled")
        changes["enabled"] = data["enabled"]
    entities = data.get("entities")
    if entities is not None:
        if not isinstance(entities, dict) or set(entities) - {"user"}:
            raise InvalidRequest("Unsupported settings: entities takes only 'user'", details={"key": "entities"})
        user = entities.get("user") or {}
        if not isinstance(user, dict) or set(user) - {"schema", "custom_instructions"}:
            raise InvalidRequest(
                "Unsupported settings: entities.user takes schema and custom_instructions", details={"key": "user"}
            )
        if "schema" in user:
            changes["schema"] = _clean_profile_schema(user["schema"])
        if "custom_instructions" in user:
            instructions = user["custom_instructions"]
            if instructions is not None and not isinstance(instructions, str):
                raise ValidationFailed("custom_instructions must be a string or null", field="custom_instructions")
            changes["custom_instructions"] = instructions
    for field, value in changes.items():
        setattr(settings_row, field, value)
    settings_row.updated_at = now or timezone.now()
    settings_row.save()
    return settings_row


def _clean_profile_schema(schema: Any) -> dict | None:
    """A JSON Schema object whose every property has a description (what the profile is built from)."""
    if schema is None:
        return None
    properties = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(properties, dict) or not properties:
        raise ValidationFailed("schema must be a JSON Schema object with properties", field="schema")
    for name, spec in properties.items():
        if not isinstance(spec, dict) or not isinstance(spec.get("description"), str) or not spec["description"]:
            raise ValidationFailed(f"schema property {name!r} needs a description", field="schema")
        _description_query(name, spec["description"])
    return schema


def _description_query(name: str, description: Any) -> str:
    """A schema property's description is the query its facts are searched with: it follows the rule
    of any search query (``clean_text``: not blank, at most ``MEMORY_MAX_CHARS``, no NUL)."""
    try:
        return clean_text(description, field_name=f"the description of schema property {name!r}")
    except ValidationFailed as exc:
        raise ValidationFailed(exc.message, field="schema") from None


def _profile_build(*, project: Project, user_id: str, settings_row: ProfileSettings) -> dict:
    """A deterministic profile of a user from their current memories: a digest, the most recent
    facts, categories, and, when the settings have a schema, the facts that best match each of its
    properties' descriptions."""
    scope = Scope(user_id=user_id)
    summary = memory_summary(project=project, scope=scope)
    stats = user_stats(project=project, user_id=user_id)
    profile = {
        "summary": summary["summary"],
        "facts": [item["memory"] for item in summary["recent"]],
        "categories": summary["categories"],
        "total_memories": summary["total_memories"],
        "first_activity": stats["first_activity"].isoformat() if stats["first_activity"] else None,
        "last_activity": stats["last_activity"].isoformat() if stats["last_activity"] else None,
    }
    if settings_row.schema:
        fields = {}
        for name, spec in settings_row.schema["properties"].items():
            try:
                query = _description_query(name, spec.get("description"))
            except ValidationFailed:  # a schema stored before descriptions were checked: nothing to search
                fields[name] = []
                continue
            hits = memory_search(project=project, query=query, scope=scope, top_k=3, threshold=0.3)
            fields[name] = [hit.memory for hit in hits]
        profile["fields"] = fields
    return profile


def _profile_generate(*, project: Project, user_id: str, settings_row: ProfileSettings, now: datetime) -> bool:
    """Build and store one user's profile; False when they have no memories to build it from."""

    if not Memory.objects.for_project(project).filter(user_id=user_id).exists():
        return False
    content = _profile_build(project=project, user_id=user_id, settings_row=settings_row)
    profile, created = UserProfile.objects.get_or_create(
        project=project, user_id=user_id, defaults={"profile": content, "generation_count": 1, "updated_at": now}
    )
    if not created:
        profile.profile = content
        profile.generation_count += 1
        profile.updated_at = now
        profile.save(update_fields=["profile", "generation_count", "updated_at"])
    return True


SAMPLE_DEFAULT = 3
SAMPLE_MAX = 10


def profile_job_create(
    *,
    project: Project,
    operation: Any,
    entity_type: Any = "user",
    entity_id: Any = None,
    limit: Any = None,
    idempotency_key: str | None = None,
    within_user: str | None = None,
    now: datetime | None = None,
) -> tuple[ProfileJob, bool]:
    """Make a profile job and run it now. ``trigger`` (re)builds one user's profile, ``sample``
    builds those of the users with the most memories. The same ``idempotency_key`` returns the
    job it first made (``replayed`` True) and runs nothing; reused with another request, a 409.
    ``within_user``: the key's own user, for a user-restricted key."""
    request = {"operation": operation, "entity_type": entity_type, "entity_id": entity_id, "limit": limit}
    if within_user is not None and entity_id is not None and clean_id(entity_id, field_name="entity_id") != within_user:
        raise UserNotFound(entity_id)  # the fence comes before anything is looked up, the idempotency key too
    if idempotency_key is not None:
        if not isinstance(idempotency_key, str) or not idempotency_key.strip() or len(idempotency_key) > 255:
            raise InvalidRequest("Idempotency-Key must be 1 to 255 characters", details={"key": "Idempotency-Key"})
        existing = ProfileJob.objects.filter(project=project, idempotency_key=idempotency_key).first()
        if existing is not None:
            return _profile_job_replay(existing, request=request, within_user=within_user), True
    if operation not in ProfileJob.Operation.values:
        raise ValidationFailed("operation must be trigger or sample", field="operation")
    if entity_type != "user":
        raise ValidationFailed("entity_type must be user", field="entity_type")
    settings_row = profile_settings_get(project=project)
    if not settings_row.enabled:
        raise ValidationFailed("Profiles are not enabled for this project", field="enabled")
    now = now or timezone.now()
    if operation == ProfileJob.Operation.TRIGGER:
        user_id = clean_id(entity_id, field_name="entity_id")
        if user_id is None:
            raise ValidationFailed("entity_id is required", field="entity_id")
        if within_user is not None and user_id != within_user:
            raise UserNotFound(user_id)
        if not profile_user_exists(project=project, user_id=user_id):
            raise UserNotFound(user_id)
        user_ids = [user_id]
    else:
        if entity_id is not None:
            raise ValidationFailed("sample takes no entity_id", field="entity_id")
        if limit is None:
            count = SAMPLE_DEFAULT
        elif isinstance(limit, int) and not isinstance(limit, bool) and 1 <= limit <= SAMPLE_MAX:
            count = limit
        else:
            raise ValidationFailed(f"limit must be a whole number from 1 to {SAMPLE_MAX}", field="limit")
        users = [e for e in entity_list(project=project) if e["type"] == "user"]
        if within_user is not None:
            users = [e for e in users if e["name"] == within_user]
        users.sort(key=lambda e: (-e["total_memories"], e["name"]))
        user_ids = [e["name"] for e in users[:count]]

    try:
        job = _profile_job_run(
            project=project,
            idempotency_key=idempotency_key,
            operation=operation,
            entity_type=entity_type,
            user_ids=user_ids,
            request=request,
            settings_row=settings_row,
            now=now,
        )
    except IntegrityError:  # the same key, made concurrently: that request's job is the one
        existing = ProfileJob.objects.get(project=project, idempotency_key=idempotency_key)
        return _profile_job_replay(existing, request=request, within_user=within_user), True
    return job, False


def _profile_job_replay(job: ProfileJob, *, request: dict, within_user: str | None) -> ProfileJob:
    """The job an ``Idempotency-Key`` already made, if this request may see it. A job about other
    users than a restricted key's own is a bare 409: the key is taken, and nothing of the job is told."""
    if within_user is not None and set(job.entity_ids) - {within_user}:
        raise Conflict("This Idempotency-Key was used for a different request")
    if job.request != request:
        raise Conflict("This Idempotency-Key was used for a different request", details={"job_id": str(job.id)})
    return job


@transaction.atomic
def _profile_job_run(
    *, project, idempotency_key, operation, entity_type, user_ids, request, settings_row, now
) -> ProfileJob:
    job = ProfileJob.objects.create(
        project=project,
        idempotency_key=idempotency_key,
        operation=operation,
        entity_type=entity_type,
        entity_ids=user_ids,
        request=request,
        created_at=now,
    )
    for user_id in user_ids:
        if _profile_generate(project=project, user_id=user_id, settings_row=settings_row, now=now):
            job.succeeded += 1
        else:
            job.skipped += 1
    job.status = "succeeded"
    job.finished_at = now
    job.save(update_fields=["succeeded", "skipped", "status", "finished_at"])
    return job
