"""Every read of memories goes through these functions (the search engine is ``memories.search``).

By default a read sees what holds now: current (``valid_to`` and ``invalidated_at`` unset) and not
expired. ``as_of=T`` shows what held at T instead; ``include_expired`` also shows expired rows.
"""

import base64
import binascii
import uuid
from datetime import datetime
from typing import Any

from django.contrib.postgres.aggregates import ArrayAgg
from django.db import connections, router
from django.db.models import BigIntegerField, Count, Max, Min, Q, Sum, Value
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce
from django.utils import timezone

from graph.models import SUPERSEDES, Relationship
from mem0g_site.exceptions import MemoryNotFound, NotFound, UserNotFound, ValidationFailed
from mem0g_site.paging import Page, page_request, positive_int
from mem0g_site.prepared import PreparedQuery
from mem0g_site.temporal import current_q
from memories.inputs import Scope, clean_flag, clean_moment, clean_scope, clean_uuid
from memories.models import (
    AddEvent,
    DecisionTrace,
    Memory,
    MemoryExport,
    MemoryHistory,
    MemorySource,
    expired_by,
)

PAGE_SIZE_MAX = 200
# Bytes a memory row takes for its text, metadata and vector (as stored, after compression).
ROW_BYTES_SQL = "pg_column_size(memory) + pg_column_size(metadata) + coalesce(pg_column_size(embedding), 0)"


def memories_in(project, scope: Scope | None):
    """The project's memories (any state, embeddings left out), inside ``scope`` when given."""
    queryset = Memory.objects.for_project(project).defer("embedding")
    if scope is not None:
        queryset = queryset.filter(**clean_scope(scope, required=False).as_filter())
    return queryset


def _memory_by_id(*, project_id, pk, user_id=None, agent_id=None, app_id=None, run_id=None):
    """``memories_in(project, scope).filter(pk=pk).first()``, as a queryset of one row."""
    scope = Scope(user_id=user_id, agent_id=agent_id, app_id=app_id, run_id=run_id).as_filter()
    queryset = Memory.objects.filter(project_id=project_id).defer("embedding")
    queryset = (queryset.filter(**scope) if scope else queryset).filter(pk=pk)
    return (queryset if queryset.ordered else queryset.order_by("pk"))[:1]


# The two reads of every GET of a memory, their SQL built once (mem0g_site/prepared.py).
_memory_by_id_prepared = PreparedQuery(Memory, _memory_by_id)


def memory_get(*, project, memory_id: Any, within: Scope | None = None) -> Memory:
    """One memory of the project (inside ``within``, if given), in any state; anything else is
    'not found'. One statement."""
    pk = clean_uuid(memory_id)
    if pk is not None:
        fence = clean_scope(within, required=False).as_filter() if within is not None else {}
        found = _memory_by_id_prepared(project_id=project.pk, pk=pk, **fence)
        if found:
            return found[0]
    raise MemoryNotFound(memory_id)


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
    include_superseded: bool = False,
) -> Page:
    """Memories newest first, one page at a time (``page`` counts from 1). ``where`` is a compiled
    filter (``memories.filters``). ``known_at=K`` (record time) lists what was on record at K,
    retracted since or not (``TemporalQuerySet.as_known``; alone, ``as_of`` is K too).
    ``include_superseded`` (without ``as_of`` or ``known_at``) also lists the facts closed since."""
    pages = page_request(page, page_size, maximum=PAGE_SIZE_MAX)
    as_of = clean_moment(as_of, field_name="as_of")
    known_at = clean_moment(known_at, field_name="known_at")
    include_superseded = clean_flag(include_superseded, field="include_superseded")
    if include_superseded and as_of is None and known_at is None:
        queryset = memories_in(project, scope).not_retracted()  # closed facts, not retracted records
        queryset = queryset if include_expired else queryset.unexpired(timezone.now())
    elif known_at is None:
        queryset = memories_in(project, scope).visible(as_of=as_of, include_expired=include_expired)
    else:
        queryset = memories_in(project, scope).as_known(as_of=as_of, known_at=known_at)
        queryset = queryset if include_expired else queryset.unexpired(as_of or known_at)
    if where is not None:
        queryset = queryset.filter(where)
    return pages.cut(queryset.order_by("-created_at", "-id"))


