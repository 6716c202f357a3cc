"""The projects a person may see, and a project's users."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.http import require_GET

from memories import review_selectors, selectors
from ui.access import project_access, projects_for


@login_required
@require_GET
def project_list(request):
    return render(request, "ui/projects.html", {"projects": list(projects_for(request.user))})


@login_required
@require_GET
def user_list(request, project_id):
    access = project_access(request.user, project_id)
    project = access.project
    contains = request.GET.get("q", "").strip()
    context = {
        "project": project,
        "can_write": access.can_write,
        "users": selectors.user_list(project=project, contains=contains),
        "q": contains,
    }
    if not request.htmx:
        context["review_pending"] = review_selectors.review_pending_count(project=project)
    template = "ui/_user_rows.html" if request.htmx else "ui/users.html"
    return render(request, template, context)
