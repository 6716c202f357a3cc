"""Who may see what in the web UI: a person sees the projects of the organisations they belong to
(``accounts.Membership``); a superuser, every project. Anything else is answered like a missing
page (404), so project ids cannot be probed."""

from django.http import Http404

from accounts.models import Project
from memories.inputs import clean_uuid


def projects_for(user):
    projects = Project.objects.select_related("organization").order_by("organization__name", "name")
    if user.is_superuser:
        return projects
    return projects.filter(organization__memberships__user=user)


def project_for(user, project_id) -> Project:
    pk = clean_uuid(project_id)
    project = None if pk is None else projects_for(user).filter(pk=pk).first()
    if project is None:
        raise Http404("No such project")
    return project