def _cursor_encode(memory: Memory) -> str:
    raw = f"{memory.created_at.isoformat()}|{memory.pk}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _cursor_decode(cursor: Any) -> tuple[datetime, uuid.UUID]:
    try:
        if not isinstance(cursor, str) or len(cursor) > 200:
            raise ValueError(cursor)
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        moment, pk = raw.split("|")
        created_at = datetime.fromisoformat(moment)
        if created_at.tzinfo is None:
            raise ValueError(moment)
        return created_at, uuid.UUID(pk)
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise ValidationFailed(
            "cursor is not one this server gave (next_cursor of an export)", field="cursor"
        ) from None


def memories_export_slice(
    *, project, scope: Scope | None = None, where: Q | None = None, cursor: Any = None, limit: int
) -> tuple[list[Memory], str | None]:
    """The current memories an export holds, oldest first (``created_at``, then id), at most
    ``limit`` of them after ``cursor``; and the cursor of the rest (None when there is no more).
    Keyset order on an indexed column: each slice costs the same, however far along it is."""
    queryset = memories_in(project, scope).visible(as_of=None, include_expired=False)
    if where is not None:
        queryset = queryset.filter(where)
    if cursor is not None:
        created_at, pk = _cursor_decode(cursor)
        queryset = queryset.filter(Q(created_at__gt=created_at) | Q(created_at=created_at, pk__gt=pk))
    rows = list(queryset.order_by("created_at", "id")[: limit + 1])
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, _cursor_encode(rows[-1])


def memory_export_get(*, project, export_id: Any = None, filters: Any = None, within_user: str | None = None):
    """An export by id, or the latest one made with exactly these ``filters``; a restricted key
    (``within_user``) finds only the exports made for its user, anything else is 'not found'."""

    exports = MemoryExport.objects.filter(project=project)
    if within_user is not None:
        exports = exports.filter(user_id=within_user)
    if export_id is not None:
        pk = clean_uuid(export_id)
        export = exports.filter(pk=pk).first() if pk is not None else None
    else:
        export = exports.filter(filters=filters or {}).first()
    if export is None:
        raise NotFound("Export not found")
    return export


def _sources_of(*, memory_id):
    return MemorySource.objects.filter(links__memory=memory_id).defer("embedding").order_by("observed_at", "position")


_sources_of_prepared = PreparedQuery(MemorySource, _sources_of)


def memory_sources(*, memory: Memory) -> list:
    """The messages a memory came from, oldest first. One statement."""

    return _sources_of_prepared(memory_id=memory.pk)


def decision_traces(*, project, ids) -> dict[Any, Any]:
    """The project's decision traces with these ids, by id (one query)."""

    pks = {pk for pk in ids if pk is not None}
    return {t.pk: t for t in DecisionTrace.objects.filter(project=project, pk__in=pks)} if pks else {}


def add_event_traces(*, event) -> list:
    """An add's decision traces, in fact order."""

    return list(DecisionTrace.objects.filter(add_event=event).order_by("position", "id"))


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


def memory_changes(*, project, within: Scope | None = None, page: int = 1, page_size: int = 100):
    """The change feed (``GET /v1/memories/events/``): every history row of the project (or of
    ``within``'s user), newest first, one page at a time; ``(count, rows)``."""
    return _newest_page(MemoryHistory.objects.filter(project=project), within=within, page=page, page_size=page_size)


def _newest_page(rows, *, within: Scope | None, page: int, page_size: int) -> tuple[int, list]:
    """``rows`` (of ``within``'s user, when a key is restricted to one), newest first, one page:
    ``(count, rows)``."""
    pages = page_request(page, page_size, maximum=PAGE_SIZE_MAX)
    if within is not None and within.user_id:
        rows = rows.filter(user_id=within.user_id)
    found = pages.cut(rows.order_by("-created_at", "-id"))
    return found.count, found.results


