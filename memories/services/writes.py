"""Plain writes to memories: update, delete (one, a scope, a batch, a project), supersede, exports,
feedback, and curation (expire, restore) for the admin and the web UI.

Each one validates all of its input before it embeds or writes anything, writes in one
transaction, and records a history row for every ADD/UPDATE/DELETE. ``now=`` fixes the clock
in tests.
"""

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from graph.models import SUPERSEDES, Relationship
from graph.selectors import CHAIN_DEPTH_MAX
from graph.services import relationship_create
from mem0g_site.exceptions import Conflict, MemoryNotFound, ValidationFailed
from mem0g_site.inputs import UNSET
from mem0g_site.temporal import current_q
from memories.embedding import embed_texts, get_embedder
from memories.filters import compile_filters, names_entity
from memories.inputs import (
    NewMemory,
    Scope,
    clean_categories,
    clean_expiration,
    clean_feedback,
    clean_id,
    clean_metadata,
    clean_moment,
    clean_scope,
    clean_text,
    clean_uuid,
)
from memories.models import SCOPE_FIELDS, Memory, MemoryExport, MemoryFeedback, memory_hash
from memories.services.records import (
    closing_time,
    delete_with_history,
    fenced,
    history_deleted,
    history_superseded,
    history_updated,
    locked,
    memories_add,
    memories_unshare_vectors,
    provenance_delete,
    sources_of_delete,
)


def memory_update(
    *,
    project,
    memory_id: Any,
    text: Any = UNSET,
    metadata: Any = UNSET,
    categories: Any = UNSET,
    expiration_date: date | datetime | None = UNSET,
    valid_from: datetime = UNSET,
    actor_id: str | None = None,
    embedding: list[float] | None = None,
    within: Scope | None = None,
    now: datetime | None = None,
) -> Memory:
    """Change a memory in place: it keeps its id, is re-embedded if its text changed, and gains
    an UPDATE history row with the old and new text. ``valid_from`` moves the time the fact
    started to hold (Mem0's ``timestamp``); it must stay before ``valid_to``. ``embedding``: the new
    text's vector when the caller has it. The returned memory carries ``previous_memory``, its text
    before."""
    pk = clean_uuid(memory_id)
    if pk is None:
        raise MemoryNotFound(memory_id)
    changes: dict[str, Any] = {}
    if text is not UNSET:
        changes["memory"] = clean_text(text)
    if metadata is not UNSET:
        changes["metadata"] = clean_metadata(metadata)
    if categories is not UNSET:
        changes["categories"] = clean_categories(categories)
    if expiration_date is not UNSET:
        changes["expiration_date"] = clean_expiration(expiration_date)
    if valid_from is not UNSET:
        if valid_from is None:
            raise ValidationFailed("timestamp must be a time", field="timestamp")
        changes["valid_from"] = clean_moment(valid_from, field_name="timestamp")
    actor_id = clean_id(actor_id, field_name="actor_id")
    if not changes:
        raise ValidationFailed("nothing to update: give text, metadata, categories, expiration_date or timestamp")

    with transaction.atomic():
        memory = locked(project, pk, within, memory_id=memory_id)
        # The clock is read once the row is ours, so history lists changes in the order applied.
        now = now or timezone.now()
        text_changed = "memory" in changes and changes["memory"] != memory.memory
        if memory.immutable and text_changed:
            raise Conflict("This memory is immutable; its text cannot be changed", details={"memory_id": str(pk)})
        if "valid_from" in changes and memory.valid_to is not None and changes["valid_from"] >= memory.valid_to:
            raise ValidationFailed("timestamp must be before the time the memory stopped holding", field="timestamp")
        if text_changed:
            # Embedding under the row lock keeps the text and its vector consistent (``embedding``:
            # the caller embedded this very text already).
            changes["embedding"] = embedding if embedding is not None else embed_texts([changes["memory"]])[0]
            changes["embedding_model"] = get_embedder().model_name
            changes["hash"] = memory_hash(changes["memory"])
            # Its new vector is its own: it names no canonical now (one HNSW entry, of the new vector).
            changes["vector_memory"] = None
        old_text, old_metadata = memory.memory, memory.metadata
        memory.previous_memory = old_text
        for name, value in changes.items():
            setattr(memory, name, value)
        memory.updated_at = now
        memory.save(update_fields=[*changes, "updated_at"])
        if text_changed:
            # The rows that shared its old vector are re-homed (and its messages follow them).
            memories_unshare_vectors(project_id=memory.project_id, memory_ids=[memory.pk])
        history_updated(memory=memory, old_text=old_text, old_metadata=old_metadata, now=now, actor_id=actor_id)
    return memory


