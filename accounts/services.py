import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from accounts.models import (
    DEFAULT_PROJECT_SLUG,
    WEBHOOK_EVENT_TYPES,
    ApiKey,
    Organization,
    ProfileJob,
    ProfileSettings,
    Project,
    ProjectMember,
    RegisteredEntity,
    UserProfile,
    Webhook,
    hash_key,
    webhook_secret_new,
)
from accounts.selectors import KEY_PREFIX_LENGTH, profile_settings_get, profile_user_exists, project_default
from accounts.webhook_guard import url_refusal
from mem0g_site.exceptions import Conflict, InvalidRequest, NotFound, UserNotFound, ValidationFailed
from mem0g_site.inputs import UNSET
from memories.inputs import Scope, clean_entity_id, clean_id, clean_metadata, clean_uuid
from memories.models import Memory
from memories.search import memory_search
from memories.selectors import entity_list, memory_summary, user_stats

ADMIN_USERNAME = "admin"
# How stale last_used_at may get before a request refreshes it (one write per key per minute,
# not one per request).
LAST_USED_RESOLUTION = timedelta(seconds=60)


@transaction.atomic
def admin_user_ensure(*, password: str):
    """Create or update the superuser ``admin`` with ``password`` (MEM0G_ADMIN_PASSWORD)."""
    user_model = get_user_model()
    user, _ = user_model.objects.get_or_create(username=ADMIN_USERNAME, defaults={"email": ""})
    user.is_staff = True
    user.is_superuser = True
    user.is_active = True
    user.set_password(password)
    user.save()
    return user


def _clean_scopes(scopes: Iterable[str]) -> list[str]:
    if isinstance(scopes, str):
        scopes = [part.strip() for part in scopes.split(",")]
    cleaned = sorted({scope.strip().lower() for scope in scopes if scope and scope.strip()})
    unknown = [scope for scope in cleaned if scope not in ApiKey.Scope.values]
    if unknown or not cleaned:
        raise ValidationFailed(
            f"scopes must be a non-empty subset of {', '.join(ApiKey.Scope.values)}"
            f" (got {', '.join(unknown) or 'none'})",
            field="scopes",
        )
    return cleaned


def _store_key(
    *,
    project: Project,
    name: str,
    raw_key: str,
    scopes: list[str],
    user_id: str | None,
    now: datetime,
    kind: str = ApiKey.Kind.PROJECT,
) -> ApiKey:
    salt = secrets.token_hex(16)
    return ApiKey.objects.create(
        project=project,
        name=name,
        prefix=raw_key[:KEY_PREFIX_LENGTH],
        salt=salt,
        secret_hash=hash_key(raw_key, salt),
        scopes=scopes,
        kind=kind,
        user_id=user_id,
        created_at=now,
    )


def apikey_create(
    *,
    project: Project,
    name: str,
    scopes: Iterable[str],
    user_id: str | None = None,
    organization_key: bool = False,
    now: datetime | None = None,
) -> tuple[ApiKey, str]:
    """Make a new key; returns the row and the key itself, which is not stored and never shown again.
    An ``organization_key`` manages every project of ``project``'s organisation: it has the admin
    scope and cannot be restricted to a user."""
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise ValidationFailed("name must be a non-empty string of at most 200 characters", field="name")
    scopes = _clean_scopes(scopes)
    user_id = clean_id(user_id, field_name="user_id")
    if organization_key:
        if user_id is not None:
            raise ValidationFailed("an organisation key cannot be restricted to one user", field="user_id")
        scopes = sorted({*scopes, ApiKey.Scope.ADMIN})
    raw_key = "mem0_" + secrets.token_urlsafe(32)
    api_key = _store_key(
        project=project,
        name=name.strip(),
        raw_key=raw_key,
        scopes=scopes,
        user_id=user_id,
        kind=ApiKey.Kind.ORGANIZATION if organization_key else ApiKey.Kind.PROJECT,
        now=now or timezone.now(),
    )
    return api_key, raw_key


def apikey_revoke(*, api_key: ApiKey, now: datetime | None = None) -> ApiKey:
    if api_key.revoked_at is None:
        api_key.revoked_at = now or timezone.now()
        api_key.save(update_fields=["revoked_at"])
    return api_key


def apikey_touch(*, api_key: ApiKey, now: datetime | None = None) -> None:
    """Record use, at most once a minute per key (a conditional UPDATE, no read)."""
    now = now or timezone.now()
    if api_key.last_used_at is not None and now - api_key.last_used_at < LAST_USED_RESOLUTION:
        return
    ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
    api_key.last_used_at = now


