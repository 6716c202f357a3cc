import time
from typing import Any

from accounts import keycache
from accounts.models import (
    DEFAULT_ORGANIZATION_SLUG,
    DEFAULT_PROJECT_SLUG,
    ApiKey,
    Organization,
    ProfileJob,
    ProfileSettings,
    Project,
    ProjectMember,
    RegisteredEntity,
    UserProfile,
    Webhook,
)
from mem0g_site.exceptions import NotFound, UserNotFound
from memories.inputs import Scope, clean_uuid
from memories.models import Memory
from memories.selectors import ENTITY_TYPES, entity_list

KEY_PREFIX_LENGTH = 12


def project_default() -> Project:
    """The project that bootstrap keys and single-tenant installs use (made by migration 0002, and
    made again here if it was removed)."""
    project = (
        Project.objects.select_related("organization")
        .filter(organization__slug=DEFAULT_ORGANIZATION_SLUG, slug=DEFAULT_PROJECT_SLUG)
        .first()
    )
    if project is None:
        organization, _ = Organization.objects.get_or_create(
            slug=DEFAULT_ORGANIZATION_SLUG, defaults={"name": "Default organization"}
        )
        project, _ = Project.objects.get_or_create(
            organization=organization, slug=DEFAULT_PROJECT_SLUG, defaults={"name": "Default project"}
        )
    return project


def apikey_authenticate(raw_key: str) -> ApiKey | None:
    """The active key whose secret is ``raw_key``, with its project and organisation, or None.
    From this process's key cache when it was found recently (accounts/keycache.py: revocation
    reaches every process within about a second), else one indexed query; the hash comparison is
    constant-time."""
    if not raw_key or len(raw_key) < KEY_PREFIX_LENGTH or len(raw_key) > 200:
        return None
    cached = keycache.get(raw_key)
    if cached is not None:
        return cached
    read_at = time.monotonic()
    api_key = _apikey_lookup(raw_key)
    if api_key is not None:
        keycache.put(raw_key, api_key, read_at=read_at)
    return api_key


def _apikey_lookup(raw_key: str) -> ApiKey | None:
    candidates = ApiKey.objects.select_related("project__organization").filter(
        prefix=raw_key[:KEY_PREFIX_LENGTH], revoked_at__isnull=True
    )
    for api_key in candidates:
        if api_key.matches(raw_key):
            return api_key
    return None


def apikey_find(*, prefix: str) -> ApiKey:
    """The one key whose prefix starts with ``prefix`` (at least 6 characters), for commands."""
    matches = list(ApiKey.objects.select_related("project").filter(prefix__startswith=prefix)[:2])
    if len(prefix) < 6 or len(matches) != 1:
        raise NotFound(f"no single API key starts with {prefix!r}")
    return matches[0]


# --- what a key may reach of its organisation ------------------------------------------------


def project_for_key(*, api_key: ApiKey, org_id: Any, project_id: Any = None) -> Project | Organization:
    """The project ``project_id`` of organisation ``org_id`` as ``api_key`` may see it: its own
    project always, another project of its organisation only when it is an organisation key.
    Anything else (another organisation, a sibling project for a project key, a missing id, a
    malformed one) is the same 404. Without ``project_id``, the organisation itself."""
    own = api_key.project
    if str(org_id) != str(own.organization_id):
        raise NotFound("Organization not found" if project_id is None else "Project not found")
    if project_id is None:
        return own.organization
    if str(project_id) == str(own.id):
        return own
    pk = clean_uuid(project_id)
    if pk is None or not api_key.is_organization_key:
        raise NotFound("Project not found")
    project = Project.objects.select_related("organization").filter(organization_id=own.organization_id, pk=pk).first()
    if project is None:
        raise NotFound("Project not found")
    return project


def projects_for_key(*, api_key: ApiKey) -> list[Project]:
    """The projects a key manages: every project of its organisation for an organisation key, else
    its own."""
    if api_key.is_organization_key:
        return list(
            Project.objects.select_related("organization").filter(organization_id=api_key.project.organization_id)
        )
    return [api_key.project]


