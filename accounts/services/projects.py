"""Organisations, projects, their options and their members (Mem0's organisation/project API)."""

from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils.text import slugify

from accounts.models import DEFAULT_PROJECT_SLUG, Organization, Project, ProjectMember
from accounts.selectors import project_default
from mem0g_site.exceptions import Conflict, NotFound, ValidationFailed
from memories.inputs import clean_uuid


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
    # mem0g's own: inferred UPDATEs and SUPERSEDEs wait in the review queue (memories.review).
    "review_mode": bool,
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


def clean_name(value: Any, *, field: str, max_length: int = 200) -> str:
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > max_length:
        raise ValidationFailed(f"{field} must be a non-empty string of at most {max_length} characters", field=field)
    return value.strip()


@transaction.atomic
def project_create(*, organization: Organization, name: Any, description: Any = None) -> Project:
    """A new project in ``organization``; its slug comes from the name and must be free."""
    name = clean_name(name, field="name")
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
