"""Every read of the graph goes through these functions: a memory's relationships, the memories
related to it (one recursive CTE), a user's graph, and a memory's timeline.

Time, both axes (``TemporalQuerySet.as_known``): ``as_of`` is valid time (what held at T), ``known_at``
record time (what we had on record at T). By default, what holds now and was not retracted. The
memories on either end obey the same times (and are left out once expired).
"""

import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import CharField, F, Func, Q
from django.utils import timezone

from graph.extraction import entity as entity_name
from graph.inputs import clean_depth, clean_direction, clean_relation
from graph.models import SUPERSEDES, EntityRelation, Relationship
from mem0g_site.exceptions import MemoryNotFound, ValidationFailed
from memories.inputs import Scope, clean_moment, clean_scope, clean_text, clean_uuid
from memories.models import Memory, MemoryHistory
from memories.selectors import memory_get

LIMIT_MAX = 1000
# A supersession chain is walked further than a related-memories query may ask for.
CHAIN_DEPTH_MAX = 100


def _limit(value: Any, *, maximum: int = LIMIT_MAX) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise ValidationFailed(f"limit must be a whole number from 1 to {maximum}", field="limit")
    return value


def _times(as_of: Any, known_at: Any) -> tuple[datetime | None, datetime | None]:
    return clean_moment(as_of, field_name="as_of"), clean_moment(known_at, field_name="known_at")


def _memories(project, within: Scope | None):
    queryset = Memory.objects.for_project(project).defer("embedding")
    return queryset if within is None else queryset.filter(**clean_scope(within, required=False).as_filter())


def _relationships(project, within: Scope | None):
    return Relationship.objects.for_project(project).within(
        None if within is None else clean_scope(within, required=False)
    )


def memories_visible(
    project, *, within: Scope | None = None, as_of: datetime | None = None, known_at: datetime | None = None
):
    """The project's memories (inside ``within``) that held at ``as_of`` as known at ``known_at``, unexpired."""
    queryset = _memories(project, within)
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
    queryset = _relationships(project, within).as_known(as_of=as_of, known_at=known_at)
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
    as_of, known_at = _times(as_of, known_at)
    limit = _limit(limit)
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
    as_of, known_at = _times(as_of, known_at)
    limit = _limit(limit)
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
        start_from=_memories(project, within),
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
    limit = _limit(limit)
    relation = None if relation is None else clean_relation(relation)
    as_of, known_at = _times(as_of, known_at)
    picked = memories_visible(project, within=scope, as_of=as_of, known_at=known_at).order_by("-created_at", "-id")
    nodes = list(picked[: limit + 1])
    truncated = len(nodes) > limit
    nodes = nodes[:limit]
    ids = [node.pk for node in nodes]
    edges = (
        list(
            relationships_visible(project, as_of=as_of, known_at=known_at, relation=relation)
            .filter(source_id__in=ids, target_id__in=ids)
            .order_by("created_at", "id")
        )
        if ids
        else []
    )
    return Graph(nodes=nodes, edges=edges, truncated=truncated)


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

    edges = _relationships(project, None).not_retracted().filter(relation=SUPERSEDES)
    nodes = _memories(project, within)
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


# --- entity relations (Mem0's graph memory) ---------------------------------------------------

_FIRST_PERSON = {"i", "me", "my", "mine", "myself", "user", "users", "i'm", "im"}
_STOP = {
    "a", "an", "the", "is", "are", "was", "were", "do", "does", "did", "what", "which", "who", "whom", "where",
    "when", "why", "how", "of", "in", "on", "at", "to", "for", "with", "and", "or", "about", "any", "has", "have",
}  # fmt: skip
RELATIONS_CANDIDATES = 200


def _relations(project, scope: Scope | None, as_of: Any, known_at: Any):
    as_of, known_at = _times(as_of, known_at)
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
    limit = _limit(limit)
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
    limit = _limit(limit)
    rows = (
        _relations(project, scope, as_of, known_at)
        .order_by("-created_at", "-id")
        .values_list("source", "relationship", "destination")[:limit]
    )
    return [{"source": s, "relationship": r, "target": d} for s, r, d in rows]


# --- the web UI's graph: memories, entity hubs, and the changes over time -----------------------

MENTIONS = "mentions"  # the edge from a memory to an entity it names (not a stored relation)
# What an entity is, read off the relationships that name it (the triples carry no type):
# ``(relationship, role)`` with role "source" or "destination". The first kind found wins, in this order.
ENTITY_KINDS: tuple[tuple[str, frozenset[str]], ...] = (
    ("place", frozenset({"lives_in", "lived_in", "moved_to", "visited", "born_in", "from", "traveling_to"})),
    (
        "organisation",
        frozenset({"works_at", "worked_at", "member_of", "graduated_from", "flies_with", "gets_coffee_at"}),
    ),
    ("person", frozenset({"married_to", "engaged_to", "dating", "met_with", "has_name", "mentors"})),
)
ENTITY_KIND_NAMES = ("person", "place", "organisation", "thing")
_ANIMALS = {"dog", "cat", "pet", "horse", "rabbit", "parrot", "hamster"}
HUB_MIN_MENTIONS = 2  # an entity named by one memory only is a leaf, not a hub: left out unless asked for
FACETS_MAX = 200


