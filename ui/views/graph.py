"""A user's memory graph: the page with its time slider, and the Cytoscape elements as JSON."""

import math
from dataclasses import asdict
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from graph import selectors as graph_selectors
from graph.export import memory_node, relationship_edge, to_cytoscape, to_cytoscape_hubs
from graph.models import KNOWN_RELATIONS
from mem0g_site.exceptions import ValidationFailed
from mem0g_site.inputs import parse_moment
from memories.inputs import Scope
from ui.access import project_access
from ui.views.common import user_or_404

GRAPH_LIMIT = graph_selectors.LIMIT_MAX  # 1,000 nodes: the graph endpoint's own limit
SLIDER_STEP = 60  # seconds


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
    user = user_or_404(project, user_id)
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
    user = user_or_404(project, user_id)
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
