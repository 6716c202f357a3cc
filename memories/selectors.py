"""Every read of memories goes through these functions.

By default a read sees what holds now: current (``valid_to`` and ``invalidated_at`` unset) and not
expired. ``as_of=T`` shows what held at T instead; ``include_expired`` also shows expired rows.
"""

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import BigIntegerField, Count, ExpressionWrapper, FloatField, Max, Min, Q, Sum, Value
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce
from django.utils import timezone
from pgvector.django import CosineDistance

from mem0g_site.exceptions import MemoryNotFound, UserNotFound, ValidationFailed
from memories.embedding import embed_query
from memories.inputs import Scope, clean_moment, clean_scope, clean_text, clean_uuid
from memories.models import Memory, MemoryHistory

PAGE_SIZE_MAX = 200
# Bytes a memory row takes for its text, metadata and vector (as stored, after compression).
ROW_BYTES_SQL = "pg_column_size(memory) + pg_column_size(metadata) + coalesce(pg_column_size(embedding), 0)"
TOP_K_MAX = 1000


@dataclass(frozen=True)
class MemoryPage:
    results: list[Memory]
    count: int
    page: int
    page_size: int

    @property
    def has_next(self) -> bool:
        return self.page * self.page_size < self.count

    @property
    def has_previous(self) -> bool:
        return self.page > 1


def _visible(queryset, *, as_of: datetime | None, include_expired: bool):
    if as_of is not None:
        # Valid time: what held at T as we know it now, so a fact recorded later about an earlier
        # time (an import with observation dates, a superseded fact) shows for the time it held.
        queryset = queryset.as_known(as_of=as_of)
        return queryset if include_expired else queryset.unexpired(as_of)
    queryset = queryset.current()
    return queryset if include_expired else queryset.unexpired(timezone.now())


def _scoped(project, scope: Scope | None):
    queryset = Memory.objects.for_project(project).defer("embedding")
    if scope is not None:
        queryset = queryset.filter(**clean_scope(scope, required=False).as_filter())
    return queryset


def memory_get(*, project, memory_id: Any, within: Scope | None = None) -> Memory:
    """One memory of the project (inside ``within``, if given), in any state; anything else is
    'not found'."""
    pk = clean_uuid(memory_id)
    memory = None if pk is None else _scoped(project, within).filter(pk=pk).first()
    if memory is None:
        raise MemoryNotFound(memory_id)
    return memory