@transaction.atomic
def apikeys_bootstrap(*, keys: Iterable[str], admin_keys: Iterable[str], now: datetime | None = None) -> int:
    """Make sure the keys given in API_KEYS (read, write) and ADMIN_API_KEYS (read, write, admin)
    exist, active, in the default project. Admin keys are the operator's: organisation keys of the
    default organisation. Returns how many were created or changed."""
    now = now or timezone.now()
    project = project_default()
    wanted: dict[str, tuple[list[str], str]] = {}
    for raw_key in keys:
        wanted[raw_key] = (["read", "write"], ApiKey.Kind.PROJECT)
    for raw_key in admin_keys:
        wanted[raw_key] = (["admin", "read", "write"], ApiKey.Kind.ORGANIZATION)
    changed = 0
    for raw_key, (scopes, kind) in wanted.items():
        if len(raw_key) < 16:
            raise ValidationFailed("bootstrap keys must be at least 16 characters long", field="API_KEYS")
        existing = next(
            (key for key in ApiKey.objects.filter(prefix=raw_key[:KEY_PREFIX_LENGTH]) if key.matches(raw_key)),
            None,
        )
        if existing is None:
            _store_key(
                project=project, name="bootstrap", raw_key=raw_key, scopes=scopes, user_id=None, kind=kind, now=now
            )
            changed += 1
        elif (existing.scopes, existing.kind, existing.revoked_at, existing.user_id) != (scopes, kind, None, None):
            existing.scopes, existing.kind, existing.revoked_at, existing.user_id = scopes, kind, None, None
            existing.save(update_fields=["scopes", "kind", "revoked_at", "user_id"])
            changed += 1
    return changed


def organization_find(*, name: str) -> Organization:
    """The organisation whose slug, name or id is ``name`` (for commands)."""
    organizations = Organization.objects.filter(slug=name) | Organization.objects.filter(name=name)
    pk = clean_uuid(name)
    if pk is not None:
        organizations = organizations | Organization.objects.filter(pk=pk)
    found = list(organizations.distinct()[:2])
    if len(found) != 1:
        raise NotFound(f"no single organisation is called {name!r}")
    return found[0]


@transaction.atomic
def project_get_or_create(*, name: str, organization: Organization | None = None) -> Project:
    """The project called ``name`` (or with that slug). In ``organization`` when given; otherwise the
    one project of that name wherever it is, or a new project in a new organisation of its own
    (each tenant its own organisation, so no key of one reaches another's). ``default`` is the
    default project of the default organisation."""
    if not isinstance(name, str) or not slugify(name):
        raise ValidationFailed("a project needs a name with letters or digits", field="project")
    slug = slugify(name)[:100]
    if organization is None and slug == DEFAULT_PROJECT_SLUG:
        return project_default()
    if organization is not None:
        project = Project.objects.filter(organization=organization, slug=slug).first()
        return project or Project.objects.create(organization=organization, name=name, slug=slug)
    existing = list(Project.objects.select_related("organization").filter(slug=slug)[:2])
    if len(existing) > 1:
        raise ValidationFailed(
            f"several organisations have a project called {name!r}: name one with --org", field="project"
        )
    if existing:
        return existing[0]
    org_slug, suffix = slug, 1
    while Organization.objects.filter(slug=org_slug).exists():
        suffix += 1
        org_slug = f"{slug[:90]}-{suffix}"
    organization = Organization.objects.create(name=name, slug=org_slug)
    return Project.objects.create(organization=organization, name=name, slug=slug)


PROJECT_OPTIONS = {
    "custom_instructions": str,
    "agent_custom_instructions": str,
    "custom_categories": list,
    "memory_depth": str,
    "usecase_setting": str,
    "multilingual": bool,
}


def project_update_options(*, project: Project, options: dict) -> Project:
    """Store Mem0 project options (what ``project.update()`` sends); ``None`` removes one."""
    for name, value in options.items():
        kind = PROJECT_OPTIONS.get(name)
        if kind is None:
            raise ValidationFailed(f"unknown project option {name!r}", field=name)
        if value is not None and not isinstance(value, kind):
            raise ValidationFailed(f"{name} must be a {kind.__name__}", field=name)
    merged = {**project.options, **options}
    project.options = {name: value for name, value in merged.items() if value is not None}
    project.save(update_fields=["options"])
    return project


# --- projects and their members (Mem0's organisation/project API) --------------------------


def _clean_name(value: Any, *, field: str, max_length: int = 200) -> str:
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > max_length:
        raise ValidationFailed(f"{field} must be a non-empty string of at most {max_length} characters", field=field)
    return value.strip()


@transaction.atomic
def project_create(*, organization: Organization, name: Any, description: Any = None) -> Project:
    """A new project in ``organization``; its slug comes from the name and must be free."""
    name = _clean_name(name, field="name")
    if description is not None and not isinstance(description, str):
        raise ValidationFailed("description must be a string", field="description")
    slug = slugify(name)[:100]
    if not slug:
        raise ValidationFailed("a project needs a name with letters or digits", field="name")
    if Project.objects.filter(organization=organization, slug=slug).exists():
        raise Conflict(f"A project named {name!r} already exists in this organisation", details={"slug": slug})
    return Project.objects.create(organization=organization, name=name, slug=slug, description=description or "")


def project_delete(*, project: Project) -> None:
    """Delete a project with everything it owns: memories, history, relationships, keys, webhooks."""
    project.delete()


