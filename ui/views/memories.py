"""A user's memories (list, search, add) and one memory (detail, edit, delete, state)."""

import json
from typing import Any

from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from graph import selectors as graph_selectors
from graph.models import KNOWN_RELATIONS
from mem0g_site.exceptions import ApplicationError, NotFound, ValidationFailed
from mem0g_site.inputs import parse_moment
from memories import review_selectors, search, selectors, services
from memories.inputs import NewMemory, Scope, clean_text
from memories.models import expired_by
from ui.access import ProjectAccess, project_access
from ui.views.common import (
    PAGE_SIZE,
    actor,
    memory_or_404,
    page_number,
    pager,
    parse_categories,
    parse_metadata,
    user_or_404,
)


def _memories_context(request, access: ProjectAccess, user: dict) -> dict[str, Any]:
    project = access.project
    params = request.GET
    q = params.get("q", "").strip()
    agent = params.get("agent", "").strip() or None
    category = params.get("category", "").strip() or None
    state = params.get("state", "current")
    state = state if state in selectors.MEMORY_STATES else "current"
    page = page_number(params.get("page"))
    context: dict[str, Any] = {
        "project": project,
        "can_write": access.can_write,
        "user": user,
        "q": q,
        "agent": agent or "",
        "category": category or "",
        "state": state,
        "states": selectors.MEMORY_STATES,
        "as_of_text": params.get("as_of", ""),
        "error": None,
        "memories": [],
        "page": None,
        "searched": bool(q),
    }
    try:
        as_of = parse_moment(params.get("as_of"), field="as_of")
        scope = Scope(user_id=user["user_id"], agent_id=agent)
        where = Q(categories__contains=[category]) if category else None
        if q and state == "superseded":
            raise ValidationFailed(
                "search looks at memories that hold (now, or on the as-of date); clear it to list superseded ones",
                field="q",
            )
        if q:
            if state == "expired":
                where = (where or Q()) & expired_by(timezone.now())
            context["memories"] = search.memory_search(
                project=project,
                query=clean_text(q, field_name="q"),
                scope=scope,
                where=where,
                top_k=PAGE_SIZE,
                as_of=as_of,
                include_expired=state in ("expired", "all"),
            )
        else:
            result = selectors.memory_list_in_state(
                project=project, scope=scope, state=state, where=where, as_of=as_of, page=page, page_size=PAGE_SIZE
            )
            context["memories"] = result.results
            context["page"] = result
            context.update(pager(params, result))
    except ValidationFailed as exc:
        context["error"] = exc.message
    return context


@login_required
@require_http_methods(["GET", "POST"])
def user_memories(request, project_id, user_id):
    """A user's memories (live search, filters, pages, "as of") and, by POST, a new memory."""
    access = project_access(request.user, project_id, write=request.method == "POST")
    project = access.project
    user = user_or_404(project, user_id)
    add_error = None
    if request.method == "POST":
        try:
            services.add_ingest(
                project=project,
                payload={"via": "ui"},
                items=[
                    NewMemory(
                        text=request.POST.get("text", ""),
                        scope=Scope(user_id=user["user_id"], agent_id=request.POST.get("agent_id", "").strip() or None),
                        metadata=parse_metadata(request.POST.get("metadata")),
                        categories=parse_categories(request.POST.get("categories")),
                        actor_id=actor(request),
                    )
                ],
            )
        except ValidationFailed as exc:
            add_error = exc.message
        else:
            if not request.htmx:
                return redirect(reverse("ui:user", args=[project.pk, user["user_id"]]))
            user = user_or_404(project, user_id)
    context = _memories_context(request, access, user)
    context["add_error"] = add_error
    if request.htmx:
        template = "ui/_memory_list.html"
        response = render(request, template, context, status=422 if add_error else 200)
        return response
    context["review_pending"] = review_selectors.review_pending_count(project=project, user_id=user["user_id"])
    return render(request, "ui/user.html", context, status=422 if add_error else 200)


