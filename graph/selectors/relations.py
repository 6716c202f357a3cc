"""Entity relations (Mem0's graph memory): search and list the triples extracted from memories."""

import re
from datetime import datetime
from typing import Any

from django.db.models import Q

from graph.models import EntityRelation
from graph.selectors.traversal import LIMIT_MAX, clean_times
from mem0g_site.paging import positive_int
from memories.inputs import Scope, clean_scope, clean_text

# --- entity relations (Mem0's graph memory) ---------------------------------------------------

_FIRST_PERSON = {"i", "me", "my", "mine", "myself", "user", "users", "i'm", "im"}
_STOP = {
    "a", "an", "the", "is", "are", "was", "were", "do", "does", "did", "what", "which", "who", "whom", "where",
    "when", "why", "how", "of", "in", "on", "at", "to", "for", "with", "and", "or", "about", "any", "has", "have",
}  # fmt: skip
RELATIONS_CANDIDATES = 200


def _relations(project, scope: Scope | None, as_of: Any, known_at: Any):
    as_of, known_at = clean_times(as_of, known_at)
    queryset = EntityRelation.objects.for_project(project).as_known(as_of=as_of, known_at=known_at)
    if scope is not None:
        queryset = queryset.filter(**clean_scope(scope, required=False).as_filter())
    return queryset


def relations_search(
    *,
    project,
    scope: Scope | None,
    query: Any,
    limit: int = 5,
    as_of: datetime | None = None,
    known_at: datetime | None = None,
) -> list[dict]:
    """Mem0's ``relations`` of a search: the triples of the scope that name an entity of ``query``
    (any run of one to three of its words, lower_snake_case; "I", "my", "user": the user), best
    first: entity matches, then relationship words the query shares ("live" finds ``lives_in``),
    then the newest. At most ``limit``; one query."""
    query = clean_text(query, field_name="query")
    limit = positive_int(limit, field="limit", maximum=LIMIT_MAX)
    words = re.findall(r"[\w'\-]+", query.lower())
    names = {"_".join(words[i : i + n]) for n in (1, 2, 3) for i in range(len(words) - n + 1)}
    names = {name for name in names if name not in _STOP and name not in _FIRST_PERSON}
    if any(word in _FIRST_PERSON for word in words):
        names.add("user")
    stems = {word[:4] for word in words if word not in _STOP and word not in _FIRST_PERSON and len(word) > 2}
    if not names:
        return []
    rows = list(
        _relations(project, scope, as_of, known_at)
        .filter(Q(source__in=names) | Q(destination__in=names))
        .order_by("-created_at", "-id")
        .values_list("source", "relationship", "destination")[:RELATIONS_CANDIDATES]
    )

    def score(row: tuple[str, str, str]) -> float:
        source, relationship, destination = row
        entities = sum(0.5 if name == "user" else 1.0 for name in (source, destination) if name in names)
        verbs = sum(1 for part in relationship.split("_") if len(part) > 2 and part[:4] in stems)
        return entities + verbs

    seen, results = set(), []
    for row in sorted(rows, key=score, reverse=True):  # stable: newest first among equals
        if row not in seen:
            seen.add(row)
            results.append({"source": row[0], "relationship": row[1], "destination": row[2]})
    return results[:limit]


def relations_list(
    *,
    project,
    scope: Scope | None,
    limit: int = 100,
    as_of: datetime | None = None,
    known_at: datetime | None = None,
) -> list[dict]:
    """Mem0's ``relations`` of a get_all: the scope's triples, newest first, ``{"source",
    "relationship", "target"}``. One query."""
    limit = positive_int(limit, field="limit", maximum=LIMIT_MAX)
    rows = (
        _relations(project, scope, as_of, known_at)
        .order_by("-created_at", "-id")
        .values_list("source", "relationship", "destination")[:limit]
    )
    return [{"source": s, "relationship": r, "target": d} for s, r, d in rows]
