"""Every write to memories goes through these functions (API dialects, UI, admin, commands).

Each one validates all of its input before it embeds or writes anything, writes in one
transaction, and records a history row for every ADD/UPDATE/DELETE. ``now=`` fixes the clock
in tests.
"""

import hashlib
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from mem0g_site.exceptions import Conflict, MemoryNotFound, ValidationFailed
from memories.embedding import embed_texts, get_embedder
from memories.inference import limit_failed
from memories.inputs import (
    NewMemory,
    Scope,
    clean_categories,
    clean_expiration,
    clean_id,
    clean_memory_type,
    clean_metadata,
    clean_moment,
    clean_new_memory,
    clean_scope,
    clean_text,
    clean_uuid,
    is_encodable,
)
from memories.models import (
    PROCEDURAL,
    SCOPE_FIELDS,
    AddEvent,
    DecisionTrace,
    Memory,
    MemoryExport,
    MemoryHistory,
    MemorySource,
    MemorySourceLink,
    memory_hash,
)

UNSET: Any = object()


def _history(
    memory: Memory,
    *,
    event: str,
    now: datetime,
    old_memory=None,
    new_memory=None,
    old_metadata=None,
    new_metadata=None,
    actor_id=None,
    is_deleted=False,
) -> MemoryHistory:
    return MemoryHistory(
        project_id=memory.project_id,
        memory_id=memory.id,
        event=event,
        old_memory=old_memory,
        new_memory=new_memory,
        old_metadata=old_metadata,
        new_metadata=new_metadata,
        user_id=memory.user_id,
        agent_id=memory.agent_id,
        app_id=memory.app_id,
        run_id=memory.run_id,
        actor_id=actor_id if actor_id is not None else memory.actor_id,
        role=memory.role,
        is_deleted=is_deleted,
        created_at=now,
        updated_at=now,
    )


def _fenced(project, within: Scope | None):
    """The project's memories, inside ``within`` (an API key's user) when given."""
    queryset = Memory.objects.for_project(project)
    return queryset if within is None else queryset.filter(**clean_scope(within, required=False).as_filter())


def _locked(project, pk, within: Scope | None, *, memory_id: Any, embedding: bool = True) -> Memory:
    """The memory ``pk`` locked FOR UPDATE (call inside a transaction), or :class:`MemoryNotFound`
    naming ``memory_id`` as given, exactly as for a missing id when it is outside ``within``."""
    queryset = _fenced(project, within).select_for_update()
    memory = (queryset if embedding else queryset.defer("embedding")).filter(pk=pk).first()
    if memory is None:
        raise MemoryNotFound(memory_id)
    return memory


def _memories_prepare(items: Sequence[NewMemory]) -> list[tuple[NewMemory, list[float]]]:
    """Check verbatim memories and embed those without a vector (one batch): the slow part of a
    verbatim add, done before anything is locked or written."""
    if not isinstance(items, Sequence) or isinstance(items, (str, bytes)) or not items:
        raise ValidationFailed("at least one memory is required", field="memories")
    if len(items) > settings.MEMORY_BATCH_MAX:
        raise ValidationFailed(
            f"{len(items)} memories in one call; the limit is {settings.MEMORY_BATCH_MAX}", field="memories"
        )
    single = len(items) == 1
    cleaned = [
        clean_new_memory(item, prefix="" if single else f"memories[{index}].") for index, item in enumerate(items)
    ]
    missing = [item.text for item in cleaned if item.embedding is None]
    fresh = iter(embed_texts(missing) if missing else [])
    return [(item, item.embedding if item.embedding is not None else next(fresh)) for item in cleaned]


def _memories_write(*, project, prepared: list[tuple[NewMemory, list[float]]], now: datetime) -> list[Memory]:
    """Write checked, embedded memories with an ADD history row each (and auto-links), in one
    transaction."""
    model_name = get_embedder().model_name
    short_term_ttl = timedelta(seconds=settings.MEM0_DEFAULT_SHORT_TERM_TTL_SECONDS)
    memories = [
        Memory(
            project=project,
            memory=item.text,
            hash=memory_hash(item.text),
            metadata=item.metadata,
            categories=item.categories,
            embedding=vector,
            embedding_model=model_name,
            actor_id=item.actor_id,
            role=item.role,
            immutable=item.immutable,
            memory_type=item.memory_type,
            # metadata.memory_lifespan = "short_term" (the OSS server's convention) expires by itself.
            expiration_date=item.expiration_date
            or (now + short_term_ttl if item.metadata.get("memory_lifespan") == "short_term" else None),
            valid_from=item.valid_from or now,
            valid_to=item.valid_to,
            created_at=now,
            updated_at=now,
            **item.scope.as_filter(),
        )
        for item, vector in prepared
    ]
    with transaction.atomic():
        Memory.objects.bulk_create(memories)
        MemoryHistory.objects.bulk_create(
            [
                _history(
                    memory,
                    event=MemoryHistory.Event.ADD,
                    now=now,
                    new_memory=memory.memory,
                    new_metadata=memory.metadata,
                )
                for memory in memories
            ]
        )
        if settings.GRAPH_AUTO_LINK_THRESHOLD > 0:
            from graph.services import relationships_autolink

            relationships_autolink(
                project=project, memories=memories, threshold=settings.GRAPH_AUTO_LINK_THRESHOLD, now=now
            )
    return memories


def memories_add(*, project, items: Sequence[NewMemory], now: datetime | None = None) -> list[Memory]:
    """Store memories verbatim (one or many), embedded in one batch, with an ADD history row each.

    The low-level writer under :func:`add_ingest` (and the tests' fixtures): it records no add
    event and takes no scope lock. Callers outside this module add through :func:`add_ingest`."""
    prepared = _memories_prepare(items)
    return _memories_write(project=project, prepared=prepared, now=now or timezone.now())


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
        memory = _locked(project, pk, within, memory_id=memory_id)
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
        old_text, old_metadata = memory.memory, memory.metadata
        memory.previous_memory = old_text
        for name, value in changes.items():
            setattr(memory, name, value)
        memory.updated_at = now
        memory.save(update_fields=[*changes, "updated_at"])
        _history(
            memory,
            event=MemoryHistory.Event.UPDATE,
            now=now,
            old_memory=old_text,
            new_memory=memory.memory,
            old_metadata=old_metadata,
            new_metadata=memory.metadata,
            actor_id=actor_id,
        ).save()
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
    from graph.models import SUPERSEDES, Relationship
    from graph.selectors import CHAIN_DEPTH_MAX

    pk = clean_uuid(memory_id)
    if pk is None:
        raise MemoryNotFound(memory_id)
    actor_id = clean_id(actor_id, field_name="actor_id")
    if not isinstance(delete_linked, bool):
        raise ValidationFailed("delete_linked must be true or false", field="delete_linked")
    with transaction.atomic():
        memory = _locked(project, pk, within, memory_id=memory_id, embedding=False)
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
        cascaded = _delete_with_history(_fenced(project, within).filter(pk__in=older), now=now) if older else 0
        _history(
            memory,
            event=MemoryHistory.Event.DELETE,
            now=now,
            old_memory=memory.memory,
            old_metadata=memory.metadata,
            actor_id=actor_id,
            is_deleted=True,
        ).save()
        _sources_of_delete([memory.pk])
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
    from memories.filters import compile_filters, names_entity

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
        deleted = _delete_with_history(queryset, now=now or timezone.now())
        if not filters:
            # The whole scope goes: its messages that gave no fact and its traces too.
            _provenance_delete(project=project, entities=entities)
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
    queryset = _fenced(project, within).filter(pk__in=pks)
    with transaction.atomic():
        found = set(queryset.select_for_update().values_list("pk", flat=True))
        missing = next((memory_id for memory_id, pk in zip(memory_ids, pks, strict=True) if pk not in found), None)
        if missing is not None:
            raise MemoryNotFound(missing)
        return _delete_with_history(queryset, now=timezone.now())


