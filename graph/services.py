"""Every write to relationships goes through these functions (API, admin, the add pipeline).

Each validates all of its input first, writes in one transaction and raises only our own
exceptions. A relationship is never deleted here: it is closed (``valid_to``) or retracted
(``invalidated_at``). It disappears only with one of its memories (``on_delete=CASCADE``).
``now=`` fixes the clock in tests.
"""

import re
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from graph.extraction import entity
from graph.inputs import clean_interval, clean_origin, clean_relation, clean_weight
from graph.models import RELATION_MAX_LENGTH, RELATION_PATTERN, EntityRelation, Origin, Relationship
from mem0g_site.exceptions import Conflict, MemoryNotFound, RelationshipNotFound, ValidationFailed
from mem0g_site.inputs import UNSET, changes_given
from memories.inference import get_inference
from memories.inputs import Scope, clean_metadata, clean_moment, clean_scope, clean_uuid
from memories.models import SCOPE_FIELDS, Memory

OPEN_EDGE_CONSTRAINT = "graph_relationship_one_open_edge"


def _clean(within: Scope | None) -> Scope | None:
    return None if within is None else clean_scope(within, required=False)


def _memories_fenced(project, within: Scope | None):
    queryset = Memory.objects.for_project(project)
    return queryset if within is None else queryset.filter(**_clean(within).as_filter())


def _open_duplicate(*, project_id, source_id, target_id, relation: str, exclude=None):
    duplicates = Relationship.objects.current().filter(
        project_id=project_id, source_id=source_id, target_id=target_id, relation=relation
    )
    if exclude is not None:
        duplicates = duplicates.exclude(pk=exclude)
    return duplicates.values_list("pk", flat=True).first()


def _duplicate_conflict(existing) -> Conflict:
    return Conflict(
        "An open relationship with the same source, target and relation already exists",
        details={"relationship_id": str(existing) if existing else None},
    )


def _constraint_of(exc: IntegrityError) -> str | None:
    return getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None)


def relationship_create(
    *,
    project,
    source_id: Any,
    target_id: Any,
    relation: Any,
    metadata: Any = None,
    weight: Any = 1.0,
    origin: str = Origin.USER,
    valid_from: datetime | None = None,
    valid_to: datetime | None = None,
    within: Scope | None = None,
    now: datetime | None = None,
) -> Relationship:
    """Link two memories of the project: ``source relation target`` ("A supersedes B").

    Both must be in the project (and inside ``within``): otherwise 'memory not found', exactly as for
    a missing id. Two memories of different users cannot be linked (422); an open edge with the same
    source, target and relation is a conflict (409). Memories in any state may be linked (a
    ``supersedes`` edge points at a closed memory).
    """
    relation = clean_relation(relation)
    metadata = clean_metadata(metadata)
    weight = clean_weight(weight)
    origin = clean_origin(origin)
    now = now or timezone.now()
    valid_from = clean_moment(valid_from, field_name="valid_from") or now
    valid_to = clean_moment(valid_to, field_name="valid_to")
    clean_interval(valid_from, valid_to)
    source_pk, target_pk = clean_uuid(source_id), clean_uuid(target_id)
    if source_pk is None:
        raise MemoryNotFound(source_id)
    if target_pk is None:
        raise MemoryNotFound(target_id)

    with transaction.atomic():
        # Locked (FOR NO KEY UPDATE) so neither memory can be deleted before the edge is committed.
        ends = {
            memory.pk: memory
            for memory in _memories_fenced(project, within)
            .filter(pk__in=[source_pk, target_pk])
            .only("id", "user_id")
            .select_for_update(no_key=True)
        }
        if source_pk not in ends:
            raise MemoryNotFound(source_id)
        if target_pk not in ends:
            raise MemoryNotFound(target_id)
        if source_pk == target_pk:
            raise ValidationFailed("a memory cannot be related to itself", field="target_id")
        source_user, target_user = ends[source_pk].user_id, ends[target_pk].user_id
        if source_user is not None and target_user is not None and source_user != target_user:
            raise ValidationFailed("memories of two different users cannot be related", field="target_id")
        if valid_to is None:
            existing = _open_duplicate(
                project_id=project.pk, source_id=source_pk, target_id=target_pk, relation=relation
            )
            if existing is not None:
                raise _duplicate_conflict(existing)
        relationship = Relationship(
            project=project,
            source_id=source_pk,
            target_id=target_pk,
            relation=relation,
            metadata=metadata,
            weight=weight,
            origin=origin,
            valid_from=valid_from,
            valid_to=valid_to,
            created_at=now,
        )
        try:
            with transaction.atomic():
                relationship.save(force_insert=True)
        except IntegrityError as exc:
            if _constraint_of(exc) == OPEN_EDGE_CONSTRAINT:  # a concurrent request made it first
                raise _duplicate_conflict(None) from None
            raise
    return relationship


