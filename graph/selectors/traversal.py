"""A memory's relationships, the memories related to it (one recursive CTE), a user's graph, and a
memory's timeline; and the visibility rules every graph read shares.

Time, both axes (``TemporalQuerySet.as_known``): ``as_of`` is valid time (what held at T), ``known_at``
record time (what we had on record at T). By default, what holds now and was not retracted. The
memories on either end obey the same times (and are left out once expired).
"""

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import Q
from django.utils import timezone

from graph.inputs import clean_depth, clean_direction, clean_relation
from graph.models import SUPERSEDES, Relationship
from mem0g_site.exceptions import MemoryNotFound
from mem0g_site.paging import positive_int
from memories.inputs import Scope, clean_moment, clean_scope, clean_uuid
from memories.models import Memory, MemoryHistory
from memories.selectors import memories_in, memory_get

LIMIT_MAX = 1000
# A supersession chain is walked further than a related-memories query may ask for.
CHAIN_DEPTH_MAX = 100


def clean_times(as_of: Any, known_at: Any) -> tuple[datetime | None, datetime | None]:
    """A graph read's two moments (valid time, record time), checked."""
    return clean_moment(as_of, field_name="as_of"), clean_moment(known_at, field_name="known_at")


def relationships_in(project, within: Scope | None):
    """The project's relationships (any state) whose ends are inside ``within`` when given."""
    return Relationship.objects.for_project(project).within(
        None if within is None else clean_scope(within, required=False)
    )


def memories_visible(
    project, *, within: Scope | None = None, as_of: datetime | None = None, known_at: datetime | None = None
):
    """The project's memories (inside ``within``) that held at ``as_of`` as known at ``known_at``, unexpired."""
    queryset = memories_in(project, within)
    moment = as_of or known_at or timezone.now()
    return queryset.as_known(as_of=as_of, known_at=known_at).unexpired(moment)


def relationships_visible(
    project,
    *,
    within: Scope | None = None,
    as_of: datetime | None = None,
    known_at: datetime | None = None,
    relation: str | None = None,
):
    queryset = relationships_in(project, within).as_known(as_of=as_of, known_at=known_at)
    return queryset if relation is None else queryset.filter(relation=relation)


def relationship_list(
    *,
    project,
    memory_id: Any,
    relation: str | None = None,
    direction: str = "both",
    as_of: datetime | None = None,
    known_at: datetime | None = None,
    limit: int = 100,
    within: Scope | None = None,
) -> list[Relationship]:
    """A memory's relationships (outgoing, incoming or both), newest first. The memory may be in any
    state; the relationships obey ``as_of``/``known_at``. A user-restricted key sees only the edges
    whose two ends are its user's."""
    relation = None if relation is None else clean_relation(relation)
    direction = clean_direction(direction)
    as_of, known_at = clean_times(as_of, known_at)
    limit = positive_int(limit, field="limit", maximum=LIMIT_MAX)
    memory = memory_get(project=project, memory_id=memory_id, within=within)
    edges = relationships_visible(project, within=within, as_of=as_of, known_at=known_at, relation=relation)
    if direction == "out":
        edges = edges.filter(source=memory)
    elif direction == "in":
        edges = edges.filter(target=memory)
    else:
        edges = edges.filter(Q(source=memory) | Q(target=memory))
    return list(edges.order_by("-created_at", "-id")[:limit])


@dataclass(frozen=True)
class _Walk:
    sql: str
    params: list