def memories_reset(*, project, within: Scope | None = None, now: datetime | None = None) -> int:
    """Delete every memory of the project (or, for a user-restricted key, of its user), and its
    sources and traces."""
    entities = clean_scope(within, required=False).as_filter() if within is not None else {}
    with transaction.atomic():
        deleted = _delete_with_history(_fenced(project, within), now=now or timezone.now())
        _provenance_delete(project=project, entities=entities)
    return deleted


def _sources_of_delete(memory_ids: Sequence[Any]) -> None:
    """Deleting memories deletes the messages they came from (their words are what is deleted),
    even when another memory also came from one of them: that memory stays, without the link.
    Their traces go with them (``DecisionTrace.memory`` cascades)."""
    for start in range(0, len(memory_ids), 5000):
        chunk = memory_ids[start : start + 5000]
        MemorySource.objects.filter(
            pk__in=MemorySourceLink.objects.filter(memory_id__in=chunk).values("source_id")
        ).delete()


def _provenance_delete(*, project, entities: dict) -> None:
    """Delete a scope's sources and decision traces (``entities``: scope filters; empty: the
    whole project's)."""
    MemorySource.objects.filter(project=project, **entities).delete()
    DecisionTrace.objects.filter(project=project, **entities).delete()


def _delete_with_history(queryset, *, now: datetime) -> int:
    with transaction.atomic():
        doomed = list(queryset.select_for_update().defer("embedding"))
        MemoryHistory.objects.bulk_create(
            [
                _history(
                    memory,
                    event=MemoryHistory.Event.DELETE,
                    now=now,
                    old_memory=memory.memory,
                    old_metadata=memory.metadata,
                    is_deleted=True,
                )
                for memory in doomed
            ],
            batch_size=1000,
        )
        ids = [memory.pk for memory in doomed]
        _sources_of_delete(ids)
        for start in range(0, len(ids), 5000):
            # The delete cascades to the memories' relationships (graph.models), so Django loads the
            # rows first: only their ids, not 5000 embeddings.
            Memory.objects.filter(pk__in=ids[start : start + 5000]).only("pk").delete()
    return len(doomed)


def _closing_time(memory: Memory, observed_at: datetime) -> datetime:
    # valid_to must come after valid_from (a check constraint): a change observed at the very moment
    # the old fact began (same clock in one test, two adds in one second) closes it a microsecond on.
    return max(observed_at, memory.valid_from + timedelta(microseconds=1))


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
    from graph.services import relationship_create

    pk = clean_uuid(memory_id)
    if pk is None:
        raise MemoryNotFound(memory_id)
    text = clean_text(text)
    observed_at = clean_moment(observed_at, field_name="observed_at")
    with transaction.atomic():
        old = _locked(project, pk, within, memory_id=memory_id)
        now = now or timezone.now()
        observed_at = observed_at or now
        if old.immutable:
            raise Conflict("This memory is immutable; it cannot be superseded", details={"memory_id": str(pk)})
        if not old.is_current:
            raise Conflict(
                "This memory no longer holds; supersede the memory that replaced it", details={"memory_id": str(pk)}
            )
        closed_at = _closing_time(old, observed_at)
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
        _history(
            old,
            event=MemoryHistory.Event.SUPERSEDE,
            now=now,
            old_memory=old.memory,
            new_memory=new.memory,
            old_metadata=old.metadata,
            new_metadata=new.metadata,
        ).save()
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


# --- The add pipeline --------------------------------------------------------------------------
#
# Every add (Platform v1/v2/v3, sync or queued; the OSS server; the memory layer; the UI; the admin;
# imports and commands) goes through ``add_ingest``, in two phases:
#
# 1. Plan, with no lock held and nothing written: check the input, extract the facts (the rules or
#    the LLM: ``memories.inference``), embed them, settle them among themselves. The slow part.
# 2. Apply, in one transaction holding the scope's advisory locks (``pg_advisory_xact_lock``, one per
#    entity id of the scope, keyed by the project and that id): read the candidates, decide, write the memories, their
#    history (the webhooks' outbox), the supersedes links, the entity relations and the AddEvent.
#    Adds to one scope are applied one at a time, each against what the previous one wrote; adds to
#    other scopes do not wait. The clock is read after the lock is taken.
#
# Observations are placed in time order, not arrival order: a fact observed before the current fact
# it contradicts goes into that fact's history at its own time (see ``_supersede_in_past``), and the
# same observation added again (same text, scope and time) changes nothing.

# How many of the scope's most similar memories each new fact is compared with.
DECISION_CANDIDATES = 8
# How far back a supersedes chain is followed to place an older observation.
CHAIN_MAX = 10_000


def scope_lock_key(project_id: Any, scope: Scope) -> int:
    """The advisory-lock key of one scope of a project: a stable signed 64-bit hash of the project id
    and the four scope ids (a missing id differs from every id)."""
    parts = [str(project_id), *("\x00" if getattr(scope, f) is None else "=" + getattr(scope, f) for f in SCOPE_FIELDS)]
    digest = hashlib.blake2b("\x1f".join(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _scopes_lock(project, scopes: Iterable[Scope]) -> None:
    """Hold, until the transaction ends, one lock per entity id the scopes name (``user_id=alice``,
    ``agent_id=bot``, ...), so that adds whose scopes overlap (``{alice}`` and ``{alice, bot}``, whose
    candidates overlap) are applied one at a time too; adds sharing no id do not wait. Taken in key
    order: no deadlock between adds that touch several ids."""
    from django.db import connection

    keys = sorted(
        {
            scope_lock_key(project.pk, Scope(**{name: getattr(scope, name)}))
            for scope in scopes
            for name in SCOPE_FIELDS
            if getattr(scope, name) is not None
        }
        or {scope_lock_key(project.pk, scope) for scope in scopes}
    )
    with connection.cursor() as cursor:
        for key in keys:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])


@dataclass
class AddOutcome:
    """What an add did: its event (``results`` are the per-memory events), Mem0's ``relations`` when
    graph processing was asked for (else None), and the memories written, in the order of
    ``results``."""

    event: AddEvent
    results: list[dict]
    relations: dict | None
    memories: list[Memory] = field(default_factory=list)