def entity_kind(uses: set[tuple[str, str]]) -> str:
    """person, place, organisation or thing, from the ``(relationship, role)`` pairs an entity appears in.
    "anna sister_of user" makes anna a person (a relation ending in ``_of`` whose source is not the user)."""
    relationships = {relationship for relationship, _ in uses}
    if any(relationship.endswith("_of") and role == "source" for relationship, role in uses):
        return "thing" if any(r.split("_")[0] in _ANIMALS for r, _ in uses if r.endswith("_of")) else "person"
    for kind, names in ENTITY_KINDS:
        if relationships & names:
            return kind
    return "thing"


def _self_names(scope: Scope | None) -> set[str]:
    """The entity names that stand for the scope's user ("user", and their id as a name): every memory
    names them, so as a hub they would tie everything to everything and say nothing."""
    names = {"user"}
    if scope is not None and scope.user_id:
        names.add(entity_name(scope.user_id))
    return names


def _clean_name(value: Any, *, field_name: str, maximum: int = 255) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > maximum:
        raise ValidationFailed(f"{field_name} must be text of at most {maximum} characters", field=field_name)
    return value.strip() or None


@dataclass(frozen=True)
class EntityHub:
    name: str
    kind: str
    memory_ids: list[uuid.UUID]


@dataclass(frozen=True)
class Mention:
    memory_id: uuid.UUID
    entity: str
    relationship: str


@dataclass(frozen=True)
class GraphView:
    nodes: list[Memory]
    edges: list[Relationship]
    entities: list[EntityHub]
    mentions: list[Mention]
    truncated: bool


def graph_view(
    *,
    project,
    scope: Scope | None = None,
    limit: int = 100,
    as_of: datetime | None = None,
    known_at: datetime | None = None,
    relation: str | None = None,
    entity: str | None = None,
    category: str | None = None,
    agent: str | None = None,
    min_mentions: int = HUB_MIN_MENTIONS,
) -> GraphView:
    """A user's graph as the web UI draws it: memories (newest first, at most ``limit``; ``truncated``
    says there were more), the relationships between them, and the entities they name as hubs
    (``mentions``: memory -> entity), as it stood at ``as_of``/``known_at``.

    Filters: ``category`` and ``agent`` narrow the memories; ``entity`` (a name in any spelling:
    "New York" is ``new_york``) keeps the memories that name it; ``relation`` keeps the edges of one
    kind only: ``"mentions"`` the entity edges, any other relation those memory edges (and no hubs).
    An entity is a hub when at least ``min_mentions`` of the shown memories name it (the filtered
    entity always is); the scope's user never is. A mention shows while its memory does (retracted
    triples never). Three queries.
    """
    limit = _limit(limit)
    as_of, known_at = _times(as_of, known_at)
    relation = _clean_name(relation, field_name="relation", maximum=64)
    if relation is not None and relation != MENTIONS:
        relation = clean_relation(relation)
    wanted = _clean_name(entity, field_name="entity")
    wanted = (entity_name(wanted)[:255] or None) if wanted else None
    category = _clean_name(category, field_name="category", maximum=100)
    agent = _clean_name(agent, field_name="agent")

    picked = memories_visible(project, within=scope, as_of=as_of, known_at=known_at)
    if category is not None:
        picked = picked.filter(categories__contains=[category])
    if agent is not None:
        picked = picked.filter(agent_id=agent)
    triples = EntityRelation.objects.for_project(project).not_retracted()
    if wanted is not None:
        naming = triples.filter(Q(source=wanted) | Q(destination=wanted)).values("memory_id")
        picked = picked.filter(pk__in=naming)
    nodes = list(picked.order_by("-created_at", "-id")[: limit + 1])
    truncated = len(nodes) > limit
    nodes = nodes[:limit]
    ids = [node.pk for node in nodes]
    edges: list[Relationship] = []
    if ids and relation != MENTIONS:
        edges = list(
            relationships_visible(project, as_of=as_of, known_at=known_at, relation=relation)
            .filter(source_id__in=ids, target_id__in=ids)
            .order_by("created_at", "id")
        )
    hubs: list[EntityHub] = []
    mentions: list[Mention] = []
    if ids and relation in (None, MENTIONS):
        mine = _self_names(scope)
        named: dict[str, dict[uuid.UUID, str]] = {}
        uses: dict[str, set[tuple[str, str]]] = {}
        rows = (
            triples.filter(memory_id__in=ids)
            .order_by("created_at", "id")
            .values_list("memory_id", "source", "relationship", "destination")
        )
        for memory_id, source, relationship, destination in rows:
            for name, role in ((source, "source"), (destination, "destination")):
                if name in mine:
                    continue
                named.setdefault(name, {}).setdefault(memory_id, relationship)
                uses.setdefault(name, set()).add((relationship, role))
        order = {pk: n for n, pk in enumerate(ids)}
        for name, memories in sorted(named.items(), key=lambda item: (-len(item[1]), item[0])):
            if len(memories) < min_mentions and name != wanted:
                continue
            memory_ids = sorted(memories, key=order.__getitem__)
            hubs.append(EntityHub(name=name, kind=entity_kind(uses[name]), memory_ids=memory_ids))
            mentions += [Mention(memory_id=pk, entity=name, relationship=memories[pk]) for pk in memory_ids]
    return GraphView(nodes=nodes, edges=edges, entities=hubs, mentions=mentions, truncated=truncated)


