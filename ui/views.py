"""The web UI's views: they parse the request, call memories/graph services and selectors, and render.

Every view answers a full request with a page and an HTMX request (``request.htmx``) with the fragment
that changed, from the same code. Reads work without JavaScript (links have ``href``s, forms post and
redirect); every write is a POST checked for CSRF. Every view starts from ``ui.access.project_access``:
anything outside the person's projects is a 404; a write view (its forms too) asked by a person who
may only read the project is a 403, and templates offer write controls only when ``can_write``.
"""

import json
import math
from dataclasses import asdict
from typing import Any
from urllib.parse import urlencode

from axes.helpers import get_cool_off, get_failure_limit
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import Http404, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from graph import selectors as graph_selectors
from graph import services as graph_services
from graph.export import memory_node, relationship_edge, to_cytoscape, to_cytoscape_hubs
from graph.models import KNOWN_RELATIONS
from mem0g_site.exceptions import ApplicationError, NotFound, ValidationFailed
from mem0g_site.inputs import parse_moment
from memories import review_selectors, search, selectors, services
from memories.inputs import NewMemory, Scope, clean_text
from memories.models import expired_by
from memories.review import ReviewNotFound, review_apply
from ui.access import ProjectAccess, project_access, projects_for

PAGE_SIZE = 20
GRAPH_LIMIT = graph_selectors.LIMIT_MAX  # 1,000 nodes: the graph endpoint's own limit
SLIDER_STEP = 60  # seconds


# --- helpers --------------------------------------------------------------------------------


def _actor(request) -> str:
    return f"ui:{request.user.get_username()}"


def _page_number(value: str | None) -> int:
    try:
        number = int(value or 1)
    except ValueError:
        return 1
    return max(1, min(number, 10**6))


def _pager(params, result) -> dict[str, str]:
    """The query strings of the pages around ``result`` (a ``Page``), for ``ui/_pager.html``."""
    links = {}
    if result.has_next:
        links["next_query"] = _query(params, page=result.page + 1)
    if result.has_previous:
        links["previous_query"] = _query(params, page=result.page - 1)
    return links


def _user(project, user_id: str) -> dict[str, Any]:
    try:
        return selectors.user_overview(project=project, user_id=user_id)
    except (NotFound, ValidationFailed):
        raise Http404("No such user") from None


def _memory(project, memory_id):
    try:
        return selectors.memory_get(project=project, memory_id=memory_id)
    except NotFound:
        raise Http404("No such memory") from None


def _metadata(value: str | None) -> dict:
    value = (value or "").strip()
    if not value:
        return {}
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as exc:
        raise ValidationFailed(f"metadata is not valid JSON ({exc.msg})", field="metadata") from None
    if not isinstance(parsed, dict):
        raise ValidationFailed("metadata must be a JSON object", field="metadata")
    return parsed


def _categories(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def _query(params: QueryDict, **changes) -> str:
    merged = {key: value for key, value in params.items() if value}
    merged.update({key: value for key, value in changes.items()})
    return urlencode({key: value for key, value in merged.items() if value not in (None, "")})


# --- pages ----------------------------------------------------------------------------------


def login_locked_out(request, original_response=None, credentials=None):
    """What a throttled login (/ui/login/ or /admin/login/) gets instead of the form: 429, saying why
    and for how long (django-axes calls this, ``AXES_LOCKOUT_CALLABLE``)."""
    seconds = math.ceil(get_cool_off(request).total_seconds())
    context = {"failure_limit": get_failure_limit(request, credentials), "minutes": math.ceil(seconds / 60)}
    response = render(request, "locked_out.html", context, status=429)
    response["Retry-After"] = str(seconds)
    return response


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


def _memories_context(request, access: ProjectAccess, user: dict) -> dict[str, Any]:
    project = access.project
    params = request.GET
    q = params.get("q", "").strip()
    agent = params.get("agent", "").strip() or None
    category = params.get("category", "").strip() or None
    state = params.get("state", "current")
    state = state if state in selectors.MEMORY_STATES else "current"
    page = _page_number(params.get("page"))
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
            context.update(_pager(params, result))
    except ValidationFailed as exc:
        context["error"] = exc.message
    return context


@login_required
@require_http_methods(["GET", "POST"])
def user_memories(request, project_id, user_id):
    """A user's memories (live search, filters, pages, "as of") and, by POST, a new memory."""
    access = project_access(request.user, project_id, write=request.method == "POST")
    project = access.project
    user = _user(project, user_id)
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
                        metadata=_metadata(request.POST.get("metadata")),
                        categories=_categories(request.POST.get("categories")),
                        actor_id=_actor(request),
                    )
                ],
            )
        except ValidationFailed as exc:
            add_error = exc.message
        else:
            if not request.htmx:
                return redirect(reverse("ui:user", args=[project.pk, user["user_id"]]))
            user = _user(project, user_id)
    context = _memories_context(request, access, user)
    context["add_error"] = add_error
    if request.htmx:
        template = "ui/_memory_list.html"
        response = render(request, template, context, status=422 if add_error else 200)
        return response
    context["review_pending"] = review_selectors.review_pending_count(project=project, user_id=user["user_id"])
    return render(request, "ui/user.html", context, status=422 if add_error else 200)