@dataclass
class _AddPlan:
    """An add worked out before its scope is locked."""

    scopes: list[Scope]
    observed_at: datetime | None  # None: the moment the add is applied
    common: dict = field(default_factory=dict)
    messages: list = field(default_factory=list)  # parsed (memories.extraction.Message)
    # Verbatim adds (infer false, or items): checked, embedded memories; retries skipped when ``retry_check``.
    verbatim: list[tuple[NewMemory, list[float]]] | None = None
    retry_check: bool = False
    verbatim_positions: list = field(default_factory=list)  # each verbatim item's message position(s)
    # Inferred adds: the strategy, the settled facts and their vectors.
    inference: Any = None
    facts: list = field(default_factory=list)
    vectors: list = field(default_factory=list)
    # References to the messages' images and documents: checked, embedded memories, each with the
    # position of the message it came from.
    attachments: list[tuple[NewMemory, list[float], int]] = field(default_factory=list)
    # The messages (or items) as received, to keep as sources.
    sources: list["_SourcePlan"] = field(default_factory=list)


@dataclass
class _SourcePlan:
    """One message of an add, checked and embedded, to be kept as a :class:`MemorySource`."""

    position: int
    role: str
    name: str | None
    content: str
    scope: Scope
    metadata: dict
    observed_at: datetime | None  # None: the moment the add is applied
    vector: list[float]


@dataclass
class _FactOutcome:
    """What an add did with one fact (or verbatim message): the trace to record and the links."""

    position: int
    fact: str
    extractor: str
    sources: tuple[int, ...]  # message positions
    decision: str
    reason: dict
    candidates: list = field(default_factory=list)
    target_id: str | None = None
    memory: Memory | None = None
    entry: dict | None = None  # the add's result row, when something was written
    changed: set = field(default_factory=set)  # ids of the memories whose history rows it wrote
    trace_id: uuid.UUID = field(default_factory=uuid.uuid4)  # its DecisionTrace's id, known before it is written
    held: dict | None = None  # review_mode kept the change from taking effect: what accepting it writes


def add_ingest(
    *,
    project,
    messages: Any = None,
    items: Sequence[NewMemory] | None = None,
    scope: Scope | None = None,
    infer: bool = True,
    metadata: dict | None = None,
    categories: list[str] | None = None,
    immutable: bool = False,
    expiration_date: date | datetime | None = None,
    observed_at: datetime | None = None,
    includes: str | None = None,
    excludes: str | None = None,
    prompt: str | None = None,
    custom_instructions: str | None = None,
    enable_graph: bool = False,
    memory_type: str | None = None,
    payload: dict | None = None,
    event: AddEvent | None = None,
    now: datetime | None = None,
) -> AddOutcome:
    """The one add: Mem0's ``add`` of ``messages`` in ``scope``, or verbatim ``items`` (the memory
    layer, the UI, the admin, imports). Returns an :class:`AddOutcome`; ``event``: the queued add's
    event to complete (else a new SUCCEEDED one is recorded, with ``payload``).

    ``infer=False`` stores every non-system message verbatim (its role, and its ``name`` as the
    actor). Otherwise the messages become facts and each fact is compared with the scope's most
    similar current memories:

    - ``NONE``: it is already known (same or near-identical text): nothing written, not returned;
    - ``UPDATE``: the same fact said with more detail: the memory keeps its id and takes the new
      text (history row; ``previous_memory`` in the result);
    - ``SUPERSEDE``: the fact changed: the old memory is closed at the observation time and kept,
      the new one holds from then and is linked to it (``supersedes`` in the result). An observation
      older than the fact it contradicts is stored as that fact's history instead (``ADD`` with
      ``superseded_by``);
    - ``ADD`` otherwise.

    Image and document parts of the messages are stored as references (``memories.attachments``):
    one memory each, whatever ``infer`` says, unless the scope holds that same reference already.
    ``memory_type="procedural_memory"`` (an ``agent_id`` is required) stores one memory instead: the
    conversation summarised (``memories.procedural``), as Mem0 OSS does, whatever ``infer`` says.

    Everything is extracted and embedded before the scope is locked (an LLM failure writes
    nothing); candidates, decisions and every write happen under the lock, in one transaction.
    """
    started = time.perf_counter()
    plan = _add_plan(
        messages=messages,
        items=items,
        scope=scope,
        infer=infer,
        metadata=metadata,
        categories=categories,
        immutable=immutable,
        expiration_date=expiration_date,
        observed_at=observed_at,
        includes=includes,
        excludes=excludes,
        prompt=prompt,
        custom_instructions=custom_instructions,
        memory_type=memory_type,
    )
    with transaction.atomic():
        _scopes_lock(project, plan.scopes)
        now = now or timezone.now()
        if plan.verbatim is not None:
            outcomes = _apply_verbatim(project=project, plan=plan, now=now)
        else:
            outcomes = _apply_inferred(project=project, plan=plan, now=now)
        outcomes += _apply_attachments(project=project, plan=plan, now=now, first=len(outcomes))
        written = [(o.entry, o.memory) for o in outcomes if o.entry is not None]
        results = [entry for entry, _ in written]
        # Entity relations (Mem0's graph memory) of the memories that hold now.
        from graph.services import relations_record_for_events

        relations = relations_record_for_events(project=project, events=results, enable_graph=enable_graph, now=now)
        latency_ms = round((time.perf_counter() - started) * 1000, 1)
        if event is None:
            users = {s.user_id for s in plan.scopes}
            event = AddEvent.objects.create(
                project=project,
                user_id=users.pop() if len(users) == 1 else None,
                status=AddEvent.Status.SUCCEEDED,
                payload=payload if payload is not None else {},
                results=results,
                latency_ms=latency_ms,
                created_at=now,
                updated_at=now,
            )
        else:
            event.status = AddEvent.Status.SUCCEEDED
            event.results = results
            event.latency_ms = latency_ms
            event.updated_at = now
            event.save(update_fields=["status", "results", "latency_ms", "updated_at"])
        _provenance_write(project=project, plan=plan, outcomes=outcomes, event=event, now=now)
    return AddOutcome(event=event, results=results, relations=relations, memories=[m for _, m in written])