def _walk(*, start: uuid.UUID, edges, nodes, depth: int, direction: str, start_from=None) -> _Walk:
    """One recursive CTE: a breadth-first walk from ``start`` along ``edges`` (a Relationship
    queryset) through ``nodes`` (a Memory queryset), at most ``depth`` hops.

    Each row of ``walk`` is one level: its ``frontier`` (the memories first reached at that depth,
    each with the relationship ids that reached it and the relation of the last one) and ``seen``
    (every memory reached so far). A memory is reached once, at its shortest depth, so cycles never
    loop and each level costs one indexed look-up of the frontier's edges (``(project, source)``,
    ``(project, target)``). Among equally short paths the smallest is kept, so answers are stable.
    The two querysets keep the tenancy and time filters in the ORM; ``NOT MATERIALIZED`` lets
    PostgreSQL push the join into their indexes. With ``start_from`` (a Memory queryset) the walk
    starts only if ``start`` is in it, so the same query also says whether the memory exists.
    """
    edges = edges.order_by().values("id", "source_id", "target_id", "relation")
    edges_sql, edges_params = edges.query.sql_with_params()
    nodes_sql, nodes_params = nodes.order_by().values("id").query.sql_with_params()
    hop = "SELECT e.id AS edge_id, e.{0}_id AS next_id, e.relation FROM edges e WHERE e.{1}_id = here.id"
    hops = []
    if direction in ("out", "both"):
        hops.append(hop.format("target", "source"))
    if direction in ("in", "both"):
        hops.append(hop.format("source", "target"))
    seed = "SELECT 0, jsonb_build_array(jsonb_build_object('id', s.id::text, 'path', '[]'::jsonb)), ARRAY[s.id]"
    if start_from is None:
        seed, seed_params = f"{seed} FROM (SELECT %s::uuid AS id) AS s", [str(start)]
    else:
        start_sql, seed_params = start_from.filter(pk=start).order_by().values("id").query.sql_with_params()
        seed = f"{seed} FROM ({start_sql}) AS s"
    sql = f"""
WITH RECURSIVE
edges (id, source_id, target_id, relation) AS NOT MATERIALIZED ({edges_sql}),
nodes (id) AS NOT MATERIALIZED ({nodes_sql}),
walk (depth, frontier, seen) AS (
    {seed}
  UNION ALL
    SELECT w.depth + 1, level.frontier, w.seen || level.ids
    FROM walk w
    CROSS JOIN LATERAL (
        SELECT
            jsonb_agg(
                jsonb_build_object('id', step.next_id, 'relation', step.relation, 'path', step.path)
                ORDER BY step.next_id
            ) AS frontier,
            array_agg(step.next_id) AS ids
        FROM (
            SELECT DISTINCT ON (hop.next_id) hop.next_id, hop.relation, here.path || to_jsonb(hop.edge_id::text) AS path
            FROM jsonb_to_recordset(w.frontier) AS here (id uuid, path jsonb)
            CROSS JOIN LATERAL ({" UNION ALL ".join(hops)}) AS hop
            JOIN nodes n ON n.id = hop.next_id
            WHERE NOT hop.next_id = ANY (w.seen)
            ORDER BY hop.next_id, here.path, hop.edge_id
        ) AS step
    ) AS level
    WHERE w.depth < %s AND level.ids IS NOT NULL
)"""
    return _Walk(sql=sql, params=[*edges_params, *nodes_params, *seed_params, depth])


def _reached(walk: _Walk, *, limit: int, with_start: bool = False) -> list[Memory]:
    """The memories a walk reached, nearest first, each with ``depth``, ``relation`` and ``path``
    (``with_start``: the start memory first, at depth 0, if the walk started)."""
    columns = ", ".join(
        f"m.{connection.ops.quote_name(f.column)}" for f in Memory._meta.concrete_fields if f.name != "embedding"
    )
    # The nearest ``limit`` are picked before the memories are joined, so PostgreSQL fetches just those
    # rows by primary key instead of hashing the whole table against the walk's (unknown) size.
    sql = f"""{walk.sql},
picked AS (
    SELECT found.id, found.relation, w.depth, found.path
    FROM walk w
    CROSS JOIN LATERAL jsonb_to_recordset(w.frontier) AS found (id uuid, relation text, path jsonb)
    WHERE w.depth >= %s
    ORDER BY w.depth, found.id
    LIMIT %s
)
SELECT {columns}, picked.relation, picked.depth,
    ARRAY(SELECT hop::uuid FROM jsonb_array_elements_text(picked.path) WITH ORDINALITY AS p (hop, n) ORDER BY n) AS path
FROM picked
JOIN memories_memory m ON m.id = picked.id
ORDER BY picked.depth, picked.id"""
    return list(Memory.objects.raw(sql, [*walk.params, 0 if with_start else 1, limit + with_start]))


def related_memories(
    *,
    project,
    memory_id: Any,
    depth: int = 1,
    relation: str | None = None,
    direction: str = "both",
    as_of: datetime | None = None,
    known_at: datetime | None = None,
    limit: int = 100,
    within: Scope | None = None,
) -> list[Memory]:
    """The memories within ``depth`` hops (1 to 5) of a memory, nearest first, each with ``depth``,
    ``relation`` (of the last hop) and ``path`` (the relationship ids from the memory to it).

    Only relationships and memories that held at ``as_of`` as known at ``known_at`` are walked
    (by default: current ones); a user-restricted key walks only through its user's memories.
    One query: the walk starts from the memory only if it is the caller's to read (in any state),
    else 'not found'.
    """
    depth = clean_depth(depth)
    relation = None if relation is None else clean_relation(relation)
    direction = clean_direction(direction)
    as_of, known_at = clean_times(as_of, known_at)
    limit = positive_int(limit, field="limit", maximum=LIMIT_MAX)
    start = clean_uuid(memory_id)
    if start is None:
        raise MemoryNotFound(memory_id)
    walk = _walk(
        start=start,
        # The nodes carry the user fence, so the edges need only the project's.
        edges=relationships_visible(project, as_of=as_of, known_at=known_at, relation=relation),
        nodes=memories_visible(project, within=within, as_of=as_of, known_at=known_at),
        depth=depth,
        direction=direction,
        start_from=memories_in(project, within),
    )
    reached = _reached(walk, limit=limit, with_start=True)
    if not reached or reached[0].depth != 0:
        raise MemoryNotFound(memory_id)
    return reached[1:]