def _memory_context(access: ProjectAccess, memory, *, edit_error: str | None = None) -> dict[str, Any]:
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
    memory = _memory(access.project, memory_id)
    context = _memory_context(access, memory)
    return render(request, "ui/_memory_panel.html" if request.htmx else "ui/memory.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def memory_edit(request, project_id, memory_id):
    """Inline edit of a memory's text, metadata and categories (GET: the form; POST: the change)."""
    access = project_access(request.user, project_id, write=True)
    project = access.project
    memory = _memory(project, memory_id)
    returns = request.POST.get("return") or request.GET.get("return") or "panel"
    if request.method == "GET":
        context = _memory_context(access, memory)
        context["returns"] = returns
        return render(request, "ui/_memory_edit.html" if request.htmx else "ui/memory_edit.html", context)
    try:
        memory = services.memory_update(
            project=project,
            memory_id=memory.pk,
            text=request.POST.get("text", ""),
            metadata=_metadata(request.POST.get("metadata")),
            categories=_categories(request.POST.get("categories")),
            actor_id=_actor(request),
        )
    except NotFound:
        raise Http404("No such memory") from None
    except ApplicationError as exc:
        context = _memory_context(access, memory, edit_error=exc.message)
        context.update(returns=returns, form=request.POST)
        template = "ui/_memory_edit.html" if request.htmx else "ui/memory_edit.html"
        return render(request, template, context, status=422 if exc.status == 422 else exc.status)
    if not request.htmx:
        return redirect(reverse("ui:memory", args=[project.pk, memory.pk]))
    if returns == "row":
        return render(request, "ui/_memory_row.html", {"project": project, "memory": memory, "can_write": True})
    return render(request, "ui/_memory_panel.html", _memory_context(access, memory))


@login_required
@require_http_methods(["GET", "POST"])
def memory_delete(request, project_id, memory_id):
    """GET: a confirmation page (the no-JavaScript path); POST: delete (its history stays)."""
    project = project_access(request.user, project_id, write=True).project
    memory = _memory(project, memory_id)
    if request.method == "GET":
        return render(request, "ui/memory_delete.html", {"project": project, "memory": memory})
    try:
        services.memory_delete(project=project, memory_id=memory.pk, actor_id=_actor(request))
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
    memory = _memory(project, memory_id)
    change = {"expire": services.memory_expire, "restore": services.memory_restore}.get(request.POST.get("action"))
    error, status = None, 200
    if change is None:
        error, status = "action must be expire or restore", 422
    else:
        try:
            memory = change(project=project, memory_id=memory.pk, actor_id=_actor(request))
        except NotFound:
            raise Http404("No such memory") from None
        except ApplicationError as exc:
            error, status = exc.message, exc.status
    if not request.htmx and error is None:
        return redirect(reverse("ui:memory", args=[project.pk, memory.pk]))
    context = _memory_context(access, memory)
    context["state_error"] = error
    return render(request, "ui/_memory_panel.html" if request.htmx else "ui/memory.html", context, status=status)


@login_required
@require_GET
def relationship_targets(request, project_id, memory_id):
    """Memories of the same user to link this one to, found by meaning (``q``): the first step of
    adding a relationship, so it needs the right to write."""
    project = project_access(request.user, project_id, write=True).project
    memory = _memory(project, memory_id)
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
        context = _memory_context(access, memory)
        context["relationship_error"] = error
        return render(request, "ui/_relationships.html", context, status=status)
    if error:
        context = _memory_context(access, memory)
        context["relationship_error"] = error
        return render(request, "ui/memory.html", context, status=status)
    return redirect(reverse("ui:memory", args=[project.pk, memory.pk]))


@login_required
@require_POST
def relationship_add(request, project_id, memory_id):
    access = project_access(request.user, project_id, write=True)
    project = access.project
    memory = _memory(project, memory_id)
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
    memory = _memory(project, request.POST.get("memory_id", ""))
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


def _changes_data(changes) -> list[dict[str, Any]]:
    return [
        {
            "at": change.at.isoformat(),
            "kind": change.kind,
            "id": str(change.memory_id),
            "text": change.text,
            "by": str(change.by_id) if change.by_id else None,
            "by_text": change.by_text,
        }
        for change in changes
    ]


@login_required
@require_GET
def user_graph(request, project_id, user_id):
    """The user's memory graph (Cytoscape.js draws ``graph.json``; the filters and the time slider
    re-fetch it), its filters' choices, and every change over time for the timeline strip."""
    project = project_access(request.user, project_id).project
    user = _user(project, user_id)
    now = timezone.now()
    scope = Scope(user_id=user["user_id"])
    changes = graph_selectors.graph_changes(project=project, scope=scope, now=now)
    first = min([user["first"], *(change.at for change in changes[:1])])
    first_ts = int(first.timestamp())
    context = {
        "project": project,
        "user": user,
        "relations": [*KNOWN_RELATIONS, graph_selectors.MENTIONS],
        "facets": graph_selectors.graph_facets(project=project, scope=scope),
        "changes": _changes_data(changes),
        "first": first,
        "now": now,
        "first_ts": first_ts,
        # The slider moves in minutes from the first moment; its right end (now) is a whole step away.
        "now_ts": first_ts + max(1, math.ceil((now.timestamp() - first_ts) / SLIDER_STEP)) * SLIDER_STEP,
        "step": SLIDER_STEP,
        "limit": GRAPH_LIMIT,
        "data_url": reverse("ui:graph-data", args=[project.pk, user["user_id"]]),
        "panel_url": reverse("ui:memory", args=[project.pk, "00000000-0000-0000-0000-000000000000"]),
    }
    return render(request, "ui/graph.html", context)


@login_required
@require_GET
def user_graph_data(request, project_id, user_id):
    """The graph as Cytoscape.js elements: memories (``graph.export.to_cytoscape``, each with ``kind:
    "memory"``) and entity hubs with their ``mentions`` edges (``to_cytoscape_hubs``), as of ``as_of``,
    narrowed by ``entity``, ``category``, ``agent`` and ``relation``; at most 1,000 memories
    (``truncated`` says there were more)."""
    project = project_access(request.user, project_id).project
    user = _user(project, user_id)
    params = request.GET
    try:
        graph = graph_selectors.graph_view(
            project=project,
            scope=Scope(user_id=user["user_id"]),
            limit=GRAPH_LIMIT,
            as_of=parse_moment(params.get("as_of"), field="as_of"),
            relation=params.get("relation") or None,
            entity=params.get("entity") or None,
            category=params.get("category") or None,
            agent=params.get("agent") or None,
        )
    except ValidationFailed as exc:
        return JsonResponse({"detail": exc.message, "field": exc.field}, status=422)
    body = to_cytoscape(
        nodes=[memory_node(memory) for memory in graph.nodes],
        edges=[relationship_edge(relationship) for relationship in graph.edges],
        truncated=graph.truncated,
    )
    for node in body["elements"]["nodes"]:
        node["data"]["kind"] = "memory"
    hubs = to_cytoscape_hubs(
        entities=[asdict(hub) for hub in graph.entities], mentions=[asdict(m) for m in graph.mentions]
    )
    body["elements"]["nodes"] += hubs["nodes"]
    body["elements"]["edges"] += hubs["edges"]
    body["limit"] = GRAPH_LIMIT
    return JsonResponse(body)


# --- the review queue -----------------------------------------------------------------------


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
        page=_page_number(params.get("page")),
        page_size=PAGE_SIZE,
    )
    context.update(items=result.results, page=result, **_pager(params, result))
    return context


@login_required
@require_GET
def review_queue(request, project_id, user_id=None):
    """The review queue: inferred changes (ADD from extraction, UPDATE, SUPERSEDE) with their
    decision trace, newest first, for the project or one user; ``state`` picks pending (default),
    accepted, rejected or all. Everyone who reads the project sees it; only writers get the buttons."""
    access = project_access(request.user, project_id)
    user = _user(access.project, user_id) if user_id is not None else None
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
            actor_id=_actor(request),
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