def memory_delete(
    *,
    project,
    memory_id: Any,
    actor_id: str | None = None,
    within: Scope | None = None,
    delete_linked: bool = False,
    now: datetime | None = None,
) -> int:
    """Delete one memory; its history stays, ending with a DELETE row. ``delete_linked`` (Mem0's flag)
    also deletes the older memories it superseded, transitively (the ``supersedes`` chain, inside
    ``within``), so that none of them is shown again as a superseded fact. Returns how many of those
    were deleted (Mem0's ``cascade_count``)."""

    pk = clean_uuid(memory_id)
    if pk is None:
        raise MemoryNotFound(memory_id)
    actor_id = clean_id(actor_id, field_name="actor_id")
    if not isinstance(delete_linked, bool):
        raise ValidationFailed("delete_linked must be true or false", field="delete_linked")
    with transaction.atomic():
        memory = locked(project, pk, within, memory_id=memory_id, embedding=False)
        now = now or timezone.now()
        older: set = set()
        frontier = {pk}
        for _ in range(CHAIN_DEPTH_MAX if delete_linked else 0):  # one query per step back
            frontier = (
                set(
                    Relationship.objects.for_project(project)
                    .not_retracted()
                    .filter(source_id__in=frontier, relation=SUPERSEDES)
                    .values_list("target_id", flat=True)
                )
                - older
                - {pk}
            )
            if not frontier:
                break
            older |= frontier
        cascaded = delete_with_history(fenced(project, within).filter(pk__in=older), now=now) if older else 0
        history_deleted(memories=[memory], now=now, actor_id=actor_id)
        sources_of_delete([memory.pk])
        memory.delete()
    return cascaded


def memories_delete(
    *,
    project,
    scope: Scope,
    any_of: Iterable[str] = (),
    filters: dict | None = None,
    allow_oss: bool = True,
    now: datetime | None = None,
) -> int:
    """Delete every memory of a scope (all states); returns how many. ``any_of`` names entity
    fields that must merely be set (Mem0's ``user_id=*``); ``filters`` (Mem0's grammar) narrows
    further. Some entity must be named, by ``scope``, ``any_of`` or a positive equality or ``in`` in
    ``filters`` (:func:`memories.filters.names_entity`), so neither a typo nor a negation
    (``{"user_id": {"ne": "nobody"}}``) can wipe a project."""

    any_of = sorted(set(any_of))
    if any(field not in SCOPE_FIELDS for field in any_of):
        raise ValidationFailed("only user_id, agent_id, app_id and run_id can be '*'", field="filters")
    scope = clean_scope(scope, required=False)
    where = compile_filters(filters, allow_oss=allow_oss)
    if scope.is_empty and not any_of and not names_entity(filters):
        raise ValidationFailed(
            "at least one of user_id, agent_id, app_id or run_id is required (an id, a list of ids with 'in', "
            "or '*'); negations do not name an entity",
            field="user_id",
        )
    entities = {**scope.as_filter(), **{f"{field}__isnull": False for field in any_of}}
    queryset = Memory.objects.for_project(project).filter(**entities).filter(where)
    with transaction.atomic():
        deleted = delete_with_history(queryset, now=now or timezone.now())
        if not filters:
            # The whole scope goes: its messages that gave no fact and its traces too.
            provenance_delete(project=project, entities=entities)
    return deleted