def _positive_int(value: Any, *, field: str, maximum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise ValidationFailed(f"{field} must be a whole number from 1 to {maximum}", field=field)
    return value


def memory_list(
    *,
    project,
    scope: Scope | None = None,
    where: Q | None = None,
    page: int = 1,
    page_size: int = 100,
    as_of: datetime | None = None,
    include_expired: bool = False,
    known_at: datetime | None = None,
) -> MemoryPage:
    """Memories newest first, one page at a time (``page`` counts from 1). ``where`` is a compiled
    filter (``memories.filters``). ``known_at=K`` (record time) lists what was on record at K,
    retracted since or not (``TemporalQuerySet.as_known``; alone, ``as_of`` is K too)."""
    page = _positive_int(page, field="page", maximum=10**9)
    page_size = _positive_int(page_size, field="page_size", maximum=PAGE_SIZE_MAX)
    as_of = clean_moment(as_of, field_name="as_of")
    known_at = clean_moment(known_at, field_name="known_at")
    if known_at is None:
        queryset = _visible(_scoped(project, scope), as_of=as_of, include_expired=include_expired)
    else:
        queryset = _scoped(project, scope).as_known(as_of=as_of, known_at=known_at)
        queryset = queryset if include_expired else queryset.unexpired(as_of or known_at)
    if where is not None:
        queryset = queryset.filter(where)
    count = queryset.count()
    offset = (page - 1) * page_size
    results = list(queryset.order_by("-created_at", "-id")[offset : offset + page_size]) if offset < count else []
    return MemoryPage(results=results, count=count, page=page, page_size=page_size)


SCOPE_SIZE_CACHE_SECONDS = 60


def _scope_size(project, scope: Scope | None, candidates, limit: int, *, cacheable: bool) -> int:
    """How many rows a search would score, counted up to ``limit + 1``. Only picks the strategy,
    so for plain scope searches it is cached for a minute: a stale count at worst picks the HNSW
    walk for a small scope, which the fallback below corrects."""
    if not cacheable:
        return candidates[: limit + 1].count()
    parts = [str(project.pk), str(limit)] + [
        f"{k}={v}" for k, v in sorted((scope.as_filter() if scope else {}).items())
    ]
    key = "mem0g:scope-size:" + hashlib.sha256("|".join(parts).encode()).hexdigest()
    size = cache.get(key)
    if size is None:
        size = candidates[: limit + 1].count()
        cache.set(key, size, SCOPE_SIZE_CACHE_SECONDS)
    return size


def memory_search(
    *,
    project,
    query: Any,
    scope: Scope | None = None,
    where: Q | None = None,
    top_k: int = 10,
    threshold: float | None = None,
    as_of: datetime | None = None,
    include_expired: bool = False,
) -> list[Memory]:
    """The ``top_k`` memories closest in meaning to ``query``, best first, each with ``score``
    (cosine similarity clipped to [0, 1]); ``threshold`` drops weaker matches.

    Filtered vector search must return the full top-k. A plain HNSW scan visits the ~40 nearest
    rows of the whole table and filters afterwards, so a user owning 1% of the rows can get fewer
    results, or none. Small candidate sets (up to ``SEARCH_EXACT_MAX_ROWS``) are therefore scored
    exactly through the B-tree scope indexes; larger ones use the HNSW index with pgvector's
    iterative scan, which keeps walking the graph until the filtered LIMIT is met, and fall back
    to the exact scan in the rare case the graph walk comes back short.
    """
    query = clean_text(query, field_name="query")
    top_k = _positive_int(top_k, field="top_k", maximum=TOP_K_MAX)
    if threshold is not None:
        if (
            isinstance(threshold, bool)
            or not isinstance(threshold, (int, float))
            or not (math.isfinite(threshold) and 0 <= threshold <= 1)
        ):
            raise ValidationFailed("threshold must be a number from 0 to 1", field="threshold")
    as_of = clean_moment(as_of, field_name="as_of")
    candidates = _visible(_scoped(project, scope), as_of=as_of, include_expired=include_expired).filter(
        embedding__isnull=False
    )
    if where is not None:
        candidates = candidates.filter(where)
    vector = embed_query(query)
    distance = CosineDistance("embedding", vector)
    limit = settings.SEARCH_EXACT_MAX_ROWS
    exact = (
        limit > 0
        and _scope_size(
            project, scope, candidates, limit, cacheable=where is None and as_of is None and not include_expired
        )
        <= limit
    )

    if not exact:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL hnsw.iterative_scan = strict_order")
            cursor.execute(f"SET LOCAL hnsw.ef_search = {min(1000, max(settings.SEARCH_HNSW_EF_SEARCH, 2 * top_k))}")
            rows = list(candidates.annotate(distance=distance).order_by("distance")[:top_k])
        # An HNSW graph can leave some rows unreachable (many near-identical vectors make poorly
        # connected regions), and the iterative scan stops at hnsw.max_scan_tuples: if it came back
        # short while the scope holds more rows, fall back to the exact scan.
        exact = len(rows) < top_k and candidates[: len(rows) + 1].count() > len(rows)
    if exact:
        # "+ 0" makes the sort key an expression the HNSW index cannot serve, so PostgreSQL scores
        # every candidate row found through the scope index: exact, and cheap for small scopes.
        ordering = ExpressionWrapper(distance + Value(0.0), output_field=FloatField())
        rows = list(candidates.annotate(distance=distance).order_by(ordering, "id")[:top_k])

    results = []
    for memory in rows:
        memory.score = min(1.0, max(0.0, 1.0 - float(memory.distance)))
        if threshold is None or memory.score >= threshold:
            results.append(memory)
    return results


def memory_history(*, project, memory_id: Any, within: Scope | None = None) -> list[MemoryHistory]:
    """A memory's ADD/UPDATE/DELETE rows, oldest first; kept after the memory is deleted."""
    pk = clean_uuid(memory_id)
    fence = clean_scope(within, required=False).as_filter() if within is not None else {}
    rows = (
        []
        if pk is None
        else list(MemoryHistory.objects.filter(project=project, memory_id=pk, **fence).order_by("created_at", "id"))
    )
    if not rows:
        raise MemoryNotFound(memory_id)
    return rows


def user_stats(*, project, user_id: str) -> dict[str, Any]:
    """What the project holds about one user: counts by agent, run, category and state, first
    and last activity, and the storage it takes. A user with no memories is 'not found'."""
    user_id = clean_scope(Scope(user_id=user_id), required=True).user_id
    memories = Memory.objects.for_project(project).filter(user_id=user_id)
    now = timezone.now()
    totals = memories.aggregate(
        total=Count("id"),
        current=Count("id", filter=Q(valid_to__isnull=True, invalidated_at__isnull=True)),
        expired=Count("id", filter=Q(expiration_date__lte=now)),
        first=Min("created_at"),
        last=Max("updated_at"),
        bytes=Coalesce(Sum(RawSQL(ROW_BYTES_SQL, [], output_field=BigIntegerField())), 0),
    )
    if not totals["total"]:
        raise UserNotFound(user_id)
    by_agent = dict(memories.values_list("agent_id").annotate(n=Count("id")).order_by())
    by_run = dict(memories.values_list("run_id").annotate(n=Count("id")).order_by())
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT category, count(*) FROM memories_memory, unnest(categories) AS category"
            " WHERE project_id = %s AND user_id = %s GROUP BY category",
            [project.pk, user_id],
        )
        by_category = dict(cursor.fetchall())
    last_history = MemoryHistory.objects.filter(project=project, user_id=user_id).aggregate(last=Max("created_at"))
    last_activity = max(filter(None, [totals["last"], last_history["last"]]))
    return {
        "user_id": user_id,
        "total_memories": totals["total"],
        "current_memories": totals["current"],
        "superseded_memories": totals["total"] - totals["current"],
        "expired_memories": totals["expired"],
        "by_agent": {agent or "none": n for agent, n in by_agent.items()},
        "by_run": {run or "none": n for run, n in by_run.items()},
        "by_category": by_category,
        "first_activity": totals["first"],
        "last_activity": last_activity,
        "storage_bytes": int(totals["bytes"]),
    }


