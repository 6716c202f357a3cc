"""A memory's relationships: the targets to pick from, add, close, retract."""

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from graph import services as graph_services
from graph.models import KNOWN_RELATIONS
from mem0g_site.exceptions import ApplicationError, NotFound, ValidationFailed
from memories import search
from memories.inputs import Scope, clean_text
from ui.access import ProjectAccess, project_access
from ui.views.common import memory_or_404
from ui.views.memories import memory_context


@login_required
@require_GET
def relationship_targets(request, project_id, memory_id):
    """Memories of the same user to link this one to, found by meaning (``q``): the first step of
    adding a relationship, so it needs the right to write."""
    project = project_access(request.user, project_id, write=True).project
    memory = memory_or_404(project, memory_id)
    q = request.GET.get("q", "").strip()
    targets, error = [], None
    if q:
        try:
            scope = Scope(user_id=memory.user_id) if memory.user_id else None
            targets = [
                found
                for found in search.memory_search(
                    project=project, query=clean_text(q, field_name="q"), scope=scope, top_k=8
                )
                if found.pk != memory.pk
            ]
        except ValidationFailed as exc:
            error = exc.message
    context = {
        "project": project,
        "memory": memory,
        "targets": targets,
        "q": q,
        "error": error,
        "relations": KNOWN_RELATIONS,
    }
    return render(request, "ui/_targets.html" if request.htmx else "ui/targets.html", context)


def _relationships_response(request, access: ProjectAccess, memory, *, error: str | None = None, status: int = 200):
    project = access.project
    if request.htmx:
        context = memory_context(access, memory)
        context["relationship_error"] = error
        return render(request, "ui/_relationships.html", context, status=status)
    if error:
        context = memory_context(access, memory)
        context["relationship_error"] = error
        return render(request, "ui/memory.html", context, status=status)
    return redirect(reverse("ui:memory", args=[project.pk, memory.pk]))


@login_required
@require_POST
def relationship_add(request, project_id, memory_id):
    access = project_access(request.user, project_id, write=True)
    project = access.project
    memory = memory_or_404(project, memory_id)
    try:
        graph_services.relationship_create(
            project=project,
            source_id=memory.pk,
            target_id=request.POST.get("target_id", ""),
            relation=request.POST.get("relation", ""),
        )
    except NotFound:
        raise Http404("No such memory") from None
    except ApplicationError as exc:
        return _relationships_response(request, access, memory, error=exc.message, status=exc.status)
    return _relationships_response(request, access, memory)


def _relationship_change(request, project_id, relationship_id, change):
    access = project_access(request.user, project_id, write=True)
    project = access.project
    memory = memory_or_404(project, request.POST.get("memory_id", ""))
    try:
        change(project=project, relationship_id=relationship_id)
    except NotFound:
        raise Http404("No such relationship") from None
    except ApplicationError as exc:
        return _relationships_response(request, access, memory, error=exc.message, status=exc.status)
    return _relationships_response(request, access, memory)


@login_required
@require_POST
def relationship_close(request, project_id, relationship_id):
    """The relationship stops holding now (``valid_to``); the row stays."""

    def close(*, project, relationship_id):
        graph_services.relationship_update(project=project, relationship_id=relationship_id, valid_to=timezone.now())

    return _relationship_change(request, project_id, relationship_id, close)


@login_required
@require_POST
def relationship_retract(request, project_id, relationship_id):
    """The relationship was recorded by mistake (``invalidated_at``); the row stays."""
    return _relationship_change(request, project_id, relationship_id, graph_services.relationship_retract)