def memories_update_batch(*, project, items: Sequence[dict], within: Scope | None = None) -> int:
    """Mem0's batch update: ``[{"memory_id", "text"?, "metadata"?}]``, all or nothing."""
    with transaction.atomic():
        for item in items:
            memory_update(
                project=project,
                memory_id=item.get("memory_id"),
                text=item["text"] if item.get("text") is not None else UNSET,
                metadata=item["metadata"] if item.get("metadata") is not None else UNSET,
                within=within,
            )
    return len(items)


def memories_delete_batch(*, project, memory_ids: Sequence[Any], within: Scope | None = None) -> int:
    """Mem0's batch delete: every id must be a memory of the project (inside ``within``), else
    nothing is deleted; one bulk delete with history, not a query per id."""
    pks = [clean_uuid(memory_id) for memory_id in memory_ids]
    for memory_id, pk in zip(memory_ids, pks, strict=True):
        if pk is None:
            raise MemoryNotFound(memory_id)
    queryset = fenced(project, within).filter(pk__in=pks)
    with transaction.atomic():
        found = set(queryset.select_for_update().values_list("pk", flat=True))
        missing = next((memory_id for memory_id, pk in zip(memory_ids, pks, strict=True) if pk not in found), None)
        if missing is not None:
            raise MemoryNotFound(missing)
        return delete_with_history(queryset, now=timezone.now())


def memories_reset(*, project, within: Scope | None = None, now: datetime | None = None) -> int:
    """Delete every memory of the project (or, for a user-restricted key, of its user), and its
    sources and traces."""
    entities = clean_scope(within, required=False).as_filter() if within is not None else {}
    with transaction.atomic():
        deleted = delete_with_history(fenced(project, within), now=now or timezone.now())
        provenance_delete(project=project, entities=entities)
    return deleted


def memory_supersede(
    *,
    project,
    memory_id: Any,
    text: Any,
    observed_at: datetime | None = None,
    metadata: Any = UNSET,
    categories: Any = UNSET,
    origin: str = "inference",
    embedding: list[float] | None = None,
    within: Scope | None = None,
    now: datetime | None = None,
) -> Memory:
    """A changed fact: the old memory is closed at ``observed_at`` (``valid_to``; it stays stored and
    answers ``as_of`` queries for the time it held) and a new memory with ``text`` holds from then,
    in the same scope, linked ``new supersedes old``. Metadata and categories carry over unless given.

    Returns the new memory, with ``superseded`` set to the old one. Immutable memories are never
    superseded (409); a memory already closed cannot be superseded again (409: supersede its
    successor instead).
    """

    pk = clean_uuid(memory_id)
    if pk is None:
        raise MemoryNotFound(memory_id)
    text = clean_text(text)
    observed_at = clean_moment(observed_at, field_name="observed_at")
    with transaction.atomic():
        old = locked(project, pk, within, memory_id=memory_id)
        now = now or timezone.now()
        observed_at = observed_at or now
        if old.immutable:
            raise Conflict("This memory is immutable; it cannot be superseded", details={"memory_id": str(pk)})
        if not old.is_current:
            raise Conflict(
                "This memory no longer holds; supersede the memory that replaced it", details={"memory_id": str(pk)}
            )
        closed_at = closing_time(old, observed_at)
        [new] = memories_add(
            project=project,
            items=[
                NewMemory(
                    text=text,
                    scope=Scope(**{field: getattr(old, field) for field in SCOPE_FIELDS}),
                    metadata=old.metadata if metadata is UNSET else metadata,
                    categories=old.categories if categories is UNSET else categories,
                    actor_id=old.actor_id,
                    role=old.role,
                    expiration_date=old.expiration_date,
                    valid_from=closed_at,
                    embedding=embedding,
                    memory_type=old.memory_type,
                )
            ],
            now=now,
        )
        old.valid_to = closed_at
        old.updated_at = now
        old.save(update_fields=["valid_to", "updated_at"])
        history_superseded(old=old, new=new, now=now)
        relationship_create(
            project=project,
            source_id=new.pk,
            target_id=old.pk,
            relation="supersedes",
            origin=origin,
            valid_from=closed_at,
            now=now,
        )
    new.superseded = old
    return new