def _provenance_write(*, project, plan: _AddPlan, outcomes: list[_FactOutcome], event: AddEvent, now: datetime):
    """Keep an add's messages as sources, link each fact written (or found again) to the messages it
    came from, and record one decision trace per fact, linked from the history rows it wrote.
    Inside the add's transaction. A message already kept with the same scope, time, speaker and
    words (a retried add with an explicit observation time) is linked again, not kept twice."""
    from django.db.models import Case, UUIDField, When

    if not plan.sources and not outcomes:
        return
    rows = [
        MemorySource(
            project=project,
            add_event=event,
            position=source.position,
            role=source.role,
            name=source.name,
            content=source.content,
            observed_at=source.observed_at or now,
            metadata=source.metadata or {},
            embedding=source.vector,
            created_at=now,
            **source.scope.as_filter(),
        )
        for source in plan.sources
    ]
    by_position: dict[int, MemorySource] = {}
    fresh = []
    if plan.observed_at is not None and rows:
        known = {
            (tuple(getattr(row, f) for f in SCOPE_FIELDS), row.role, row.name, row.content): row
            for row in MemorySource.objects.filter(
                project=project, observed_at=plan.observed_at, content__in={row.content for row in rows}
            ).defer("embedding")
        }
        for row in rows:
            found = known.get((tuple(getattr(row, f) for f in SCOPE_FIELDS), row.role, row.name, row.content))
            by_position[row.position] = found or row
            if found is None:
                fresh.append(row)
    else:
        fresh = rows
        by_position = {row.position: row for row in rows}
    MemorySource.objects.bulk_create(fresh)
    links = {
        (outcome.memory.pk, by_position[position].pk)
        for outcome in outcomes
        if outcome.memory is not None and outcome.held is None  # a held change links when accepted
        for position in outcome.sources
        if position in by_position
    }
    MemorySourceLink.objects.bulk_create(
        [MemorySourceLink(project=project, memory_id=m, source_id=src, created_at=now) for m, src in links],
        ignore_conflicts=True,
    )
    traces = [
        DecisionTrace(
            id=outcome.trace_id,
            project=project,
            add_event=event,
            position=outcome.position,
            fact=outcome.fact,
            extractor=outcome.extractor or "unknown",
            candidates=outcome.candidates,
            decision=outcome.decision,
            target_id=clean_uuid(outcome.target_id) if outcome.target_id else None,
            reason=outcome.reason,
            source_ids=[str(by_position[p].pk) for p in outcome.sources if p in by_position],
            memory=outcome.memory,
            created_at=now,
            review_state=(
                DecisionTrace.ReviewState.PENDING
                if outcome.memory is not None and is_inferred_change(outcome.decision, outcome.extractor)
                else DecisionTrace.ReviewState.NONE
            ),
            held=outcome.held,
            **(plan.common["scope"] if plan.common else _scope_of(outcome, plan)).as_filter(),
        )
        for outcome in outcomes
    ]
    DecisionTrace.objects.bulk_create(traces)
    changed = {pk: trace.pk for trace, outcome in zip(traces, outcomes, strict=True) for pk in outcome.changed}
    if changed:
        # The history rows this add wrote (at ``now``, under the scope's lock) point to their trace.
        MemoryHistory.objects.filter(
            project=project, memory_id__in=list(changed), created_at=now, trace__isnull=True
        ).update(
            trace_id=Case(*(When(memory_id=pk, then=trace) for pk, trace in changed.items()), output_field=UUIDField())
        )


# Extractors that store what was said as it was said: nothing of theirs is inferred.
NOT_INFERRED = ("verbatim", "procedural", "attachment")


def is_inferred_change(decision: str, extractor: str) -> bool:
    """Whether a decision changed (or, held, would change) memories by inference: an ADD, UPDATE or
    SUPERSEDE of an extracted fact (the rules' or an LLM's), not a message stored verbatim. These
    are what the review queue lists."""
    return decision in ("ADD", "UPDATE", "SUPERSEDE") and extractor not in NOT_INFERRED


def _scope_of(outcome: _FactOutcome, plan: _AddPlan) -> Scope:
    """A verbatim item's scope (items of one add may name different scopes)."""
    [position] = outcome.sources
    return next(source.scope for source in plan.sources if source.position == position)


def memories_ingest(*, project, **add) -> list[dict]:
    """:func:`add_ingest`, answering only its per-memory events (``[{"id", "memory", "event", ...}]``)."""
    return add_ingest(project=project, **add).results


def _add_plan(*, messages, items, scope, infer, observed_at, **options) -> _AddPlan:
    """Check an add and do its slow, pure part: extraction, embedding, settling."""
    if items is not None:
        if messages is not None:
            raise ValidationFailed("give messages or items, not both")
        prepared = _memories_prepare(items)
        plan = _AddPlan(scopes=list({item.scope: None for item, _ in prepared}), observed_at=None, verbatim=prepared)
        plan.verbatim_positions = list(range(len(prepared)))
        plan.sources = [
            _SourcePlan(
                position=position,
                role=item.role or "user",
                name=item.actor_id,
                content=item.text,
                scope=item.scope,
                metadata=item.metadata,
                observed_at=item.valid_from,
                vector=vector,
            )
            for position, (item, vector) in enumerate(prepared)
        ]
        return plan
    scope = clean_scope(scope, required=True, write=True)
    parsed = add_messages(messages)
    observed_at = clean_moment(observed_at, field_name="observed_at")
    common = {
        "scope": scope,
        "metadata": options["metadata"],
        "categories": options["categories"],
        "immutable": options["immutable"],
        "expiration_date": options["expiration_date"],
        "valid_from": observed_at,
    }
    plan = _AddPlan(scopes=[scope], observed_at=observed_at, common=common, messages=parsed)
    # Validate the options before any extraction cost or LLM call.
    clean_new_memory(NewMemory(text="-", **common))
    source_metadata = clean_metadata(options["metadata"])
    if clean_memory_type(options["memory_type"]) == PROCEDURAL:
        plan.verbatim = _memories_prepare(
            [NewMemory(text=_procedure_text(parsed, scope, options), **common, memory_type=PROCEDURAL)]
        )
        # One memory from the whole conversation: its sources are every message with words.
        plan.verbatim_positions = [tuple(p for p, message in enumerate(parsed) if message.content.strip())]
        plan.sources = _sources_plan(parsed, scope=scope, metadata=source_metadata, observed_at=observed_at, known={})
        return plan
    plan.attachments = _attachments_prepare(parsed, common)
    if not infer:
        kept = [p for p, message in enumerate(parsed) if message.role != "system" and message.content.strip()]
        verbatim = [
            NewMemory(text=parsed[p].content, role=parsed[p].role, actor_id=parsed[p].name, **common) for p in kept
        ]
        plan.verbatim = _memories_prepare(verbatim) if verbatim else []
        plan.verbatim_positions = kept
        plan.retry_check = observed_at is not None
        known = {item.text: vector for item, vector in plan.verbatim}
        plan.sources = _sources_plan(
            parsed, scope=scope, metadata=source_metadata, observed_at=observed_at, known=known
        )
        return plan
    from memories.inference import get_inference

    plan.inference = get_inference()
    facts = plan.inference.extract(
        parsed,
        observed_at=observed_at or timezone.now(),
        agent_scoped=scope.agent_id is not None,
        includes=options["includes"],
        excludes=options["excludes"],
        prompt=options["prompt"],
        custom_instructions=options["custom_instructions"],
    )
    # The facts and the messages (for their sources) are embedded in one batch.
    texts = list(dict.fromkeys([fact.text for fact in facts] + [m.content for m in parsed if m.content.strip()]))
    known = dict(zip(texts, embed_texts(texts) if texts else [], strict=True))
    if facts:
        vectors = [known[fact.text] for fact in facts]
        kept = plan.inference.settle(facts, vectors)
        plan.facts, plan.vectors = [facts[i] for i in kept], [vectors[i] for i in kept]
    plan.sources = _sources_plan(parsed, scope=scope, metadata=source_metadata, observed_at=observed_at, known=known)
    return plan


def _procedure_text(messages: list, scope: Scope, options: dict) -> str:
    """A procedural memory's text: the LLM's summary of the conversation when one is configured,
    else the conversation's own words (``memories.procedural``); within ``MEMORY_MAX_CHARS``."""
    from memories.llm import llm_enabled, llm_procedure
    from memories.procedural import procedure_summary

    if scope.agent_id is None:
        raise ValidationFailed("memory_type procedural_memory needs an agent_id", field="agent_id")
    text = (llm_procedure(messages, prompt=options["prompt"]) if llm_enabled() else None) or procedure_summary(messages)
    if not text.strip():
        raise ValidationFailed("the messages have no text to make a procedural memory of", field="messages")
    if len(text) > settings.MEMORY_MAX_CHARS:
        raise ValidationFailed(
            f"the procedural memory of these messages is {len(text)} characters long; the limit is "
            f"{settings.MEMORY_MAX_CHARS} (MEMORY_MAX_CHARS): add the conversation in parts",
            field="messages",
        )
    return text


