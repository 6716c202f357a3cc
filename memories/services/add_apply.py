"""The add pipeline's second phase, inside the add's transaction and under its scope's locks: read
the candidates, decide, and write each fact (added, updated, superseded, or placed in the past).
"""

import json
from dataclasses import replace
from datetime import datetime
from typing import Any

from graph.models import SUPERSEDES, Relationship
from graph.services import relationship_create
from memories.decisions import Candidate
from memories.inputs import NewMemory, clean_uuid
from memories.models import PROCEDURAL, SCOPE_FIELDS, Memory, memory_hash
from memories.search import memory_neighbours
from memories.services.add_plan import AddPlan, FactOutcome
from memories.services.records import (
    closing_time,
    history_superseded,
    locked,
    memories_prepare,
    memories_write,
)
from memories.services.writes import memory_supersede, memory_update

# How many of the scope's most similar memories each new fact is compared with.
DECISION_CANDIDATES = 8
# How far back a supersedes chain is followed to place an older observation.
CHAIN_MAX = 10_000


def apply_attachments(*, project, plan: AddPlan, now: datetime, first: int) -> list[FactOutcome]:
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
    earlier: dict[str, FactOutcome] = {}
    for order, (item, vector, position) in enumerate(plan.attachments):
        outcome = FactOutcome(
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
    _write_added(project=project, fresh=fresh, now=now)
    for outcome, first_seen in twice:
        outcome.memory, outcome.target_id = first_seen.memory, str(first_seen.memory.pk)
    return outcomes


def apply_verbatim(*, project, plan: AddPlan, now: datetime) -> list[FactOutcome]:
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
    detail = "given as a memory: stored as given" if plan.messages == [] else "infer is false: stored as said"
    outcomes, fresh = [], []
    for order, ((item, vector), position) in enumerate(prepared):
        outcome = FactOutcome(
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
            outcome.reason = (
                {"rule": "procedural", "detail": "memory_type procedural_memory: the conversation as one procedure"}
                if item.memory_type == PROCEDURAL
                else {"rule": "verbatim", "detail": detail}
            )
            fresh.append(((item, vector), outcome))
        outcomes.append(outcome)
    _write_added(project=project, fresh=fresh, now=now)
    return outcomes


def _write_added(*, project, fresh: list[tuple[tuple[NewMemory, list[float]], FactOutcome]], now: datetime) -> None:
    """Write the new memories of ``fresh`` outcomes in one batch, their ADD history rows pointing to
    the outcomes' traces from the start, and fill in each outcome's memory and result row."""
    if not fresh:
        return
    memories = memories_write(
        project=project,
        prepared=[pair for pair, _ in fresh],
        now=now,
        traces=[outcome.trace_id for _, outcome in fresh],
    )
    for memory, (_, outcome) in zip(memories, fresh, strict=True):
        outcome.memory = memory
        outcome.entry = {"id": str(memory.id), "memory": memory.memory, "event": "ADD"}


def _canonical(value: Any) -> str:

    return json.dumps(value or {}, sort_keys=True)


def apply_inferred(*, project, plan: AddPlan, now: datetime) -> list[FactOutcome]:
    """Decide the planned facts against the scope's current memories, read under the lock, and write."""

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


def _apply_decisions(
    *, project, facts, vectors, decisions, common: dict, now: datetime, review_mode: bool = False
) -> list[FactOutcome]:
    """Write what the decisions say (inside the add's transaction); a memory is changed by one fact
    at most (a second fact aimed at a memory already updated or superseded in this add is added
    instead, and so is one aimed at a memory that no longer holds). One outcome per fact, in order.

    ``review_mode`` (the project option): an UPDATE or SUPERSEDE of a current fact is held, not
    written: the fact stays current, and the change waits in the review queue (``memories.review``);
    its result row says ``"pending": true``."""
    observed_at = common["valid_from"]
    outcomes: list[FactOutcome] = []
    adds: list[tuple[FactOutcome, NewMemory]] = []
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
        outcome = FactOutcome(
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
        prepared = memories_prepare([item for _, item in adds])
        _write_added(
            project=project, fresh=[(pair, outcome) for pair, (outcome, _) in zip(prepared, adds, strict=True)], now=now
        )
    return outcomes


def _supersede_in_past(*, project, newer: Memory, item: NewMemory, now: datetime) -> tuple[dict, Memory] | None:
    """Place an observation older than ``newer`` (the current fact it contradicts) in ``newer``'s
    history, at its own time: it holds from its observation time until the next fact of the chain
    (``newer`` or one of its predecessors) began, and that fact supersedes it. A predecessor that
    held at the observation time is closed then and superseded by it (the link that skipped over
    the observation is retracted). The same text already holding then (a retry) changes nothing:
    None."""

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
        start = closing_time(node, observed_at)
        until = node.valid_to if node.valid_to is not None else later.valid_from
    if start >= until:
        return None  # no room between two facts observed at the same instant
    prepared = memories_prepare([replace(item, valid_from=start, valid_to=until)])
    [memory] = memories_write(project=project, prepared=prepared, now=now)
    closed = [(memory, after)]
    if older is not None:
        older = locked(project, older.pk, None, memory_id=older.pk, embedding=False)
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
        history_superseded(old=old, new=new, now=now)
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
