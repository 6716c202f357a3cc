"""The web UI's graph: memories with their entity hubs and mentions, its filter facets, and the
changes over time (the time slider)."""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import CharField, F, Func, Q
from django.utils import timezone

from graph.extraction import entity as entity_name
from graph.inputs import clean_relation
from graph.models import SUPERSEDES, EntityRelation, Relationship
from graph.selectors.traversal import (
    LIMIT_MAX,
    clean_times,
    memories_visible,
    newest_with_edges,
    relationships_in,
)
from mem0g_site.exceptions import ValidationFailed
from mem0g_site.paging import positive_int
from memories.inputs import Scope
from memories.models import Memory
from memories.selectors import memories_in

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
    limit = positive_int(limit, field="limit", maximum=LIMIT_MAX)
    as_of, known_at = clean_times(as_of, known_at)
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
    nodes, edges, truncated = newest_with_edges(
        project,
        picked,
        limit=limit,
        as_of=as_of,
        known_at=known_at,
        relation=relation,
        with_edges=relation != MENTIONS,
    )
    ids = [node.pk for node in nodes]
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
    memories = memories_in(project, scope).not_retracted()
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
        memories_in(project, scope)
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
            relationships_in(project, None)
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