def _member_user(email: Any, *, project: Project):
    """The one user of ``project``'s organisation with this email. Users of other organisations are
    answered exactly like unknown emails, so a key cannot probe who uses this server."""
    if not isinstance(email, str) or "@" not in email or len(email) > 254:
        raise ValidationFailed("email must be an email address", field="email")
    users = list(
        get_user_model().objects.filter(
            email__iexact=email.strip(), memberships__organization_id=project.organization_id
        )[:2]
    )
    if len(users) != 1:
        raise ValidationFailed(f"no single user of this organisation has the email {email!r}", field="email")
    return users[0]


def _clean_role(role: Any) -> str:
    if role not in ProjectMember.Role.values:
        raise ValidationFailed("role must be READER or OWNER", field="role")
    return role


@transaction.atomic
def project_member_add(*, project: Project, email: Any, role: Any = ProjectMember.Role.READER) -> ProjectMember:
    """Give a user of the project's organisation (found by email) a role in the project. People
    join an organisation through the operator (admin → Organizations → memberships)."""
    role = _clean_role(role)
    user = _member_user(email, project=project)
    if ProjectMember.objects.filter(project=project, user=user).exists():
        raise Conflict("This user is already a member of the project", details={"email": user.email})
    return ProjectMember.objects.create(project=project, user=user, role=role)


def _member(*, project: Project, email: Any) -> ProjectMember:
    if not isinstance(email, str) or "@" not in email or len(email) > 254:
        raise ValidationFailed("email must be an email address", field="email")
    members = list(ProjectMember.objects.filter(project=project, user__email__iexact=email.strip())[:2])
    if len(members) != 1:
        raise NotFound("Member not found", details={"email": email})
    return members[0]


def project_member_update(*, project: Project, email: Any, role: Any) -> ProjectMember:
    role = _clean_role(role)
    member = _member(project=project, email=email)
    member.role = role
    member.save(update_fields=["role"])
    return member


def project_member_remove(*, project: Project, email: Any) -> None:
    _member(project=project, email=email).delete()


# --- webhooks -------------------------------------------------------------------------------


def _clean_webhook_url(url: Any) -> str:
    if not isinstance(url, str) or len(url) > 2000:
        raise ValidationFailed("url must be an http(s) URL", field="url")
    try:
        URLValidator(schemes=["http", "https"])(url)
    except DjangoValidationError:
        raise ValidationFailed("url must be an http(s) URL", field="url") from None
    refusal = url_refusal(url, allow_private=settings.WEBHOOK_ALLOW_PRIVATE)
    if refusal:
        raise ValidationFailed(
            f"url is not allowed: {refusal}; webhooks may reach only public addresses",
            details={"field": "url", "reason": refusal},
        )
    return url


def _clean_event_types(event_types: Any) -> list[str]:
    if not isinstance(event_types, list) or not event_types:
        raise ValidationFailed("event_types must be a non-empty list", field="event_types")
    unknown = [e for e in event_types if e not in WEBHOOK_EVENT_TYPES]
    if unknown:
        raise ValidationFailed(
            f"unknown event type(s) {unknown!r}; use {', '.join(WEBHOOK_EVENT_TYPES)}", field="event_types"
        )
    return list(dict.fromkeys(event_types))


def webhook_create(*, project: Project, name: Any, url: Any, event_types: Any, now: datetime | None = None) -> Webhook:
    now = now or timezone.now()
    return Webhook.objects.create(
        project=project,
        name=_clean_name(name, field="name"),
        url=_clean_webhook_url(url),
        event_types=_clean_event_types(event_types),
        created_at=now,
        updated_at=now,
    )


def webhook_update(
    *, webhook: Webhook, name: Any = UNSET, url: Any = UNSET, event_types: Any = UNSET, now: datetime | None = None
) -> Webhook:
    """Change what is given; nothing given is a 422."""
    changes = {}
    if name is not UNSET:
        changes["name"] = _clean_name(name, field="name")
    if url is not UNSET:
        changes["url"] = _clean_webhook_url(url)
    if event_types is not UNSET:
        changes["event_types"] = _clean_event_types(event_types)
    if not changes:
        raise ValidationFailed("nothing to update: give name, url or event_types")
    for field, value in changes.items():
        setattr(webhook, field, value)
    webhook.updated_at = now or timezone.now()
    webhook.save(update_fields=[*changes, "updated_at"])
    return webhook


def webhook_secret_rotate(*, webhook: Webhook, now: datetime | None = None) -> str:
    """Give the webhook a new signing secret (the old one stops at once) and return it."""
    webhook.secret = webhook_secret_new()
    webhook.updated_at = now or timezone.now()
    webhook.save(update_fields=["secret", "updated_at"])
    return webhook.secret


def webhook_delete(*, webhook: Webhook) -> None:
    webhook.delete()


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
        display_name = _clean_name(display_name, field="name", max_length=255)
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
    return schema


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
            hits = memory_search(project=project, query=spec["description"], scope=scope, top_k=3, threshold=0.3)
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