def user_stats(*, project, user_id: str) -> dict[str, Any]:
    """What the project holds about one user: counts by agent, run, category and state, first
    and last activity, and the storage it takes. A user with no memories is 'not found'."""
    user_id = clean_scope(Scope(user_id=user_id), required=True).user_id
    memories = Memory.objects.for_project(project).filter(user_id=user_id)
    now = timezone.now()
    totals = memories.aggregate(
        total=Count("id"),
        current=Count("id", filter=current_q()),
        expired=Count("id", filter=expired_by(now)),
        first=Min("created_at"),
        last=Max("updated_at"),
        bytes=Coalesce(Sum(RawSQL(ROW_BYTES_SQL, [], output_field=BigIntegerField())), 0),
    )
    if not totals["total"]:
        raise UserNotFound(user_id)
    by_agent = dict(memories.values_list("agent_id").annotate(n=Count("id")).order_by())
    by_run = dict(memories.values_list("run_id").annotate(n=Count("id")).order_by())
    with connections[router.db_for_read(Memory)].cursor() as cursor:
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
    memories = memories_in(project, within)
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
    queryset = memories_in(project, scope).visible(as_of=None, include_expired=False)
    if where is not None:
        queryset = queryset.filter(where)
    total = queryset.count()
    latest = list(queryset.order_by("-created_at", "-id")[:recent])
    with connections[router.db_for_read(Memory)].cursor() as cursor:
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

    pk = clean_uuid(event_id)
    events = AddEvent.objects.filter(project=project)
    if within is not None and within.user_id:
        events = events.filter(user_id=within.user_id)
    event = None if pk is None else events.filter(pk=pk).first()
    if event is None:
        raise NotFound("Event not found", details={"event_id": str(event_id)})
    return event


def add_event_list(*, project, within: Scope | None = None, page: int = 1, page_size: int = 50):
    """The project's add events (or ``within``'s user's), newest first, one page: ``(count, events)``."""
    return _newest_page(AddEvent.objects.filter(project=project), within=within, page=page, page_size=page_size)


def project_stats(*, project, within: Scope | None = None) -> dict[str, Any]:
    """Totals for ``GET /v1/stats/``: memories (current and all), entities by type, add events."""

    memories = memories_in(project, within)
    totals = memories.aggregate(
        total=Count("id"),
        current=Count("id", filter=current_q()),
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
    limit = positive_int(limit, field="limit", maximum=10_000)
    queryset = Memory.objects.for_project(project).filter(user_id__isnull=False)
    if contains:
        queryset = queryset.filter(user_id__icontains=contains)
    rows = (
        queryset.values("user_id")
        .annotate(
            total=Count("id"),
            current=Count("id", filter=current_q()),
            last_activity=Max("updated_at"),
        )
        .order_by("-last_activity", "user_id")[:limit]
    )
    return list(rows)


def user_overview(*, project, user_id: str) -> dict[str, Any]:
    """One user's counts, the span of their history (``first``: earliest ``valid_from``; ``last``: latest
    change), and the agent ids and categories their memories use (for filters). A user with no memories
    is 'not found'. Two queries."""

    user_id = clean_scope(Scope(user_id=user_id), required=True).user_id
    memories = Memory.objects.for_project(project).filter(user_id=user_id)
    totals = memories.aggregate(
        total=Count("id"),
        current=Count("id", filter=current_q()),
        first=Min("valid_from"),
        last_change=Max("updated_at"),
        last_close=Max("valid_to"),
        agents=ArrayAgg("agent_id", distinct=True, filter=Q(agent_id__isnull=False), default=Value([])),
    )
    if not totals["total"]:
        raise UserNotFound(user_id)
    with connections[router.db_for_read(Memory)].cursor() as cursor:
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
) -> Page:
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
    pages = page_request(page, page_size, maximum=PAGE_SIZE_MAX)
    queryset = memories_in(project, scope)
    if state == "superseded":
        queryset = queryset.closed()
    elif state == "expired":
        queryset = queryset.current().expired()
    if where is not None:
        queryset = queryset.filter(where)
    return pages.cut(queryset.order_by("-created_at", "-id"))


def memories_by_id(*, project, ids) -> dict[Any, Memory]:
    """The project's memories with these ids (any state), by id; one query, embeddings left out."""
    pks = {pk for pk in (clean_uuid(value) for value in ids) if pk is not None}
    return {memory.pk: memory for memory in memories_in(project, None).filter(pk__in=pks)} if pks else {}


def memories_mark_successors(memories) -> None:
    """Set ``replaced_by`` on each memory: the id of the memory that superseded it (the source of the
    newest standing ``supersedes`` relationship onto it), or None (Mem0's ``replaced_by``). One query,
    and none when every memory holds."""

    closed = {memory.pk: memory for memory in memories if not memory.is_current}
    for memory in memories:
        memory.replaced_by = None
    if not closed:
        return
    edges = (
        Relationship.objects.filter(target_id__in=closed, relation=SUPERSEDES)
        .not_retracted()
        .order_by("target_id", "-valid_from", "-created_at")
        .distinct("target_id")
        .values_list("target_id", "source_id")
    )
    for target_id, source_id in edges:
        closed[target_id].replaced_by = source_id
