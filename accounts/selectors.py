from accounts.models import DEFAULT_ORGANIZATION_SLUG, DEFAULT_PROJECT_SLUG, Project


def project_default() -> Project:
    """The project that bootstrap keys and single-tenant installs use (made by migration 0002)."""
    return Project.objects.select_related("organization").get(
        organization__slug=DEFAULT_ORGANIZATION_SLUG, slug=DEFAULT_PROJECT_SLUG
    )