ENTITY_TYPES = {"user": "user_id", "agent": "agent_id", "app": "app_id", "run": "run_id"}


def entity_list(*, project, within: Scope | None = None) -> list[dict[str, Any]]:
    """Every user, agent, app and run id that has memories, with counts and activity (Mem0's
    ``GET /v1/entities/``); one grouped query per entity type."""
    memories = _scoped(project, within)
    entities = []
    for entity_type, field in ENTITY_TYPES.items():
        rows = (
            memories.exclude(**{f"{field}__isnull": True})
            .values(field)
            .annotate(total=Count("id"), first=Min("created_at"), last=Max("updated_at"))
            .order_by(field)
        )
        entities += [
            {
                "type": entity_type,
                "name": row[field],
                "total_memories": row["total"],
                "created_at": row["first"],
                "updated_at": row["last"],
            }
            for row in rows
        ]
    return entities


def memory_summary(*, project, scope: Scope | None = None, where: Q | None = None, recent: int = 10) -> dict[str, Any]:
    """A deterministic digest of a set of memories (what ``POST /v1/summary/`` answers without an
    LLM): counts, categories, the most recent facts and a few lines of text built from them."""
    queryset = _visible(_scoped(project, scope), as_of=None, include_expired=False)
    if where is not None:
        queryset = queryset.filter(where)
    total = queryset.count()
    latest = list(queryset.order_by("-created_at", "-id")[:recent])
    with connection.cursor() as cursor:
        sql, params = queryset.values("categories").query.sql_with_params()
        cursor.execute(
            f"SELECT category, count(*) FROM ({sql}) AS picked, unnest(picked.categories) AS category"
            " GROUP BY category ORDER BY count(*) DESC, category",
            params,
        )
        categories = dict(cursor.fetchall())
    lines = [f"{total} memories" + (f" across {len(categories)} categories" if categories else "") + "."]
    lines += [f"- {memory.memory}" for memory in latest]
    return {
        "summary": "\n".join(lines),
        "total_memories": total,
        "categories": categories,
        "recent": [{"id": str(m.id), "memory": m.memory, "created_at": m.created_at.isoformat()} for m in latest],
    }