def project_member_list(*, project: Project) -> list[ProjectMember]:
    return list(ProjectMember.objects.filter(project=project).select_related("user"))


def webhook_list(*, project: Project) -> list[Webhook]:
    return list(Webhook.objects.filter(project=project))


def webhook_get(*, api_key: ApiKey, webhook_id: Any) -> Webhook:
    """A webhook of the key's project (of its organisation for an organisation key); else a 404."""
    try:
        pk = int(str(webhook_id))
    except ValueError:
        pk = None
    webhooks = Webhook.objects.select_related("project")
    if api_key.is_organization_key:
        webhooks = webhooks.filter(project__organization_id=api_key.project.organization_id)
    else:
        webhooks = webhooks.filter(project=api_key.project)
    webhook = None if pk is None or not 0 < pk < 2**63 else webhooks.filter(pk=pk).first()
    if webhook is None:
        raise NotFound("Webhook not found", details={"webhook_id": str(webhook_id)})
    return webhook


# --- entities and profiles ---------------------------------------------------------------------


def entity_list_with_registered(*, project: Project, within_user: str | None = None) -> list[dict[str, Any]]:
    """Every entity with memories (``memories.selectors.entity_list``) plus those registered with
    ``POST /v1/users/`` ... that have none yet (0 memories), sorted by type then id. A
    user-restricted key sees only its own user."""
    entities = entity_list(project=project, within=Scope(user_id=within_user) if within_user else None)
    registered = RegisteredEntity.objects.filter(project=project)
    if within_user is not None:
        registered = registered.filter(type="user", name=within_user)
    extra = {(row.type, row.name): row for row in registered}
    for entity in entities:
        row = extra.pop((entity["type"], entity["name"]), None)
        entity["metadata"] = row.metadata if row else {}
    entities += [
        {
            "type": row.type,
            "name": row.name,
            "total_memories": 0,
            "created_at": row.created_at,
            "updated_at": row.updated_at,
            "metadata": row.metadata,
        }
        for row in extra.values()
    ]
    order = list(ENTITY_TYPES)
    entities.sort(key=lambda e: (order.index(e["type"]), e["name"]))
    return entities


def profile_settings_get(*, project: Project) -> ProfileSettings:
    """The project's profile settings (the defaults, unsaved, when never set)."""
    return ProfileSettings.objects.filter(project=project).first() or ProfileSettings(project=project)


def profile_user_exists(*, project: Project, user_id: str) -> bool:

    return (
        Memory.objects.for_project(project).filter(user_id=user_id).exists()
        or RegisteredEntity.objects.filter(project=project, type="user", name=user_id).exists()
    )


def user_profile_get(*, project: Project, user_id: str, within_user: str | None = None) -> dict[str, Any]:
    """``GET /v2/entities/user/{id}/profile/``: the stored profile and its status. A user the project
    does not know (no memories, not registered) or outside the key's reach is a 404."""

    if (within_user is not None and user_id != within_user) or not profile_user_exists(
        project=project, user_id=user_id
    ):
        raise UserNotFound(user_id)
    settings_row = profile_settings_get(project=project)
    profile = UserProfile.objects.filter(project=project, user_id=user_id).first()
    if not settings_row.enabled:
        status = "not_enabled"
    elif profile is not None:
        status = "succeeded"
    elif not Memory.objects.for_project(project).filter(user_id=user_id).exists():
        status = "insufficient_data"
    else:
        status = "pending"
    return {
        "entity_type": "user",
        "entity_id": user_id,
        "status": status,
        "profile": profile.profile if profile is not None else None,
        "updated_at": profile.updated_at if profile is not None else None,
        "generation_count": profile.generation_count if profile is not None else 0,
    }


def profile_job_get(*, project: Project, job_id: Any, within_user: str | None = None) -> ProfileJob:
    pk = clean_uuid(job_id)
    job = None if pk is None else ProfileJob.objects.filter(project=project, pk=pk).first()
    if job is None or (within_user is not None and set(job.entity_ids) - {within_user}):
        raise NotFound("Profile job not found", details={"job_id": str(job_id)})
    return job