def memory_context(access: ProjectAccess, memory, *, edit_error: str | None = None) -> dict[str, Any]:
    project = access.project
    timeline = graph_selectors.memory_timeline(project=project, memory_id=memory.pk)
    try:
        history = selectors.memory_history(project=project, memory_id=memory.pk)
    except NotFound:
        history = []
    relationships = graph_selectors.relationship_list(project=project, memory_id=memory.pk, limit=200)
    others = selectors.memories_by_id(
        project=project, ids=[r.target_id if r.source_id == memory.pk else r.source_id for r in relationships]
    )
    for relationship in relationships:
        other = relationship.target_id if relationship.source_id == memory.pk else relationship.source_id
        relationship.other = others.get(other)
    traces = selectors.decision_traces(project=project, ids=[row.trace_id for row in history])
    for row in history:
        row.decision = traces.get(row.trace_id)
    return {
        "project": project,
        "can_write": access.can_write,
        "memory": timeline.memory,
        "versions": timeline.versions,
        "chain": timeline.chain if len(timeline.chain) > 1 else [],
        "history": history,
        "sources": selectors.memory_sources(memory=timeline.memory),
        "relationships": relationships,
        "relations": KNOWN_RELATIONS,
        "edit_error": edit_error,
        "metadata_text": json.dumps(timeline.memory.metadata, indent=2, ensure_ascii=False),
    }


@login_required
@require_GET
def memory_detail(request, project_id, memory_id):
    """A memory: text, metadata, scope, validity, history, relationships and supersession chain. An
    HTMX request (the graph page's node panel) gets the panel alone."""
    access = project_access(request.user, project_id)
    memory = memory_or_404(access.project, memory_id)
    context = memory_context(access, memory)
    return render(request, "ui/_memory_panel.html" if request.htmx else "ui/memory.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def memory_edit(request, project_id, memory_id):
    """Inline edit of a memory's text, metadata and categories (GET: the form; POST: the change)."""
    access = project_access(request.user, project_id, write=True)
    project = access.project
    memory = memory_or_404(project, memory_id)
    returns = request.POST.get("return") or request.GET.get("return") or "panel"
    if request.method == "GET":
        context = memory_context(access, memory)
        context["returns"] = returns
        return render(request, "ui/_memory_edit.html" if request.htmx else "ui/memory_edit.html", context)
    try:
        memory = services.memory_update(
            project=project,
            memory_id=memory.pk,
            text=request.POST.get("text", ""),
            metadata=parse_metadata(request.POST.get("metadata")),
            categories=parse_categories(request.POST.get("categories")),
            actor_id=actor(request),
        )
    except NotFound:
        raise Http404("No such memory") from None
    except ApplicationError as exc:
        context = memory_context(access, memory, edit_error=exc.message)
        context.update(returns=returns, form=request.POST)
        template = "ui/_memory_edit.html" if request.htmx else "ui/memory_edit.html"
        return render(request, template, context, status=422 if exc.status == 422 else exc.status)
    if not request.htmx:
        return redirect(reverse("ui:memory", args=[project.pk, memory.pk]))
    if returns == "row":
        return render(request, "ui/_memory_row.html", {"project": project, "memory": memory, "can_write": True})
    return render(request, "ui/_memory_panel.html", memory_context(access, memory))


@login_required
@require_http_methods(["GET", "POST"])
def memory_delete(request, project_id, memory_id):
    """GET: a confirmation page (the no-JavaScript path); POST: delete (its history stays)."""
    project = project_access(request.user, project_id, write=True).project
    memory = memory_or_404(project, memory_id)
    if request.method == "GET":
        return render(request, "ui/memory_delete.html", {"project": project, "memory": memory})
    try:
        services.memory_delete(project=project, memory_id=memory.pk, actor_id=actor(request))
    except NotFound:
        raise Http404("No such memory") from None
    still_there = memory.user_id and any(
        row["user_id"] == memory.user_id for row in selectors.user_list(project=project, contains=memory.user_id)
    )
    after = (
        reverse("ui:user", args=[project.pk, memory.user_id]) if still_there else reverse("ui:users", args=[project.pk])
    )
    if request.htmx:
        if request.POST.get("return") == "row":
            return HttpResponse("")  # the row disappears
        return HttpResponseClientRedirect(after)
    return redirect(after)


@login_required
@require_POST
def memory_state(request, project_id, memory_id):
    """Expire a memory now (``action=expire``) or serve it again (``action=restore``)."""
    access = project_access(request.user, project_id, write=True)
    project = access.project
    memory = memory_or_404(project, memory_id)
    change = {"expire": services.memory_expire, "restore": services.memory_restore}.get(request.POST.get("action"))
    error, status = None, 200
    if change is None:
        error, status = "action must be expire or restore", 422
    else:
        try:
            memory = change(project=project, memory_id=memory.pk, actor_id=actor(request))
        except NotFound:
            raise Http404("No such memory") from None
        except ApplicationError as exc:
            error, status = exc.message, exc.status
    if not request.htmx and error is None:
        return redirect(reverse("ui:memory", args=[project.pk, memory.pk]))
    context = memory_context(access, memory)
    context["state_error"] = error
    return render(request, "ui/_memory_panel.html" if request.htmx else "ui/memory.html", context, status=status)