def add_event_get(*, project, event_id: Any, within: Scope | None = None):
    from mem0g_site.exceptions import NotFound
    from memories.models import AddEvent

    pk = clean_uuid(event_id)
    events = AddEvent.objects.filter(project=project)
    if within is not None and within.user_id:
        events = events.filter(user_id=within.user_id)
    event = None if pk is None else events.filter(pk=pk).first()
    if event is None:
        raise NotFound("Event not found", details={"event_id": str(event_id)})
    return event


def add_event_list(*, project, within: Scope | None = None, page: int = 1, page_size: int = 50):
    from memories.models import AddEvent

    page = _positive_int(page, field="page", maximum=10**9)
    page_size = _positive_int(page_size, field="page_size", maximum=PAGE_SIZE_MAX)
    events = AddEvent.objects.filter(project=project)
    if within is not None and within.user_id:
        events = events.filter(user_id=within.user_id)
    count = events.count()
    offset = (page - 1) * page_size
    return count, list(events.order_by("-created_at", "-id")[offset : offset + page_size])


def project_stats(*, project, within: Scope | None = None) -> dict[str, Any]:
    """Totals for ``GET /v1/stats/``: memories (current and all), entities by type, add events."""
    from memories.models import AddEvent

    memories = _scoped(project, within)
    totals = memories.aggregate(
        total=Count("id"),
        current=Count("id", filter=Q(valid_to__isnull=True, invalidated_at__isnull=True)),
        **{f"{kind}s": Count(field, distinct=True) for kind, field in ENTITY_TYPES.items()},
    )
    events = AddEvent.objects.filter(project=project)
    if within is not None and within.user_id:
        events = events.filter(user_id=within.user_id)
    return {
        "total_memories": totals["total"],
        "current_memories": totals["current"],
        "total_users": totals["users"],
        "total_agents": totals["agents"],
        "total_apps": totals["apps"],
        "total_runs": totals["runs"],
        "total_add_events": events.count(),
    }


# --- For the web UI ---------------------------------------------------------------------------

MEMORY_STATES = ("current", "superseded", "expired", "all")


def user_list(*, project, contains: str | None = None, limit: int = 500) -> list[dict[str, Any]]:
    """The project's user ids (those containing ``contains``, case-folded) with their memory counts and
    last activity, most recently active first; one grouped query over the ``(project, user_id)`` index."""
    limit = _positive_int(limit, field="limit", maximum=10_000)
    queryset = Memory.objects.for_project(project).filter(user_id__isnull=False)
    if contains:
        queryset = queryset.filter(user_id__icontains=contains)
    rows = (
        queryset.values("user_id")
        .annotate(
            total=Count("id"),
            current=Count("id", filter=Q(valid_to__isnull=True, invalidated_at__isnull=True)),
            last_activity=Max("updated_at"),
        )
        .order_by("-last_activity", "user_id")[:limit]
    )
    return list(rows)