def _attachments_prepare(messages: list, common: dict) -> list[tuple[NewMemory, list[float], int]]:
    """One checked, embedded reference memory per image or document part of ``messages``, with the
    position of its message."""
    from memories.attachments import attachment_text

    items, positions = [], []
    for position, message in enumerate(messages):
        for attachment in message.attachments:
            metadata = {**(common["metadata"] or {}), "attachment": attachment.as_metadata()}
            text = attachment_text(attachment, message.role)
            items.append(
                NewMemory(text=text, role=message.role, actor_id=message.name, **{**common, "metadata": metadata})
            )
            positions.append(position)
    if not items:
        return []
    return [(item, vector, p) for (item, vector), p in zip(_memories_prepare(items), positions, strict=True)]


def _apply_attachments(*, project, plan: _AddPlan, now: datetime, first: int) -> list[_FactOutcome]:
    """Write the add's references, but not one the scope already holds (same text, current): that
    one is found again (``NONE``) and linked to this message. ``first``: the position of the first
    reference among the add's facts."""
    if not plan.attachments:
        return []
    scope = plan.common["scope"]
    held = {
        memory.hash: memory
        for memory in Memory.objects.for_project(project)
        .filter(**scope.as_filter(), hash__in={memory_hash(item.text) for item, _, _ in plan.attachments})
        .current()
        .defer("embedding")
    }
    outcomes, fresh, twice = [], [], []
    earlier: dict[str, _FactOutcome] = {}
    for order, (item, vector, position) in enumerate(plan.attachments):
        outcome = _FactOutcome(
            position=first + order,
            fact=item.text,
            extractor="attachment",
            sources=(position,),
            decision="ADD",
            reason={"rule": "attachment", "detail": "an image or document part: kept as a reference, not fetched"},
        )
        key = memory_hash(item.text)
        if key in held:
            outcome.decision, outcome.memory, outcome.target_id = "NONE", held[key], str(held[key].pk)
            outcome.reason = {"rule": "same-reference", "detail": "the scope holds this reference already"}
        elif key in earlier:
            outcome.decision = "NONE"
            outcome.reason = {"rule": "same-reference", "detail": "the same part is given twice in this add"}
            twice.append((outcome, earlier[key]))
        else:
            earlier[key] = outcome
            fresh.append(((item, vector), outcome))
        outcomes.append(outcome)
    memories = _memories_write(project=project, prepared=[pair for pair, _ in fresh], now=now) if fresh else []
    for memory, (_, outcome) in zip(memories, fresh, strict=True):
        outcome.memory, outcome.changed = memory, {memory.pk}
        outcome.entry = {"id": str(memory.id), "memory": memory.memory, "event": "ADD"}
    for outcome, first_seen in twice:
        outcome.memory, outcome.target_id = first_seen.memory, str(first_seen.memory.pk)
    return outcomes


def _sources_plan(parsed, *, scope: Scope, metadata: dict, observed_at, known: dict) -> list[_SourcePlan]:
    """Every message of an add with words in it (system messages too), embedded (``known``: the
    vectors already computed, by text)."""
    missing = list(dict.fromkeys(m.content for m in parsed if m.content.strip() and m.content not in known))
    known = {**known, **dict(zip(missing, embed_texts(missing) if missing else [], strict=True))}
    return [
        _SourcePlan(
            position=position,
            role=message.role,
            name=message.name,
            content=message.content,
            scope=scope,
            metadata=metadata,
            observed_at=observed_at,
            vector=known[message.content],
        )
        for position, message in enumerate(parsed)
        if message.content.strip()
    ]


def _apply_verbatim(*, project, plan: _AddPlan, now: datetime) -> list[_FactOutcome]:
    """Write a verbatim add. With an explicit observation time, a message already stored with the
    same text, scope, time and metadata (a retried add) is not stored again."""
    prepared = list(zip(plan.verbatim, plan.verbatim_positions, strict=True))
    if plan.retry_check and prepared:
        stored = {
            (tuple(row[f] for f in SCOPE_FIELDS), row["hash"], row["valid_from"], _canonical(row["metadata"]))
            for row in Memory.objects.for_project(project)
            .filter(
                hash__in={memory_hash(item.text) for (item, _), _ in prepared},
                valid_from__in={item.valid_from for (item, _), _ in prepared},
            )
            .values(*SCOPE_FIELDS, "hash", "valid_from", "metadata")
        }
        retried = {
            position
            for (item, _), position in prepared
            if (
                tuple(getattr(item.scope, f) for f in SCOPE_FIELDS),
                memory_hash(item.text),
                item.valid_from,
                _canonical(item.metadata),
            )
            in stored
        }
    else:
        retried = set()
    fresh = [(pair, position) for pair, position in prepared if position not in retried]
    memories = iter(_memories_write(project=project, prepared=[pair for pair, _ in fresh], now=now) if fresh else [])
    detail = "given as a memory: stored as given" if plan.messages == [] else "infer is false: stored as said"
    outcomes = []
    for order, ((item, _), position) in enumerate(prepared):
        outcome = _FactOutcome(
            position=order,
            fact=item.text,
            extractor="procedural" if item.memory_type == PROCEDURAL else "verbatim",
            sources=position if isinstance(position, tuple) else (position,),
            decision="ADD",
            reason={},
        )
        if position in retried:
            outcome.decision = "NONE"
            outcome.reason = {"rule": "retry", "detail": "the same message, scope and time is stored already"}
        else:
            memory = next(memories)
            outcome.reason = (
                {"rule": "procedural", "detail": "memory_type procedural_memory: the conversation as one procedure"}
                if item.memory_type == PROCEDURAL
                else {"rule": "verbatim", "detail": detail}
            )
            outcome.memory, outcome.changed = memory, {memory.pk}
            outcome.entry = {"id": str(memory.id), "memory": memory.memory, "event": "ADD"}
        outcomes.append(outcome)
    return outcomes


def _canonical(value: Any) -> str:
    import json

    return json.dumps(value or {}, sort_keys=True)


def _apply_inferred(*, project, plan: _AddPlan, now: datetime) -> list[_FactOutcome]:
    """Decide the planned facts against the scope's current memories, read under the lock, and write."""
    from memories.decisions import Candidate
    from memories.selectors import memory_neighbours

    if not plan.facts:
        return []
    scope = plan.common["scope"]
    neighbours = memory_neighbours(project=project, scope=scope, vectors=plan.vectors, k=DECISION_CANDIDATES, now=now)
    candidates = [
        [Candidate(id=str(m.pk), text=m.memory, score=m.score, immutable=m.immutable) for m in found]
        for found in neighbours
    ]
    decisions = plan.inference.decide(plan.facts, candidates)
    common = {**plan.common, "valid_from": plan.observed_at or now}
    outcomes = _apply_decisions(
        project=project,
        facts=plan.facts,
        vectors=plan.vectors,
        decisions=decisions,
        common=common,
        now=now,
        review_mode=bool((project.options or {}).get("review_mode")),
    )
    for outcome, fact, found in zip(outcomes, plan.facts, candidates, strict=True):
        kind = getattr(fact, "kind", "")
        outcome.extractor = plan.inference.name if plan.inference.name != "rules" else f"rules:{kind or 'other'}"
        outcome.candidates = [{"id": c.id, "text": c.text, "score": round(float(c.score), 4)} for c in found]
    return outcomes


