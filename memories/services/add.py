"""The add pipeline's entry: ``add_ingest`` plans an add (``add_plan``), then applies it under its
scope's locks (``add_apply``) and records its event, sources and decision traces.
"""

import hashlib
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import numpy as np
from django.db.models import Case, UUIDField, When
from django.utils import timezone

from graph.services import graph_wanted, relations_record_for_events
from mem0g_site.bulk_insert import insert_rows
from mem0g_site.deferred import deferred_transaction, execute_later
from memories.inputs import NewMemory, Scope, clean_uuid
from memories.models import (
    SCOPE_FIELDS,
    AddEvent,
    DecisionTrace,
    Memory,
    MemoryHistory,
    MemorySource,
    MemorySourceLink,
    is_inferred_change,
)
from memories.services.add_apply import apply_attachments, apply_inferred, apply_verbatim
from memories.services.add_plan import AddPlan, FactOutcome, plan_add
from memories.services.records import plain_vector, sql_vector

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
# it contradicts goes into that fact's history at its own time (see ``add_apply._supersede_in_past``), and the
# same observation added again (same text, scope and time) changes nothing.


def scope_lock_key(project_id: Any, scope: Scope) -> int:
    """The advisory-lock key of one scope of a project: a stable signed 64-bit hash of the project id
    and the four scope ids (a missing id differs from every id)."""
    parts = [str(project_id), *("\x00" if getattr(scope, f) is None else "=" + getattr(scope, f) for f in SCOPE_FIELDS)]
    digest = hashlib.blake2b("\x1f".join(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def scopes_lock(project, scopes: Iterable[Scope]) -> None:
    """Hold, until the transaction ends, one lock per entity id the scopes name (``user_id=alice``,
    ``agent_id=bot``, ...), so that adds whose scopes overlap (``{alice}`` and ``{alice, bot}``, whose
    candidates overlap) are applied one at a time too; adds sharing no id do not wait. Taken in key
    order: no deadlock between adds that touch several ids."""

    keys = sorted(
        {
            scope_lock_key(project.pk, Scope(**{name: getattr(scope, name)}))
            for scope in scopes
            for name in SCOPE_FIELDS
            if getattr(scope, name) is not None
        }
        or {scope_lock_key(project.pk, scope) for scope in scopes}
    )
    # One statement: the function scan takes the locks in the array's order. Inside an add it goes
    # out with the add's rows (or before its first read), in one round trip.
    execute_later("SELECT pg_advisory_xact_lock(key) FROM unnest(%s::bigint[]) AS held(key)", [keys])


@dataclass
class AddOutcome:
    """What an add did: its event (``results`` are the per-memory events), Mem0's ``relations`` when
    graph processing was asked for (else None), and the memories written, in the order of
    ``results``."""

    event: AddEvent
    results: list[dict]
    relations: dict | None
    memories: list[Memory] = field(default_factory=list)


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
    plan = plan_add(
        project=project,
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
    # The add's INSERTs go out together (mem0g_site/deferred.py): one round trip for its rows, and
    # for the whole transaction when they are all it sends (a verbatim add).
    with deferred_transaction():
        scopes_lock(project, plan.scopes)
        now = now or timezone.now()
        if plan.verbatim is not None:
            outcomes = apply_verbatim(project=project, plan=plan, now=now)
        else:
            outcomes = apply_inferred(project=project, plan=plan, now=now)
        outcomes += apply_attachments(project=project, plan=plan, now=now, first=len(outcomes))
        written = [(o.entry, o.memory) for o in outcomes if o.entry is not None]
        results = [entry for entry, _ in written]
        # Entity relations (Mem0's graph memory) of the memories that hold now; decided from the rows in
        # hand when none of them wants graph processing (the common case: no read-back).
        if enable_graph or any(graph_wanted(memory=memory, enable_graph=False) for _, memory in written):
            relations = relations_record_for_events(project=project, events=results, enable_graph=enable_graph, now=now)
        else:
            relations = None
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
        # A verbatim add's vectors were made while its rows were built (``memories_prepare(later=True)``):
        # waited for here, before anything is sent, so that a model error fails the add whole.
        for _, vector in plan.verbatim or ():
            plain_vector(vector)
    memories = [memory for _, memory in written]
    for memory in memories:
        memory.embedding = plain_vector(memory.embedding)
    return AddOutcome(event=event, results=results, relations=relations, memories=memories)


def _provenance_write(*, project, plan: AddPlan, outcomes: list[FactOutcome], event: AddEvent, now: datetime):
    """Keep an add's messages as sources, link each fact written (or found again) to the messages it
    came from, and record one decision trace per fact, linked from the history rows it wrote.
    Inside the add's transaction. A message already kept with the same scope, time, speaker and
    words (a retried add with an explicit observation time) is linked again, not kept twice."""

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
            embedding=sql_vector(source.vector),
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
    holders = _vectors_share(outcomes, {row.position: row for row in fresh})
    insert_rows(
        MemorySource,
        fresh,
        computed={"vector_memory_id": ENTRY_HOLDER_SQL},
        extra={"holder_of": ("uuid", [holders.get(row.position) for row in fresh])},
    )
    for row in fresh:
        if row.position in holders:
            row.__dict__.pop("vector_memory_id")  # found by the INSERT (see _vectors_share): deferred
    links = {
        (outcome.memory.pk, by_position[position].pk)
        for outcome in outcomes
        if outcome.memory is not None and outcome.held is None  # a held change links when accepted
        for position in outcome.sources
        if position in by_position
    }
    insert_rows(
        MemorySourceLink,
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
    insert_rows(DecisionTrace, traces)
    changed = {pk: trace.pk for trace, outcome in zip(traces, outcomes, strict=True) for pk in outcome.changed}
    if changed:
        # The history rows this add wrote (at ``now``, under the scope's lock) point to their trace.
        MemoryHistory.objects.filter(
            project=project, memory_id__in=list(changed), created_at=now, trace__isnull=True
        ).update(
            trace_id=Case(*(When(memory_id=pk, then=trace) for pk, trace in changed.items()), output_field=UUIDField())
        )


# A new message's ``vector_memory`` when it has the very vector of a memory the same add writes
# (``u."holder_of"``): the memory holding that vector's HNSW entry (its canonical, or itself), read
# by the message's INSERT, queued after the memory's own (``mem0g_site.deferred``: the memory's
# canonical is found by its INSERT, which this follows in the same round trip). NULL otherwise.
ENTRY_HOLDER_SQL = '(SELECT coalesce(h.vector_memory_id, h.id) FROM memories_memory h WHERE h.id = u."holder_of")'


def _vectors_share(outcomes: list[FactOutcome], fresh: dict[int, MemorySource]) -> dict[int, Any]:
    """Point each new message stored verbatim at the memory this add wrote from it, when the two
    vectors are the same (``MemorySource.vector_memory``), or rather at the memory holding that
    vector's HNSW entry (the memory's canonical, ``Memory.vector_memory``, when it names one): the
    message is then found through that entry and builds none of its own. Not for facts inferred or
    summarised from the messages, nor for a message kept already (a retry). Answers the memory of
    each such message, by position: its INSERT reads the holder (``ENTRY_HOLDER_SQL``)."""
    holders = {}
    for outcome in outcomes:
        if outcome.extractor != "verbatim" or outcome.entry is None or len(outcome.sources) != 1:
            continue
        source = fresh.get(outcome.sources[0])
        if source is not None and (
            source.embedding is outcome.memory.embedding  # one vector, maybe still being made
            or np.array_equal(plain_vector(source.embedding), plain_vector(outcome.memory.embedding))
        ):
            holders[source.position] = outcome.memory.pk
    return holders


def _scope_of(outcome: FactOutcome, plan: AddPlan) -> Scope:
    """A verbatim item's scope (items of one add may name different scopes)."""
    [position] = outcome.sources
    return next(source.scope for source in plan.sources if source.position == position)


def memories_ingest(*, project, **add) -> list[dict]:
    """:func:`add_ingest`, answering only its per-memory events (``[{"id", "memory", "event", ...}]``)."""
    return add_ingest(project=project, **add).results