def _locked(project, relationship_id: Any, within: Scope | None) -> Relationship:
    pk = clean_uuid(relationship_id)
    relationships = Relationship.objects.for_project(project).within(_clean(within))
    relationship = None if pk is None else relationships.select_for_update(of=("self",)).filter(pk=pk).first()
    if relationship is None:
        raise RelationshipNotFound(relationship_id)
    return relationship


def _clean_valid_from(value: Any) -> datetime:
    if value is None:
        raise ValidationFailed("valid_from cannot be null", field="valid_from")
    return clean_moment(value, field_name="valid_from")


def relationship_update(
    *,
    project,
    relationship_id: Any,
    valid_from: datetime | None = UNSET,
    valid_to: datetime | None = UNSET,
    metadata: Any = UNSET,
    weight: Any = UNSET,
    within: Scope | None = None,
) -> Relationship:
    """Close a relationship (``valid_to``) or correct it: its validity, ``metadata`` (replaced) or
    ``weight``. It keeps its id; ``valid_to=None`` reopens it. A retracted relationship is a record
    of a mistake and cannot be changed (409).

    The change is made in place: ``known_at`` queries see the edge's record time (when it was
    recorded and retracted), not the history of these corrections.
    """
    changes = changes_given(
        {
            "valid_from": (valid_from, _clean_valid_from),
            "valid_to": (valid_to, lambda value: clean_moment(value, field_name="valid_to")),
            "metadata": (metadata, clean_metadata),
            "weight": (weight, clean_weight),
        }
    )

    with transaction.atomic():
        relationship = _locked(project, relationship_id, within)
        if relationship.invalidated_at is not None:
            raise Conflict(
                "This relationship was retracted; it cannot be changed",
                details={"relationship_id": str(relationship.pk)},
            )
        valid_from = changes.get("valid_from", relationship.valid_from)
        clean_interval(valid_from, changes["valid_to"] if "valid_to" in changes else relationship.valid_to)
        reopening = "valid_to" in changes and changes["valid_to"] is None and relationship.valid_to is not None
        if reopening:
            existing = _open_duplicate(
                project_id=relationship.project_id,
                source_id=relationship.source_id,
                target_id=relationship.target_id,
                relation=relationship.relation,
                exclude=relationship.pk,
            )
            if existing is not None:
                raise _duplicate_conflict(existing)
        for name, value in changes.items():
            setattr(relationship, name, value)
        try:
            with transaction.atomic():
                relationship.save(update_fields=list(changes))
        except IntegrityError as exc:
            if _constraint_of(exc) == OPEN_EDGE_CONSTRAINT:
                raise _duplicate_conflict(None) from None
            raise
    return relationship


def relationship_retract(
    *, project, relationship_id: Any, within: Scope | None = None, now: datetime | None = None
) -> Relationship:
    """Retract a relationship recorded by mistake: ``invalidated_at`` is set and the row stays, so
    ``known_at`` before now still shows it. Retracting twice changes nothing."""
    now = now or timezone.now()
    with transaction.atomic():
        relationship = _locked(project, relationship_id, within)
        if relationship.invalidated_at is None:
            relationship.invalidated_at = now
            relationship.save(update_fields=["invalidated_at"])
    return relationship


AUTO_LINKS_PER_MEMORY = 5


