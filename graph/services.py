"""Every write to relationships goes through these functions (API, admin, the add pipeline).

Each validates all of its input first, writes in one transaction and raises only our own
exceptions. A relationship is never deleted here: it is closed (``valid_to``) or retracted
(``invalidated_at``). It disappears only with one of its memories (``on_delete=CASCADE``).
``now=`` fixes the clock in tests.
"""

from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from graph.inputs import clean_interval, clean_origin, clean_relation, clean_weight
from graph.models import Origin, Relationship
from mem0g_site.exceptions import Conflict, MemoryNotFound, RelationshipNotFound, ValidationFailed
from memories.inputs import Scope, clean_metadata, clean_moment, clean_scope, clean_uuid
from memories.models import Memory

UNSET: Any = object()
OPEN_EDGE_CONSTRAINT = "graph_relationship_one_open_edge"


def _clean(within: Scope | None) -> Scope | None:
    return None if within is None else clean_scope(within, required=False)


def _memories_fenced(project, within: Scope | None):
    queryset = Memory.objects.for_project(project)
    return queryset if within is None else queryset.filter(**_clean(within).as_filter())


def _open_duplicate(*, source_id, target_id, relation: str, exclude=None):
    duplicates = Relationship.objects.current().filter(source_id=source_id, target_id=target_id, relation=relation)
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
            existing = _open_duplicate(source_id=source_pk, target_id=target_pk, relation=relation)
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
    changes: dict[str, Any] = {}
    if valid_from is not UNSET:
        if valid_from is None:
            raise ValidationFailed("valid_from cannot be null", field="valid_from")
        changes["valid_from"] = clean_moment(valid_from, field_name="valid_from")
    if valid_to is not UNSET:
        changes["valid_to"] = clean_moment(valid_to, field_name="valid_to")
    if metadata is not UNSET:
        changes["metadata"] = clean_metadata(metadata)
    if weight is not UNSET:
        changes["weight"] = clean_weight(weight)
    if not changes:
        raise ValidationFailed("nothing to update: give valid_from, valid_to, metadata or weight")

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