def add_messages(messages: Any) -> list:
    """An add's ``messages`` parsed (``memories.extraction.Message``s) and within the add limits
    (``MAX_MESSAGES_PER_ADD``, ``MAX_MESSAGE_CHARS``), or :class:`ValidationFailed` naming the limit.
    Every add checks this first, before any extraction, embedding or decision."""
    from memories.extraction import normalize_messages

    count = len(messages) if isinstance(messages, (list, tuple)) else 1
    if count > settings.MAX_MESSAGES_PER_ADD:
        raise limit_failed(f"{count} messages in one add", limit="MAX_MESSAGES_PER_ADD", field="messages")
    try:
        parsed = normalize_messages(messages)
    except ValueError as exc:
        raise ValidationFailed(str(exc), field="messages") from None
    for index, message in enumerate(parsed):
        where = "messages" if count == 1 and not isinstance(messages, (list, tuple)) else f"messages[{index}]"
        if len(message.content) > settings.MAX_MESSAGE_CHARS:
            raise limit_failed(
                f"{where} is {len(message.content)} characters long",
                limit="MAX_MESSAGE_CHARS",
                field=f"{where}.content",
            )
        for text, part in ((message.content, "content"), (message.role, "role"), (message.name or "", "name")):
            if "\x00" in text or not is_encodable(text):
                raise ValidationFailed(
                    f"{where}.{part} must not contain NUL characters or lone surrogates", field=f"{where}.{part}"
                )
    return parsed


def _apply_decisions(
    *, project, facts, vectors, decisions, common: dict, now: datetime, review_mode: bool = False
) -> list[_FactOutcome]:
    """Write what the decisions say (inside the add's transaction); a memory is changed by one fact
    at most (a second fact aimed at a memory already updated or superseded in this add is added
    instead, and so is one aimed at a memory that no longer holds). One outcome per fact, in order.

    ``review_mode`` (the project option): an UPDATE or SUPERSEDE of a current fact is held, not
    written: the fact stays current, and the change waits in the review queue (``memories.review``);
    its result row says ``"pending": true``."""
    observed_at = common["valid_from"]
    outcomes: list[_FactOutcome] = []
    adds: list[tuple[_FactOutcome, NewMemory]] = []
    touched: set[str] = set()
    targets = {
        str(m.pk): m
        for m in Memory.objects.for_project(project)
        .filter(pk__in=[d.target_id for d in decisions if d.target_id])
        .current()
        .select_for_update()
        .defer("embedding")
    }
    for position, (fact, vector, decision) in enumerate(zip(facts, vectors, decisions, strict=True)):
        event, target = decision.event, decision.target_id
        same_vector = vector if decision.text == fact.text else None
        outcome = _FactOutcome(
            position=position,
            fact=fact.text,
            extractor="",
            sources=tuple(getattr(fact, "sources", ())),
            decision=event,
            reason=dict(decision.reason),
            target_id=target,
        )
        outcomes.append(outcome)
        if event == "NONE":
            outcome.memory = targets.get(target)
            continue
        if event in ("UPDATE", "SUPERSEDE") and (target is None or target in touched or target not in targets):
            why = (
                "another fact of this add changed it already"
                if target in touched
                else "it no longer holds (changed or deleted before this add was applied)"
            )
            outcome.reason.update(decided=event, override=f"added instead of {event}: {why}")
            event = outcome.decision = "ADD"
        if review_mode and (event == "UPDATE" or (event == "SUPERSEDE" and observed_at >= targets[target].valid_from)):
            touched.add(target)
            current = targets[target]
            outcome.memory = current
            outcome.held = {"text": decision.text, "observed_at": observed_at.isoformat()}
            outcome.entry = {
                "id": str(current.id),
                "memory": decision.text,
                "event": event,
                "pending": True,
                "review_id": str(outcome.trace_id),
                "previous_memory": current.memory,
            }
            continue
        if event == "UPDATE":
            touched.add(target)
            memory = memory_update(
                project=project, memory_id=target, text=decision.text, embedding=same_vector, now=now
            )
            entry = {"id": str(memory.id), "memory": memory.memory, "event": "UPDATE"}
            outcome.entry, outcome.memory, outcome.changed = (
                {**entry, "previous_memory": memory.previous_memory},
                memory,
                {memory.pk},
            )
        elif event == "SUPERSEDE" and observed_at < targets[target].valid_from:
            touched.add(target)
            placed = _supersede_in_past(
                project=project,
                newer=targets[target],
                item=NewMemory(text=decision.text, role=fact.role, embedding=same_vector, **common),
                now=now,
            )
            outcome.reason["decided"] = "SUPERSEDE"
            if placed is None:
                outcome.decision = "NONE"
                outcome.reason["override"] = "observed before the current fact, and already known for that time"
                continue
            entry, memory = placed
            outcome.decision = "ADD"
            outcome.reason["override"] = (
                "observed before the fact it contradicts: stored as that fact's history, superseded by it"
            )
            outcome.entry, outcome.memory = entry, memory
            outcome.changed = {memory.pk, targets[target].pk} | (
                {clean_uuid(entry["supersedes"])} if "supersedes" in entry else set()
            )
        elif event == "SUPERSEDE":
            touched.add(target)
            memory = memory_supersede(
                project=project,
                memory_id=target,
                text=decision.text,
                observed_at=observed_at,
                embedding=same_vector,
                now=now,
            )
            entry = {"id": str(memory.id), "memory": memory.memory, "event": "SUPERSEDE"}
            entry.update(previous_memory=memory.superseded.memory, supersedes=str(memory.superseded.id))
            outcome.entry, outcome.memory, outcome.changed = entry, memory, {memory.pk, memory.superseded.pk}
        else:
            adds.append((outcome, NewMemory(text=decision.text, role=fact.role, embedding=same_vector, **common)))
    if adds:
        created = memories_add(project=project, items=[item for _, item in adds], now=now)
        for (outcome, _), memory in zip(adds, created, strict=True):
            outcome.entry = {"id": str(memory.id), "memory": memory.memory, "event": "ADD"}
            outcome.memory, outcome.changed = memory, {memory.pk}
    return outcomes


