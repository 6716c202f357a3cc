"""The review queue of what the server inferred, per project and per user, and its actions."""

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from mem0g_site.exceptions import ApplicationError
from memories import review_selectors
from memories.review import ReviewNotFound, review_apply
from ui.access import ProjectAccess, project_access
from ui.views.common import PAGE_SIZE, actor, page_number, pager, user_or_404


def _review_context(request, access: ProjectAccess, user: dict | None) -> dict[str, Any]:
    project = access.project
    params = request.GET
    state = params.get("state", "pending")
    state = state if state in review_selectors.REVIEW_STATES else "pending"
    context: dict[str, Any] = {
        "project": project,
        "can_write": access.can_write,
        "queue_user": user,
        "state": state,
        "states": review_selectors.REVIEW_STATES,
        "page": None,
        "items": [],
        "list_url": (
            reverse("ui:user-review", args=[project.pk, user["user_id"]])
            if user
            else reverse("ui:review", args=[project.pk])
        ),
    }
    result = review_selectors.review_queue(
        project=project,
        user_id=user["user_id"] if user else None,
        state=state,
        page=page_number(params.get("page")),
        page_size=PAGE_SIZE,
    )
    context.update(items=result.results, page=result, **pager(params, result))
    return context


@login_required
@require_GET
def review_queue(request, project_id, user_id=None):
    """The review queue: inferred changes (ADD from extraction, UPDATE, SUPERSEDE) with their
    decision trace, newest first, for the project or one user; ``state`` picks pending (default),
    accepted, rejected or all. Everyone who reads the project sees it; only writers get the buttons."""
    access = project_access(request.user, project_id)
    user = user_or_404(access.project, user_id) if user_id is not None else None
    context = _review_context(request, access, user)
    return render(request, "ui/_review_list.html" if request.htmx else "ui/review.html", context)


@login_required
@require_POST
def review_action(request, project_id, trace_id):
    """Accept, reject (undo) or edit one inferred change (``action``; ``text`` for edit), as the
    person logged in. HTMX gets the item back; a plain form goes back to the queue it came from."""
    access = project_access(request.user, project_id, write=True)
    project = access.project
    error, status = None, 200
    try:
        review_apply(
            project=project,
            trace_id=trace_id,
            action=request.POST.get("action"),
            text=request.POST.get("text"),
            actor_id=actor(request),
        )
    except ReviewNotFound:
        raise Http404("No such change to review") from None
    except ApplicationError as exc:
        error, status = exc.message, exc.status
    item = review_selectors.review_get(project=project, trace_id=trace_id)
    if item is None:
        raise Http404("No such change to review")
    if not request.htmx and error is None:
        after = (
            reverse("ui:user-review", args=[project.pk, item.user_id])
            if request.POST.get("from") == "user" and item.user_id
            else reverse("ui:review", args=[project.pk])
        )
        return redirect(after)
    context = {
        "project": project,
        "can_write": access.can_write,
        "item": item,
        "action_error": error,
        "queue_user": {"user_id": item.user_id} if request.POST.get("from") == "user" and item.user_id else None,
    }
    if request.htmx:
        return render(request, "ui/_review_item.html", context, status=status)
    return render(request, "ui/review_item.html", context, status=status)
