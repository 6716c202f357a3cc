"""Who may see and change what in the web UI. The one place the UI's access rule lives:

- a project member (``accounts.ProjectMember``) reaches that project with the rights of their role:
  ``READER`` reads, ``OWNER`` reads and writes;
- an organisation owner (``accounts.Membership`` with role ``OWNER``) reads and writes every project
  of the organisation;
- a superuser reads and writes every project;
- plain organisation membership (role ``MEMBER``) gives no project by itself.

Grants are read from the database on every request (nothing is kept in the session), so removing a
member or changing a role takes effect on the next request. A project outside a person's reach is
answered like a missing page (404), so project ids cannot be probed; a project they may read but not
change answers a write with 403.
"""

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.db.models import BooleanField, Exists, ExpressionWrapper, OuterRef, Q, QuerySet, Value
from django.http import Http404

from accounts.models import Membership, Project, ProjectMember
from memories.inputs import clean_uuid

READ_ONLY_MESSAGE = "You may read this project but not change it: ask one of its owners for the OWNER role."


@dataclass(frozen=True)
class ProjectAccess:
    """A project a person reaches, and whether they may change it."""

    project: Project
    can_write: bool

    def require_write(self) -> None:
        if not self.can_write:
            raise PermissionDenied(READ_ONLY_MESSAGE)


def _owns_organization(user) -> Exists:
    return Exists(
        Membership.objects.filter(organization=OuterRef("organization"), user=user, role=Membership.Role.OWNER)
    )


def _member_role(user, role: str | None = None) -> Exists:
    members = ProjectMember.objects.filter(project=OuterRef("pk"), user=user)
    return Exists(members.filter(role=role) if role else members)


def projects_for(user) -> QuerySet[Project]:
    """The projects ``user`` may see, each annotated with ``can_write``; one query."""
    projects = Project.objects.select_related("organization").order_by("organization__name", "name")
    if not user.is_authenticated:
        return projects.none()
    if user.is_superuser:
        return projects.annotate(can_write=Value(True, output_field=BooleanField()))
    owner = _owns_organization(user)
    return projects.filter(Q(_member_role(user)) | Q(owner)).annotate(
        can_write=ExpressionWrapper(
            Q(_member_role(user, ProjectMember.Role.OWNER)) | Q(owner), output_field=BooleanField()
        )
    )


def project_access(user, project_id, *, write: bool = False) -> ProjectAccess:
    """The project ``project_id`` as ``user`` reaches it (404 when they do not); with ``write=True``,
    a person who may only read it gets 403 (``PermissionDenied``)."""
    pk = clean_uuid(project_id)
    project = None if pk is None else projects_for(user).filter(pk=pk).first()
    if project is None:
        raise Http404("No such project")
    access = ProjectAccess(project=project, can_write=project.can_write)
    if write:
        access.require_write()
    return access