def _supersede_in_past(*, project, newer: Memory, item: NewMemory, now: datetime) -> tuple[dict, Memory] | None:
    """Place an observation older than ``newer`` (the current fact it contradicts) in ``newer``'s
    history, at its own time: it holds from its observation time until the next fact of the chain
    (``newer`` or one of its predecessors) began, and that fact supersedes it. A predecessor that
    held at the observation time is closed then and superseded by it (the link that skipped over
    the observation is retracted). The same text already holding then (a retry) changes nothing:
    None."""
    from graph.models import SUPERSEDES, Relationship
    from graph.services import relationship_create

    observed_at = item.valid_from
    later, node, link = None, newer, None  # ``later`` supersedes ``node`` through ``link``
    for _ in range(CHAIN_MAX):
        if node.valid_from <= observed_at:
            break
        edge = (
            Relationship.objects.for_project(project)
            .not_retracted()
            .filter(source=node, relation=SUPERSEDES)
            .select_related("target")
            .order_by("-target__valid_from", "-created_at")
            .first()
        )
        if edge is None:
            break
        later, node, link = node, edge.target, edge
    if node.memory == item.text:
        return None  # known already for that time
    if node.valid_from > observed_at:  # before the whole chain
        older, after, start, until = None, node, observed_at, node.valid_from
    else:  # ``node`` held then: it ends where the observation starts
        older, after = node, later
        start = _closing_time(node, observed_at)
        until = node.valid_to if node.valid_to is not None else later.valid_from
    if start >= until:
        return None  # no room between two facts observed at the same instant
    prepared = _memories_prepare([replace(item, valid_from=start, valid_to=until)])
    [memory] = _memories_write(project=project, prepared=prepared, now=now)
    closed = [(memory, after)]
    if older is not None:
        older = _locked(project, older.pk, None, memory_id=older.pk, embedding=False)
        older.valid_to = start
        older.updated_at = now
        older.save(update_fields=["valid_to", "updated_at"])
        closed.append((older, memory))
        # ``after`` superseded ``older`` directly until now; the observation comes between them.
        link.invalidated_at = now
        link.save(update_fields=["invalidated_at"])
        relationship_create(
            project=project,
            source_id=memory.pk,
            target_id=older.pk,
            relation=SUPERSEDES,
            origin="inference",
            valid_from=start,
            now=now,
        )
    for old, new in closed:
        _history(
            old,
            event=MemoryHistory.Event.SUPERSEDE,
            now=now,
            old_memory=old.memory,
            new_memory=new.memory,
            old_metadata=old.metadata,
            new_metadata=new.metadata,
        ).save()
    relationship_create(
        project=project,
        source_id=after.pk,
        target_id=memory.pk,
        relation=SUPERSEDES,
        origin="inference",
        valid_from=until,
        now=now,
    )
    entry = {"id": str(memory.id), "memory": memory.memory, "event": "ADD", "superseded_by": str(after.id)}
    if older is not None:
        entry["supersedes"] = str(older.id)
    return entry, memory


# --- Queued adds (async_mode) and the periodic maintenance job --------------------------------
#
# ``add_event_enqueue`` answers an add at once: it checks the request, then writes a PENDING
# AddEvent and the job that will run it (django-tasks' database backend) in one transaction. A
# worker runs the job through ``add_event_run``: the event goes RUNNING (committed, so it can be
# seen), then the ingestion and the SUCCEEDED update commit together while the event row is
# locked. A worker that dies mid-job leaves nothing behind but a RUNNING job whose event no one
# holds; ``add_events_recover`` (the periodic job) queues it again. A run that finds its event
# already finished, or taken over by a newer run, does nothing, so a job is applied exactly once.


class WorkerLost(Exception):
    """Recorded on a job whose worker stopped before finishing it (the job is queued again)."""


def _job_encode(ingest: dict[str, Any]) -> dict[str, Any]:
    """``memories_ingest`` keyword arguments -> JSON for the job (values typed at the top level only,
    so a caller's metadata is never reinterpreted)."""
    encoded = {}
    for name, value in ingest.items():
        if isinstance(value, Scope):
            encoded[name] = {"type": "scope", "value": value.as_filter()}
        elif isinstance(value, datetime):
            encoded[name] = {"type": "datetime", "value": value.isoformat()}
        elif isinstance(value, date):
            encoded[name] = {"type": "date", "value": value.isoformat()}
        else:
            encoded[name] = {"type": "json", "value": value}
    return encoded


def _job_decode(encoded: dict[str, Any]) -> dict[str, Any]:
    decoders = {
        "scope": lambda value: Scope(**value),
        "datetime": datetime.fromisoformat,
        "date": date.fromisoformat,
        "json": lambda value: value,
    }
    return {name: decoders[item["type"]](item["value"]) for name, item in encoded.items()}


def add_event_enqueue(*, project, payload: dict, now: datetime | None = None, **ingest) -> AddEvent:
    """:func:`add_ingest`, queued: the same arguments, checked now (bad input is refused before
    anything is written), run later by a worker. Returns the PENDING event.

    The observation time defaults to now, the moment of the request, not of the run.
    """
    from memories.inference import get_inference
    from memories.tasks import add_event_run_task

    scope = clean_scope(ingest.get("scope"), required=True, write=True)
    parsed = add_messages(ingest.get("messages"))
    for name, clean in (("metadata", clean_metadata), ("categories", clean_categories)):
        if ingest.get(name) is not None:
            clean(ingest[name])
    if clean_memory_type(ingest.get("memory_type")) == PROCEDURAL and scope.agent_id is None:
        raise ValidationFailed("memory_type procedural_memory needs an agent_id", field="agent_id")
    now = now or timezone.now()
    inference = get_inference()
    if ingest.get("infer", True) and inference.extracts_cheaply:
        # The built-in extractor is cheap next to embedding and deciding: count the facts now, so an
        # add over MAX_FACTS_PER_ADD is refused here rather than failing in the worker.
        inference.extract(parsed, observed_at=ingest.get("observed_at") or now, agent_scoped=scope.agent_id is not None)
    ingest = {**ingest, "scope": scope, "observed_at": ingest.get("observed_at") or now}
    job = _job_encode(ingest)
    with transaction.atomic():
        event = AddEvent.objects.create(
            project=project,
            user_id=scope.user_id,
            status=AddEvent.Status.PENDING,
            payload=payload,
            created_at=now,
            updated_at=now,
        )
        add_event_run_task.enqueue(event_id=str(event.id), ingest=job)
    return event