@dataclass(frozen=True)
class Graph:
    nodes: list[Memory]
    edges: list[Relationship]
    truncated: bool


def graph_at(
    *,
    project,
    scope: Scope | None = None,
    limit: int = 100,
    as_of: datetime | None = None,
    known_at: datetime | None = None,
    relation: str | None = None,
) -> Graph:
    """A graph of memories (newest first, at most ``limit``; ``truncated`` says there were more) and
    the relationships between them, as it stood at ``as_of``/``known_at``. ``scope`` narrows the
    memories (a user's, and a restricted key's user). Two queries."""
    limit = positive_int(limit, field="limit", maximum=LIMIT_MAX)
    relation = None if relation is None else clean_relation(relation)
    as_of, known_at = clean_times(as_of, known_at)
    picked = memories_visible(project, within=scope, as_of=as_of, known_at=known_at)
    nodes, edges, truncated = newest_with_edges(
        project, picked, limit=limit, as_of=as_of, known_at=known_at, relation=relation
    )
    return Graph(nodes=nodes, edges=edges, truncated=truncated)


def newest_with_edges(
    project,
    picked,
    *,
    limit: int,
    as_of: datetime | None,
    known_at: datetime | None,
    relation: str | None,
    with_edges: bool = True,
) -> tuple[list[Memory], list[Relationship], bool]:
    """The ``limit`` newest memories of ``picked``, the relationships between them (of ``relation``,
    as they stood at ``as_of``/``known_at``; none unless ``with_edges``) and whether there were more
    memories. Two queries at most."""
    nodes = list(picked.order_by("-created_at", "-id")[: limit + 1])
    truncated = len(nodes) > limit
    nodes = nodes[:limit]
    ids = [node.pk for node in nodes]
    edges = (
        list(
            relationships_visible(project, as_of=as_of, known_at=known_at, relation=relation)
            .filter(source_id__in=ids, target_id__in=ids)
            .order_by("created_at", "id")
        )
        if ids and with_edges
        else []
    )
    return nodes, edges, truncated


@dataclass(frozen=True)
class Version:
    event: str
    memory: str
    metadata: Any
    history_id: uuid.UUID | None
    valid_from: datetime
    valid_to: datetime | None


@dataclass(frozen=True)
class Timeline:
    memory: Memory
    versions: list[Version]
    chain: list[Memory] = field(default_factory=list)


def memory_timeline(*, project, memory_id: Any, within: Scope | None = None) -> Timeline:
    """A memory through time.

    ``versions``: its texts from its history rows (ADD, then each UPDATE). The first holds from the
    memory's ``valid_from``, each later one from when it was recorded, each until the next, and
    the last until the memory's ``valid_to`` (null: it still holds).

    ``chain``: the memories linked to it by ``supersedes`` edges (not retracted) in either direction,
    oldest first, itself included, each with ``position`` (negative: older, 0: itself, positive:
    newer) and ``path``. Four queries.
    """
    memory = memory_get(project=project, memory_id=memory_id, within=within)
    rows = [
        row
        for row in MemoryHistory.objects.filter(project=project, memory_id=memory.pk).order_by("created_at", "id")
        if row.event in (MemoryHistory.Event.ADD, MemoryHistory.Event.UPDATE) and row.new_memory is not None
    ]
    starts = [memory.valid_from] + [row.created_at for row in rows[1:]]
    ends = starts[1:] + [memory.valid_to]
    versions = [
        Version(
            event=row.event,
            memory=row.new_memory,
            metadata=row.new_metadata,
            history_id=row.pk,
            valid_from=start,
            valid_to=end,
        )
        for row, start, end in zip(rows, starts, ends, strict=True)
    ] or [Version("ADD", memory.memory, memory.metadata, None, memory.valid_from, memory.valid_to)]

    edges = relationships_in(project, None).not_retracted().filter(relation=SUPERSEDES)
    nodes = memories_in(project, within)
    # "A supersedes B": the outgoing edges lead to older memories, the incoming ones to newer.
    older = _reached(
        _walk(start=memory.pk, edges=edges, nodes=nodes, depth=CHAIN_DEPTH_MAX, direction="out"),
        limit=CHAIN_DEPTH_MAX,
    )
    newer = _reached(
        _walk(start=memory.pk, edges=edges, nodes=nodes, depth=CHAIN_DEPTH_MAX, direction="in"),
        limit=CHAIN_DEPTH_MAX,
    )
    for item in older:
        item.position = -item.depth
    for item in newer:
        item.position = item.depth
    memory.position, memory.path = 0, []
    chain = sorted(older, key=lambda m: (m.position, str(m.pk))) + [memory] + newer
    return Timeline(memory=memory, versions=versions, chain=chain)
