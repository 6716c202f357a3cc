"""An archive's records, read from the database: a whole project, or one user of it."""

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import Organization, Project, RegisteredEntity
from graph.models import EntityRelation, Relationship
from mem0g_site.exceptions import NotFound
from memories.archive.format import KINDS, header, moment_text
from memories.embedding import get_embedder
from memories.inputs import clean_uuid
from memories.models import SCOPE_FIELDS, AddEvent, DecisionTrace, Memory, MemoryHistory, MemorySource, MemorySourceLink

ITERATOR_CHUNK = 500


def project_find(*, name: str, organization: Organization | None = None) -> Project:
    """The one project whose slug, name or id is ``name`` (in ``organization`` when given)."""
    projects = Project.objects.select_related("organization")
    if organization is not None:
        projects = projects.filter(organization=organization)
    matches = projects.filter(slug=name) | projects.filter(name=name)
    pk = clean_uuid(name)
    if pk is not None:
        matches = matches | projects.filter(pk=pk)
    found = list(matches.distinct()[:2])
    if len(found) != 1:
        where = f" in {organization.slug}" if organization else ""
        raise NotFound(
            f"no single project{where} is called {name!r}" + ("" if organization else " (name one with --org)")
        )
    return found[0]


def _querysets(project, user_id: str | None) -> dict[str, Any]:
    """Each kind's rows, in archive order (oldest first; ties by id, so an export is repeatable)."""
    entities = RegisteredEntity.objects.filter(project=project)
    memories = Memory.objects.for_project(project)
    history = MemoryHistory.objects.filter(project=project)
    relationships = Relationship.objects.for_project(project)
    relations = EntityRelation.objects.for_project(project)
    events = AddEvent.objects.filter(project=project)
    sources = MemorySource.objects.filter(project=project)
    links = MemorySourceLink.objects.filter(project=project)
    traces = DecisionTrace.objects.filter(project=project)
    if user_id is not None:
        # The user's add events, and any other add that left them a message or a decision.
        events = events.filter(
            Q(user_id=user_id)
            | Q(pk__in=MemorySource.objects.filter(project=project, user_id=user_id).values("add_event"))
            | Q(pk__in=DecisionTrace.objects.filter(project=project, user_id=user_id).values("add_event"))
        )
        sources = sources.filter(user_id=user_id)
        links = links.filter(memory__user_id=user_id, source__user_id=user_id)
        traces = traces.filter(user_id=user_id)
        entities = entities.filter(type=RegisteredEntity.Type.USER, name=user_id)
        memories = memories.filter(user_id=user_id)
        history = history.filter(user_id=user_id)
        relationships = relationships.both_ends(user_id=user_id)
        relations = relations.filter(user_id=user_id)
    return {
        "entity": entities.order_by("type", "name"),
        "memory": memories.order_by("created_at", "id"),
        "event": events.order_by("created_at", "id"),
        "source": sources.order_by("created_at", "position", "id"),
        "source_link": links.order_by("created_at", "memory_id", "source_id"),
        "trace": traces.order_by("created_at", "position", "id"),
        "history": history.order_by("created_at", "id"),
        "relationship": relationships.order_by("created_at", "id"),
        "entity_relation": relations.order_by("created_at", "id"),
    }


def archive_counts(*, project, user_id: str | None = None) -> dict[str, int]:
    """How many records of each kind an archive of the project (or of ``user_id``) holds now."""
    return {kind: queryset.count() for kind, queryset in _querysets(project, user_id).items()}


def _temporal(row) -> dict[str, Any]:
    return {
        "valid_from": moment_text(row.valid_from),
        "valid_to": moment_text(row.valid_to),
        "created_at": moment_text(row.created_at),
        "invalidated_at": moment_text(row.invalidated_at),
    }


def _entity(row: RegisteredEntity, with_vectors: bool) -> dict[str, Any]:
    return {
        "kind": "entity",
        "type": row.type,
        "name": row.name,
        "display_name": row.display_name,
        "metadata": row.metadata,
        "created_at": moment_text(row.created_at),
        "updated_at": moment_text(row.updated_at),
    }


def _memory(row: Memory, with_vectors: bool) -> dict[str, Any]:
    record = {
        "kind": "memory",
        "id": str(row.id),
        **{name: getattr(row, name) for name in SCOPE_FIELDS},
        "memory": row.memory,
        "hash": row.hash,
        "metadata": row.metadata,
        "categories": row.categories,
        **_temporal(row),
        "updated_at": moment_text(row.updated_at),
        "expiration_date": moment_text(row.expiration_date),
        "immutable": row.immutable,
        "actor_id": row.actor_id,
        "role": row.role,
        "memory_type": row.memory_type,
        "embedding_model": row.embedding_model or None,
    }
    if with_vectors:
        record["vector"] = None if row.embedding is None else [float(x) for x in row.embedding]
    return record


def _history(row: MemoryHistory, with_vectors: bool) -> dict[str, Any]:
    return {
        "kind": "history",
        "id": str(row.id),
        "memory_id": str(row.memory_id),
        "event": row.event,
        "old_memory": row.old_memory,
        "new_memory": row.new_memory,
        "old_metadata": row.old_metadata,
        "new_metadata": row.new_metadata,
        **{name: getattr(row, name) for name in SCOPE_FIELDS},
        "actor_id": row.actor_id,
        "role": row.role,
        "is_deleted": row.is_deleted,
        "created_at": moment_text(row.created_at),
        "updated_at": moment_text(row.updated_at),
        "trace": None if row.trace_id is None else str(row.trace_id),
    }