def memory_export_create(
    *, project, schema: Any, filters: Any, results: list[dict], user_id: str | None, next_cursor: str | None
) -> MemoryExport:
    """Record an export (``POST /v1/exports/``): the rows already read and shaped by the caller (at
    most ``EXPORT_MAX_ROWS``, see ``memories.selectors.memories_export_slice``), the user a restricted
    key made it for, and where the next export of the same filters starts."""
    if len(results) > settings.EXPORT_MAX_ROWS:
        raise ValidationFailed(f"an export holds at most {settings.EXPORT_MAX_ROWS} rows (EXPORT_MAX_ROWS)")
    return MemoryExport.objects.create(
        project=project,
        schema=schema,
        filters=filters,
        results=results,
        user_id=clean_id(user_id, field_name="user_id"),
        next_cursor=next_cursor,
    )


def memory_feedback_create(
    *, project, memory_id: Any, feedback: str | None, feedback_reason: str | None, within: Scope | None = None
) -> MemoryFeedback:
    """Keep an app's feedback on one of the project's memories (inside ``within``) for curation
    (``POST /v1/feedback/``); any other id is :class:`MemoryNotFound`."""
    feedback = clean_feedback(feedback)
    if feedback_reason is not None and not isinstance(feedback_reason, str):
        raise ValidationFailed("feedback_reason must be a string", field="feedback_reason")
    pk = clean_uuid(memory_id)
    if pk is None or not fenced(project, within).filter(pk=pk).exists():
        raise MemoryNotFound(memory_id)
    return MemoryFeedback.objects.create(
        project=project, memory_id=pk, feedback=feedback, feedback_reason=feedback_reason
    )


# --- Curation (admin actions, web UI) ----------------------------------------------------------


def memory_expire(
    *, project, memory_id: Any, actor_id: str | None = None, within: Scope | None = None, now: datetime | None = None
) -> Memory:
    """Stop serving a memory from now on (its expiration date becomes now); an UPDATE history row."""
    now = now or timezone.now()
    return memory_update(
        project=project, memory_id=memory_id, expiration_date=now, actor_id=actor_id, within=within, now=now
    )


def memory_restore(
    *, project, memory_id: Any, actor_id: str | None = None, within: Scope | None = None, now: datetime | None = None
) -> Memory:
    """Serve a memory again: its expiration date, ``valid_to`` and retraction are cleared, with an UPDATE
    history row. A memory that a current memory supersedes cannot be restored (409: both would hold)."""

    pk = clean_uuid(memory_id)
    if pk is None:
        raise MemoryNotFound(memory_id)
    actor_id = clean_id(actor_id, field_name="actor_id")
    with transaction.atomic():
        memory = locked(project, pk, within, memory_id=memory_id, embedding=False)
        now = now or timezone.now()
        successor = (
            Relationship.objects.not_retracted()
            .filter(current_q(prefix="source__"), target_id=pk, relation=SUPERSEDES)
            .values_list("source_id", flat=True)
            .first()
        )
        if successor is not None:
            raise Conflict(
                "A current memory supersedes this one; restore would make both hold",
                details={"memory_id": str(pk), "superseded_by": str(successor)},
            )
        memory.expiration_date = memory.valid_to = memory.invalidated_at = None
        memory.updated_at = now
        memory.save(update_fields=["expiration_date", "valid_to", "invalidated_at", "updated_at"])
        history_updated(memory=memory, old_text=memory.memory, old_metadata=memory.metadata, now=now, actor_id=actor_id)
    return memory
