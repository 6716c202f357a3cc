from accounts.models import DEFAULT_ORGANIZATION_SLUG, DEFAULT_PROJECT_SLUG, ApiKey, Organization, Project
from mem0g_site.exceptions import NotFound

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
    """The active key whose secret is ``raw_key``, with its project, or None. One indexed query;
    the hash comparison is constant-time."""
    if not raw_key or len(raw_key) < KEY_PREFIX_LENGTH or len(raw_key) > 200:
        return None
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