def user_overview(*, project, user_id: str) -> dict[str, Any]:
    """One user's counts, the span of their history (``first``: earliest ``valid_from``; ``last``: latest
    change), and the agent ids and categories their memories use (for filters). A user with no memories
    is 'not found'. Two queries."""
    from django.contrib.postgres.aggregates import ArrayAgg

    user_id = clean_scope(Scope(user_id=user_id), required=True).user_id
    memories = Memory.objects.for_project(project).filter(user_id=user_id)
    totals = memories.aggregate(
        total=Count("id"),
        current=Count("id", filter=Q(valid_to__isnull=True, invalidated_at__isnull=True)),
        first=Min("valid_from"),
        last_change=Max("updated_at"),
        last_close=Max("valid_to"),
        agents=ArrayAgg("agent_id", distinct=True, filter=Q(agent_id__isnull=False), default=Value([])),
    )
    if not totals["total"]:
        raise UserNotFound(user_id)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT category FROM memories_memory, unnest(categories) AS category"
            " WHERE project_id = %s AND user_id = %s ORDER BY category",
            [project.pk, user_id],
        )
        categories = [row[0] for row in cursor.fetchall()]
    return {
        "user_id": user_id,
        "total": totals["total"],
        "current": totals["current"],
        "first": totals["first"],
        "last": max(filter(None, [totals["last_change"], totals["last_close"]])),
        "agents": sorted(totals["agents"]),
        "categories": categories,
    }


def memory_list_in_state(
    *,
    project,
    scope: Scope,
    state: str = "current",
    where: Q | None = None,
    as_of: datetime | None = None,
    page: int = 1,
    page_size: int = 20,
) -> MemoryPage:
    """Like :func:`memory_list`, by state: ``current`` (holds now, not expired), ``superseded`` (closed
    or retracted), ``expired`` (holds but past its expiration date) or ``all``. With ``as_of`` the
    state is what held then (``expired``/``all`` also show rows expired since)."""
    if state not in MEMORY_STATES:
        raise ValidationFailed(f"state must be one of {', '.join(MEMORY_STATES)}", field="state")
    if as_of is not None or state == "current":
        return memory_list(
            project=project,
            scope=scope,
            where=where,
            page=page,
            page_size=page_size,
            as_of=as_of,
            include_expired=state in ("expired", "all"),
        )
    page = _positive_int(page, field="page", maximum=10**9)
    page_size = _positive_int(page_size, field="page_size", maximum=PAGE_SIZE_MAX)
    queryset = _scoped(project, scope)
    if state == "superseded":
        queryset = queryset.filter(Q(valid_to__isnull=False) | Q(invalidated_at__isnull=False))
    elif state == "expired":
        queryset = queryset.current().filter(expiration_date__lte=timezone.now())
    if where is not None:
        queryset = queryset.filter(where)
    count = queryset.count()
    offset = (page - 1) * page_size
    results = list(queryset.order_by("-created_at", "-id")[offset : offset + page_size]) if offset < count else []
    return MemoryPage(results=results, count=count, page=page, page_size=page_size)


def memories_by_id(*, project, ids) -> dict[Any, Memory]:
    """The project's memories with these ids (any state), by id; one query, embeddings left out."""
    pks = {pk for pk in (clean_uuid(value) for value in ids) if pk is not None}
    return {memory.pk: memory for memory in _scoped(project, None).filter(pk__in=pks)} if pks else {}


def memory_neighbours(
    *, project, scope: Scope, vectors: list[list[float]], k: int = 8, now: datetime | None = None
) -> list[list[Memory]]:
    """For each vector, the ``k`` most similar current, unexpired memories of ``scope`` (each with
    ``score``), best first: the candidates the add pipeline decides against. One query per vector,
    scored exactly within the scope (an add's scope is one user, agent or run)."""
    candidates = (
        Memory.objects.for_project(project)
        .filter(**clean_scope(scope, required=True).as_filter())
        .current()
        .unexpired(now)
        .filter(embedding__isnull=False)
        .defer("embedding")
    )
    found = []
    for vector in vectors:
        distance = CosineDistance("embedding", vector)
        ordering = ExpressionWrapper(distance + Value(0.0), output_field=FloatField())
        rows = list(candidates.annotate(distance=distance).order_by(ordering, "id")[:k])
        for memory in rows:
            memory.score = min(1.0, max(0.0, 1.0 - float(memory.distance)))
        found.append(rows)
    return found