def relationships_autolink(*, project, memories: list[Memory], threshold: float, now: datetime | None = None) -> int:
    """Link each new memory ``related_to`` its closest earlier memories of the same user whose
    cosine similarity is at least ``threshold`` (``origin="auto"``, weight = similarity); at most
    five per memory. One query for the whole batch; returns how many edges were made."""
    new = [memory for memory in memories if memory.user_id and memory.embedding is not None]
    if not new or threshold <= 0:
        return 0
    from django.db import connection

    new_ids = [memory.pk for memory in new]
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT fresh.id, near.id, near.similarity
            FROM memories_memory AS fresh
            CROSS JOIN LATERAL (
                SELECT old.id, 1 - (old.embedding <=> fresh.embedding) AS similarity
                FROM memories_memory AS old
                WHERE old.project_id = fresh.project_id AND old.user_id = fresh.user_id
                  AND old.id <> ALL(%s) AND old.embedding IS NOT NULL
                  AND old.valid_to IS NULL AND old.invalidated_at IS NULL
                ORDER BY (old.embedding <=> fresh.embedding) + 0
                LIMIT %s
            ) AS near
            WHERE fresh.id = ANY(%s) AND near.similarity >= %s
            """,
            [new_ids, AUTO_LINKS_PER_MEMORY, new_ids, threshold],
        )
        pairs = cursor.fetchall()
    now = now or timezone.now()
    edges = [
        Relationship(
            project=project,
            source_id=source,
            target_id=target,
            relation="related_to",
            weight=round(min(1.0, float(similarity)), 4),
            origin=Origin.AUTO,
            valid_from=now,
            created_at=now,
        )
        for source, target, similarity in pairs
    ]
    # An open edge with the same ends and relation already existing is not an error here.
    return len(Relationship.objects.bulk_create(edges, ignore_conflicts=True))


# --- entity relations (Mem0's graph memory) ---------------------------------------------------

# Relationships with one destination at a time: a new value closes the open one.
SINGLE_VALUED = frozenset({"lives_in", "works_at", "works_as", "has_name", "has_age", "married_to", "engaged_to"})


def _single_valued(relationship: str) -> bool:
    return relationship in SINGLE_VALUED or relationship.startswith("favorite_")


def relations_extractor():
    """The function that turns texts into triples: the add's inference strategy's
    (:func:`memories.inference.get_inference`: the LLM's when one is configured, else the rules)."""
    return get_inference().relations


def graph_wanted(*, memory: Memory, enable_graph: bool) -> bool:
    """Whether a memory gets entity extraction: the request asked (``enable_graph``), or its
    ``metadata.memory_category`` is one of ``MEM0_USE_GRAPH_FOR_CATEGORIES``."""
    if enable_graph:
        return True
    category = (memory.metadata or {}).get("memory_category")
    return isinstance(category, str) and category in settings.MEM0_USE_GRAPH_FOR_CATEGORIES


def _clean_triple(triple: Any) -> tuple[str, str, str] | None:
    """A triple as stored (lower_snake_case names, at most 255 characters), or None when an extractor
    (an LLM's, say) gave something unusable: skipped rather than failing the add."""
    if not isinstance(triple, (tuple, list)) or len(triple) != 3 or not all(isinstance(p, str) for p in triple):
        return None
    source, relationship, destination = (entity(part)[:255] for part in triple)
    if not source or not destination or not re.match(RELATION_PATTERN, relationship[:RELATION_MAX_LENGTH]):
        return None
    return source, relationship[:RELATION_MAX_LENGTH], destination


def _triple(relation: EntityRelation) -> list[dict]:
    # Mem0 1.0.x reports each change as the result list of one graph query.
    return [{"source": relation.source, "relationship": relation.relationship, "target": relation.destination}]


def relations_record_for_events(
    *, project, events: list[dict], enable_graph: bool = False, now: datetime | None = None
) -> dict | None:
    """:func:`relations_record` for the memories an add wrote (its ``ADD``, ``UPDATE`` and
    ``SUPERSEDE`` events: each holds a text that is new), whether the add ran now or in a worker.
    An older observation stored as history (``superseded_by``) opens no triple, nor does a change
    held for review (``pending``)."""
    memory_ids = [
        event["id"]
        for event in events
        if event.get("event") in ("ADD", "UPDATE", "SUPERSEDE")
        and "superseded_by" not in event
        and not event.get("pending")  # held for review: nothing new holds yet
    ]
    return relations_record(project=project, memories=memory_ids, enable_graph=enable_graph, now=now)


def relations_record(
    *,
    project,
    memories: list[Memory | Any],
    enable_graph: bool = False,
    now: datetime | None = None,
    triples: dict[Any, list[tuple[str, str, str]]] | None = None,
) -> dict | None:
    """Extract the entity relations of new memories and store them; Mem0's ``relations`` of an add.

    ``memories`` are Memory rows or ids of the project (others are ignored). Only those that want
    graph processing (:func:`graph_wanted`) are read. Returns ``None`` when none does (and the
    request did not ask), else ``{"deleted_entities": [...], "added_entities": [...]}``: the triples
    added, and the open ones a new value of a single-valued relationship closed. A triple already
    open in the scope is not added twice. One transaction.

    ``triples``: the triples of each memory (by id) when the caller already knows them (the demo
    data set, which wrote the texts); they replace the extractor's and pass the same checks.
    """
    ids = [clean_uuid(m.pk if isinstance(m, Memory) else m) for m in memories]
    rows = list(
        Memory.objects.for_project(project)
        .filter(pk__in=[pk for pk in ids if pk is not None])
        .only("id", "memory", "metadata", "valid_from", *SCOPE_FIELDS)
        .order_by("created_at", "id")
    )
    wanted = [memory for memory in rows if graph_wanted(memory=memory, enable_graph=enable_graph)]
    if not wanted:
        return {"deleted_entities": [], "added_entities": []} if enable_graph else None
    now = now or timezone.now()
    if triples is None:
        found = relations_extractor()([memory.memory for memory in wanted])
    else:
        given = {clean_uuid(key): value for key, value in triples.items()}
        found = [given.get(memory.pk, []) for memory in wanted]
    extracted = [[triple for triple in map(_clean_triple, each) if triple is not None] for each in found]
    scopes = {tuple(getattr(memory, field) for field in SCOPE_FIELDS) for memory in wanted}
    sources = {triple[0] for triples in extracted for triple in triples}
    added: list[EntityRelation] = []
    closed: list[EntityRelation] = []
    if not sources:
        return {"deleted_entities": [], "added_entities": []}
    with transaction.atomic():
        in_scopes = Q()
        for scope in scopes:
            in_scopes |= Q(**dict(zip(SCOPE_FIELDS, scope, strict=True)))
        # Every open triple these memories could repeat or replace, locked: one query.
        open_rows: dict[tuple, list[EntityRelation]] = {}
        for row in (
            EntityRelation.objects.for_project(project)
            .current()
            .filter(in_scopes, source__in=sources)
            .select_for_update()
            .order_by("created_at", "id")
        ):
            key = (tuple(getattr(row, field) for field in SCOPE_FIELDS), row.source, row.relationship)
            open_rows.setdefault(key, []).append(row)
        for memory, triples in zip(wanted, extracted, strict=True):
            scope = tuple(getattr(memory, field) for field in SCOPE_FIELDS)
            for source, relationship, destination in triples:
                same = open_rows.setdefault((scope, source, relationship), [])
                if any(row.destination == destination and row.valid_to is None for row in same):
                    continue
                if _single_valued(relationship):
                    for old in same:
                        if old.valid_to is None and old.valid_from < memory.valid_from:
                            old.valid_to = memory.valid_from
                            closed.append(old)
                relation = EntityRelation(
                    project=project,
                    memory=memory,
                    source=source,
                    relationship=relationship,
                    destination=destination,
                    valid_from=memory.valid_from,
                    created_at=now,
                    **dict(zip(SCOPE_FIELDS, scope, strict=True)),
                )
                same.append(relation)
                added.append(relation)
        new_ids = {id(relation) for relation in added}
        EntityRelation.objects.bulk_update([r for r in closed if id(r) not in new_ids], ["valid_to"])
        EntityRelation.objects.bulk_create(added)
    return {
        "deleted_entities": [_triple(relation) for relation in closed],
        "added_entities": [_triple(relation) for relation in added],
    }