def add_event_run(*, event_id: str, ingest: dict[str, Any]) -> str:
    """Run one queued add (the worker's job) through :func:`add_ingest` and return the event's final
    status.

    The event's row stays locked for the whole run (a live worker's sign for ``add_events_recover``);
    the add itself takes its scope's lock only to decide and write, as a synchronous add does.
    Safe to run again: a finished event is left alone, and so is one a newer run has claimed. An
    :class:`~mem0g_site.exceptions.ApplicationError` (bad input, LLM unavailable) fails the event
    with its message; any other exception fails it too and is raised again for the job's record.
    """
    from mem0g_site.exceptions import ApplicationError

    finished = (AddEvent.Status.SUCCEEDED, AddEvent.Status.FAILED)
    with transaction.atomic():
        event = AddEvent.objects.select_for_update().filter(pk=event_id).first()
        if event is None:
            return "MISSING"  # its project was deleted meanwhile
        if event.status in finished:
            return event.status
        claimed = timezone.now()
        event.status = AddEvent.Status.RUNNING
        event.updated_at = claimed
        event.save(update_fields=["status", "updated_at"])

    def owned():
        """The event, locked, if this run still owns it."""
        event = AddEvent.objects.select_for_update().select_related("project").filter(pk=event_id).first()
        if event is None or event.status != AddEvent.Status.RUNNING or event.updated_at != claimed:
            return None
        return event

    started = time.perf_counter()
    try:
        with transaction.atomic():
            event = owned()
            if event is None:
                return "SUPERSEDED"
            add = _job_decode(ingest)
            # Jobs queued before enable_graph travelled with them: the request's flag (checked before
            # it was queued; categories in MEM0_USE_GRAPH_FOR_CATEGORIES count too).
            add.setdefault("enable_graph", str(event.payload.get("enable_graph")).lower() in ("true", "1", "yes"))
            add_ingest(project=event.project, event=event, **add)
        return event.status
    except ApplicationError as exc:
        error, unexpected = exc.message, None
    except Exception as exc:
        error, unexpected = f"{type(exc).__name__}: {exc}", exc
    with transaction.atomic():
        event = owned()
        if event is not None:
            event.status = AddEvent.Status.FAILED
            event.error = error
            event.latency_ms = round((time.perf_counter() - started) * 1000, 1)
            event.updated_at = timezone.now()
            event.save(update_fields=["status", "error", "latency_ms", "updated_at"])
    if unexpected is not None:
        raise unexpected
    return AddEvent.Status.FAILED


def add_events_recover(*, now: datetime | None = None, stale_after: timedelta | None = None) -> int:
    """Queue again the add jobs of dead workers; returns how many were queued.

    The rule: a job RUNNING for longer than ``stale_after`` (``TASK_STALE_SECONDS``) whose add event
    no transaction holds (a live worker keeps its event's row locked while it ingests; a dead
    worker's lock went with its connection) is marked failed (:class:`WorkerLost`), and its event,
    unless finished, is set back to PENDING with a new job, in one transaction. An event whose job
    was lost ``TASK_MAX_ATTEMPTS`` times fails instead. Stale jobs of other tasks are only marked.
    """
    from django_tasks_db.models import DBTaskResult

    from memories.tasks import add_event_run_task

    now = now or timezone.now()
    stale_after = stale_after if stale_after is not None else timedelta(seconds=settings.TASK_STALE_SECONDS)
    stale = DBTaskResult.objects.running().filter(started_at__lt=now - stale_after).values_list("pk", flat=True)
    requeued = 0
    for pk in list(stale):
        with transaction.atomic():
            job = DBTaskResult.objects.select_for_update(skip_locked=True).filter(pk=pk).running().first()
            if job is None:
                continue
            if job.task_path != add_event_run_task.module_path:
                job.set_failed(WorkerLost(f"worker {job.worker_ids[-1:]} stopped during the job"))
                continue
            kwargs = job.args_kwargs["kwargs"]
            events = AddEvent.objects.filter(pk=kwargs["event_id"])
            event = events.select_for_update(skip_locked=True).first()
            if event is None and events.exists():
                continue  # a live worker holds it
            job.set_failed(WorkerLost(f"worker {job.worker_ids[-1:]} stopped during the job"))
            if event is None or event.status in (AddEvent.Status.SUCCEEDED, AddEvent.Status.FAILED):
                continue
            attempts = DBTaskResult.objects.filter(
                task_path=job.task_path, args_kwargs__kwargs__event_id=kwargs["event_id"]
            ).count()
            event.updated_at = now
            if attempts >= settings.TASK_MAX_ATTEMPTS:
                event.status = AddEvent.Status.FAILED
                event.error = f"the worker running this add stopped {attempts} times; giving up"
                event.save(update_fields=["status", "error", "updated_at"])
                continue
            event.status = AddEvent.Status.PENDING
            event.save(update_fields=["status", "updated_at"])
            add_event_run_task.enqueue(**kwargs)
            requeued += 1
    return requeued


def memories_purge_expired(*, now: datetime | None = None) -> int:
    """Hard-delete the short-term memories (``metadata.memory_lifespan = "short_term"``) whose
    expiration date has passed, in every project, with a DELETE history row each; returns how many.

    Other expired memories are kept: they are hidden from reads but can still be asked for
    (``show_expired``), as Mem0 keeps them.
    """
    now = now or timezone.now()
    queryset = Memory.objects.filter(
        expiration_date__lte=now,
        # metadata @> '{"memory_lifespan": "short_term"}': the metadata GIN index serves it.
        metadata__contains={"memory_lifespan": "short_term"},
    )
    return _delete_with_history(queryset, now=now)


def maintenance_schedule(*, delay: timedelta = timedelta(0), now: datetime | None = None) -> bool:
    """Make sure the periodic maintenance job is queued (to run after ``delay``); returns whether
    one was queued. Serialised by an advisory lock, so workers starting together queue one job."""
    from django.db import connection
    from django_tasks_db.models import DBTaskResult

    from memories.tasks import maintenance_task

    now = now or timezone.now()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext('mem0g.maintenance_schedule'))")
        if DBTaskResult.objects.filter(task_path=maintenance_task.module_path, status="READY").exists():
            return False
        maintenance_task.using(run_after=now + delay).enqueue()
    return True


def maintenance_run(*, now: datetime | None = None) -> dict[str, int]:
    """The periodic job: queue the next run first (so a worker dying here does not end the chain),
    then re-queue the adds of dead workers and purge expired short-term memories."""
    now = now or timezone.now()
    maintenance_schedule(delay=timedelta(seconds=settings.TASK_MAINTENANCE_INTERVAL_SECONDS), now=now)
    return {"requeued": add_events_recover(now=now), "purged": memories_purge_expired(now=now)}


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
    from graph.models import SUPERSEDES, Relationship

    pk = clean_uuid(memory_id)
    if pk is None:
        raise MemoryNotFound(memory_id)
    actor_id = clean_id(actor_id, field_name="actor_id")
    with transaction.atomic():
        memory = _locked(project, pk, within, memory_id=memory_id, embedding=False)
        now = now or timezone.now()
        successor = (
            Relationship.objects.not_retracted()
            .filter(
                target_id=pk, relation=SUPERSEDES, source__valid_to__isnull=True, source__invalidated_at__isnull=True
            )
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
        _history(
            memory,
            event=MemoryHistory.Event.UPDATE,
            now=now,
            old_memory=memory.memory,
            new_memory=memory.memory,
            old_metadata=memory.metadata,
            new_metadata=memory.metadata,
            actor_id=actor_id,
        ).save()
    return memory


def memories_reembed(*, project, memory_ids: Sequence[Any]) -> int:
    """Embed these memories' texts again with the current model (one batch), e.g. after a model change.
    The texts do not change, so no history rows; returns how many were embedded."""
    pks = [pk for pk in (clean_uuid(memory_id) for memory_id in memory_ids) if pk is not None]
    with transaction.atomic():
        memories = list(Memory.objects.for_project(project).filter(pk__in=pks).select_for_update().only("id", "memory"))
        if not memories:
            return 0
        vectors = embed_texts([memory.memory for memory in memories])
        model_name = get_embedder().model_name
        for memory, vector in zip(memories, vectors, strict=True):
            memory.embedding, memory.embedding_model = vector, model_name
        Memory.objects.bulk_update(memories, ["embedding", "embedding_model"], batch_size=500)
    return len(memories)