@dataclass(frozen=True)
class GraphFacets:
    entities: list[tuple[str, int]]  # name, how many memories name it; most named first
    categories: list[str]
    agents: list[str]


def graph_facets(*, project, scope: Scope | None = None) -> GraphFacets:
    """What the graph's filters offer for a scope, over all its memories in any state (the time slider
    reaches back): the entities its memories name (not the user; the most named first, at most 200),
    its categories and its agents. Three queries."""
    memories = _memories(project, scope).not_retracted()
    unnest = Func(F("categories"), function="unnest", output_field=CharField())
    categories = sorted(set(memories.order_by().annotate(category=unnest).values_list("category", flat=True)))
    agents = sorted(memories.exclude(agent_id__isnull=True).order_by().values_list("agent_id", flat=True).distinct())
    mine = _self_names(scope)
    counts: dict[str, set] = {}
    rows = (
        EntityRelation.objects.for_project(project)
        .not_retracted()
        .filter(memory__in=memories.values("pk"))
        .values_list("memory_id", "source", "destination")
    )
    for memory_id, source, destination in rows:
        for name in (source, destination):
            if name not in mine:
                counts.setdefault(name, set()).add(memory_id)
    entities = sorted(((name, len(ids)) for name, ids in counts.items()), key=lambda item: (-item[1], item[0]))
    return GraphFacets(entities=entities[:FACETS_MAX], categories=categories, agents=agents)


@dataclass(frozen=True)
class Change:
    """One change event of a scope's memories: ``kind`` "added" (it started to hold), "superseded"
    (a newer fact closed it: ``by_id``/``by_text``), "ended" (closed with no successor) or "expired"."""

    at: datetime
    kind: str
    memory_id: uuid.UUID
    text: str
    by_id: uuid.UUID | None = None
    by_text: str | None = None


CHANGES_MEMORIES_MAX = 5000


def graph_changes(*, project, scope: Scope | None = None, now: datetime | None = None) -> list[Change]:
    """Every change of a scope's memories (any state, not retracted; the newest 5,000 memories), in
    time order: when each started to hold, was superseded (and by what) or ended, and expired (by
    ``now``). What the graph page's timeline strip marks and its time slider reports. Two queries."""
    now = now or timezone.now()
    memories = list(
        _memories(project, scope)
        .not_retracted()
        .order_by("-created_at", "-id")
        .values_list("id", "memory", "valid_from", "valid_to", "expiration_date")[:CHANGES_MEMORIES_MAX]
    )
    texts = {row[0]: row[1] for row in memories}
    closed = [row[0] for row in memories if row[3] is not None]
    successors: dict[uuid.UUID, uuid.UUID] = {}
    if closed:
        # "A supersedes B": B's successor is A; the newest edge wins when there are several.
        for source_id, target_id in (
            _relationships(project, None)
            .not_retracted()
            .filter(relation=SUPERSEDES, target_id__in=closed)
            .order_by("created_at", "id")
            .values_list("source_id", "target_id")
        ):
            if source_id in texts:  # a successor outside the scope is not the scope's to show
                successors[target_id] = source_id
    changes: list[Change] = []
    for pk, text, valid_from, valid_to, expiration_date in memories:
        changes.append(Change(at=valid_from, kind="added", memory_id=pk, text=text))
        if valid_to is not None:
            by = successors.get(pk)
            kind = "superseded" if by is not None else "ended"
            changes.append(Change(valid_to, kind, pk, text, by, texts[by] if by is not None else None))
        if expiration_date is not None and expiration_date <= now:
            changes.append(Change(at=expiration_date, kind="expired", memory_id=pk, text=text))
    order = {"added": 0, "superseded": 1, "ended": 1, "expired": 2}
    changes.sort(key=lambda change: (change.at, order[change.kind], str(change.memory_id)))
    return changes