def _event(row: AddEvent, with_vectors: bool) -> dict[str, Any]:
    return {
        "kind": "event",
        "id": str(row.id),
        "user_id": row.user_id,
        "status": row.status,
        "payload": row.payload,
        "results": row.results,
        "error": row.error,
        "latency_ms": row.latency_ms,
        "created_at": moment_text(row.created_at),
        "updated_at": moment_text(row.updated_at),
    }


def _source(row: MemorySource, with_vectors: bool) -> dict[str, Any]:
    record = {
        "kind": "source",
        "id": str(row.id),
        **{name: getattr(row, name) for name in SCOPE_FIELDS},
        "event": None if row.add_event_id is None else str(row.add_event_id),
        "position": row.position,
        "role": row.role,
        "name": row.name,
        "content": row.content,
        "observed_at": moment_text(row.observed_at),
        "metadata": row.metadata,
        "created_at": moment_text(row.created_at),
    }
    if with_vectors:
        record["vector"] = None if row.embedding is None else [float(x) for x in row.embedding]
    return record


def _source_link(row: MemorySourceLink, with_vectors: bool) -> dict[str, Any]:
    return {
        "kind": "source_link",
        "memory": str(row.memory_id),
        "source": str(row.source_id),
        "created_at": moment_text(row.created_at),
    }


def _trace(row: DecisionTrace, with_vectors: bool) -> dict[str, Any]:
    return {
        "kind": "trace",
        "id": str(row.id),
        **{name: getattr(row, name) for name in SCOPE_FIELDS},
        "event": str(row.add_event_id),
        "position": row.position,
        "fact": row.fact,
        "extractor": row.extractor,
        "candidates": row.candidates,
        "decision": row.decision,
        "target_id": None if row.target_id is None else str(row.target_id),
        "reason": row.reason,
        "source_ids": row.source_ids,
        "memory": None if row.memory_id is None else str(row.memory_id),
        "created_at": moment_text(row.created_at),
        "review_state": row.review_state,
        "reviewed_by": row.reviewed_by,
        "reviewed_at": None if row.reviewed_at is None else moment_text(row.reviewed_at),
        "held": row.held,
    }


def _relationship(row: Relationship, with_vectors: bool) -> dict[str, Any]:
    return {
        "kind": "relationship",
        "id": str(row.id),
        "source": str(row.source_id),
        "target": str(row.target_id),
        "relation": row.relation,
        "metadata": row.metadata,
        "weight": row.weight,
        "origin": row.origin,
        **_temporal(row),
    }


def _entity_relation(row: EntityRelation, with_vectors: bool) -> dict[str, Any]:
    return {
        "kind": "entity_relation",
        "id": str(row.id),
        "memory": str(row.memory_id),
        **{name: getattr(row, name) for name in SCOPE_FIELDS},
        "source": row.source,
        "relationship": row.relationship,
        "destination": row.destination,
        **_temporal(row),
    }


RECORD = {
    "entity": _entity,
    "memory": _memory,
    "event": _event,
    "source": _source,
    "source_link": _source_link,
    "trace": _trace,
    "history": _history,
    "relationship": _relationship,
    "entity_relation": _entity_relation,
}
assert tuple(RECORD) == KINDS


def archive_records(
    *, project, user_id: str | None = None, with_vectors: bool = False, now: datetime | None = None
) -> Iterator[dict[str, Any]]:
    """The header, then every record of the project (or of ``user_id``), read in one snapshot
    (REPEATABLE READ when not already inside a transaction) so the header's counts match the lines.
    Rows are read in chunks: memory use does not grow with the project."""
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if outermost:  # the transaction's first statement: every query below sees one snapshot
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        querysets = _querysets(project, user_id)
        counts = {kind: queryset.count() for kind, queryset in querysets.items()}
        embedder = get_embedder() if counts["memory"] or counts["source"] else None
        yield header(
            project={
                "id": str(project.id),
                "name": project.name,
                "slug": project.slug,
                "organization": project.organization.slug,
            },
            user_id=user_id,
            embedding_model=embedder.model_name if embedder else None,
            dimensions=embedder.dimensions if embedder else None,
            with_vectors=with_vectors,
            counts=counts,
            exported_at=now or timezone.now(),
        )
        for kind, queryset in querysets.items():
            if kind in ("memory", "source") and not with_vectors:
                queryset = queryset.defer("embedding")
            to_record = RECORD[kind]
            own = _own_memory_ids(project, user_id) if kind == "event" and user_id is not None else None
            for row in queryset.iterator(chunk_size=ITERATOR_CHUNK):
                record = to_record(row, with_vectors)
                if own is not None and row.user_id != user_id:
                    record = _event_for_user(record, own)
                yield record


def _own_memory_ids(project, user_id: str) -> set[str]:
    return {str(pk) for pk in Memory.objects.for_project(project).filter(user_id=user_id).values_list("id", flat=True)}


def _event_for_user(record: dict[str, Any], own: set[str]) -> dict[str, Any]:
    """An add event that spanned several scopes, as one user's archive may show it: the results for
    that user's memories only, and neither the request's payload nor its error (they may speak of
    the others)."""
    results = [item for item in record["results"] if isinstance(item, dict) and item.get("id") in own]
    return {**record, "payload": {}, "results": results, "error": None}
