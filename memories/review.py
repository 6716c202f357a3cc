"""The review queue's actions: accept, reject or edit an inferred change (a :class:`DecisionTrace`
whose ``review_state`` is ``pending``). Used by the web UI and the admin alike.

An inferred change is an ADD, UPDATE or SUPERSEDE that the add pipeline decided about an extracted
fact (``memories.models.is_inferred_change``). It has either taken effect already, or, when the
project's ``review_mode`` is on and it would change a current fact (UPDATE, SUPERSEDE), it is
*held* (``DecisionTrace.held``): the old fact stays current and nothing is written until it is
accepted.

- **accept**: a held change is applied now (the fact is updated or superseded, from the time it was
  observed); a change already applied is left as it is. The trace is marked accepted.
- **reject**: the change is undone. ADD: the inferred memory is retracted (``invalidated_at``: kept
  for the record, no longer served; a DELETE history row). UPDATE: the memory takes back its
  previous text (an UPDATE history row). SUPERSEDE: the superseded memory holds again (``valid_to``
  cleared, an UPDATE history row), the inferred one is retracted (a DELETE row) and the
  ``supersedes`` link retracted. A held change is dropped (nothing was written).
- **edit**: the inferred text is replaced by the reviewer's (held: the change is applied with it);
  the trace is marked accepted.

Each action runs in one transaction holding the same scope locks as the add pipeline, so no add to
that scope interleaves; every history row it writes names the reviewer (``actor_id``) and points at
the trace. A change whose memories changed again after it (a later add, an edit) is not undone
(409): undo or edit the later change first.
"""

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from graph.models import SUPERSEDES, Relationship
from graph.services import relations_record
from mem0g_site.exceptions import Conflict, NotFound, ValidationFailed
from memories.inputs import Scope, clean_id, clean_text, clean_uuid
from memories.models import SCOPE_FIELDS, DecisionTrace, Memory, MemoryHistory, MemorySource, MemorySourceLink
from memories.services.add import scopes_lock
from memories.services.records import history_deleted, history_updated, locked
from memories.services.writes import memory_supersede, memory_update

ACTIONS = ("accept", "reject", "edit")


class ReviewNotFound(NotFound):
    code = "REVIEW_NOT_FOUND"

    def __init__(self, trace_id: object = None) -> None:
        super().__init__("Review item not found", details={"review_id": str(trace_id)} if trace_id else None)


def _actor(actor_id: Any) -> str:
    actor = clean_id(actor_id, field_name="actor_id")
    if not actor:
        raise ValidationFailed("a review needs the reviewer (actor_id)", field="actor_id")
    return actor


def _pending(project, trace_id: Any) -> DecisionTrace:
    """The pending trace ``trace_id`` of ``project``, locked, with its scope's add locks held (call
    inside a transaction)."""
    pk = clean_uuid(trace_id)
    found = None if pk is None else DecisionTrace.objects.filter(project=project, pk=pk).only(*SCOPE_FIELDS).first()
    if found is None:
        raise ReviewNotFound(trace_id)
    scopes_lock(project, [Scope(**{name: getattr(found, name) for name in SCOPE_FIELDS})])
    trace = DecisionTrace.objects.select_for_update().filter(project=project, pk=pk).first()
    if trace is None:  # deleted with its memory while we waited for the lock
        raise ReviewNotFound(trace_id)
    if trace.review_state != DecisionTrace.ReviewState.PENDING:
        if trace.review_state == DecisionTrace.ReviewState.NONE:
            raise Conflict("This decision changed nothing by inference; there is nothing to review")
        raise Conflict(
            f"This change was {trace.review_state} already, by {trace.reviewed_by}",
            details={"review_state": trace.review_state, "reviewed_by": trace.reviewed_by},
        )
    return trace


def _unchanged_since(project, trace: DecisionTrace, memory_ids) -> None:
    """Refuse (409) when one of these memories changed after the decision (a later add, an edit)."""
    later = (
        MemoryHistory.objects.filter(project=project, memory_id__in=list(memory_ids), created_at__gt=trace.created_at)
        .order_by("created_at")
        .first()
    )
    if later is not None:
        raise Conflict(
            f"The memory changed after this decision ({later.event} on {later.created_at:%Y-%m-%d %H:%M}"
            f"{' by ' + later.actor_id if later.actor_id else ''}); undo or edit that change first",
            details={"memory_id": str(later.memory_id), "event": later.event},
        )


def _sign(project, trace: DecisionTrace, memory_ids, *, now: datetime, actor_id: str) -> None:
    """The history rows this action wrote (at ``now``) name the reviewer and point at the trace."""
    MemoryHistory.objects.filter(project=project, memory_id__in=list(memory_ids), created_at=now).update(
        actor_id=actor_id, trace=trace
    )


def _mark(trace: DecisionTrace, state: str, *, actor_id: str, now: datetime) -> DecisionTrace:
    trace.review_state = state
    trace.reviewed_by = actor_id
    trace.reviewed_at = now
    trace.held = None
    trace.save(update_fields=["review_state", "reviewed_by", "reviewed_at", "held", "memory"])
    return trace


def _retract(memory: Memory, trace: DecisionTrace, *, now: datetime, actor_id: str) -> None:
    memory.invalidated_at = now
    memory.updated_at = now
    memory.save(update_fields=["invalidated_at", "updated_at"])
    history_deleted(memories=[memory], now=now, actor_id=actor_id, trace=trace)


def _apply_held(project, trace: DecisionTrace, *, text: str, actor_id: str, now: datetime) -> None:
    """Write a held UPDATE or SUPERSEDE now, with ``text``."""
    target = locked(project, trace.memory_id, None, memory_id=trace.memory_id, embedding=False)
    if not target.is_current:
        raise Conflict(
            "The fact this change would replace no longer holds (it changed since); reject this change",
            details={"memory_id": str(target.pk)},
        )
    if trace.decision == DecisionTrace.Decision.UPDATE:
        _unchanged_since(project, trace, [target.pk])  # the proposed text was merged from the text then
        memory = memory_update(project=project, memory_id=target.pk, text=text, actor_id=actor_id, now=now)
        _sign(project, trace, [memory.pk], now=now, actor_id=actor_id)
    else:
        observed_at = datetime.fromisoformat(trace.held["observed_at"])
        memory = memory_supersede(project=project, memory_id=target.pk, text=text, observed_at=observed_at, now=now)
        _sign(project, trace, [memory.pk, target.pk], now=now, actor_id=actor_id)
        # The new fact came from the decision's messages (those still kept).
        sources = MemorySource.objects.filter(project=project, pk__in=trace.source_ids).values_list("pk", flat=True)
        MemorySourceLink.objects.bulk_create(
            [MemorySourceLink(project=project, memory=memory, source_id=pk, created_at=now) for pk in sources],
            ignore_conflicts=True,
        )
        trace.memory = memory
    relations_record(project=project, memories=[memory], now=now)


def review_accept(*, project, trace_id: Any, actor_id: str, now: datetime | None = None) -> DecisionTrace:
    """Accept a pending inferred change: a held one is applied now; one already applied stays. The
    trace records who accepted it and when."""
    actor_id = _actor(actor_id)
    with transaction.atomic():
        trace = _pending(project, trace_id)
        now = now or timezone.now()
        if trace.is_held:
            _apply_held(project, trace, text=trace.held["text"], actor_id=actor_id, now=now)
        return _mark(trace, DecisionTrace.ReviewState.ACCEPTED, actor_id=actor_id, now=now)


def review_edit(*, project, trace_id: Any, text: Any, actor_id: str, now: datetime | None = None) -> DecisionTrace:
    """Accept a pending inferred change with the reviewer's text instead of the inferred one (a held
    change is applied with it; an applied one is edited: an UPDATE history row)."""
    actor_id = _actor(actor_id)
    text = clean_text(text)
    with transaction.atomic():
        trace = _pending(project, trace_id)
        now = now or timezone.now()
        if trace.is_held:
            _apply_held(project, trace, text=text, actor_id=actor_id, now=now)
        else:
            memory = locked(project, trace.memory_id, None, memory_id=trace.memory_id, embedding=False)
            if not memory.is_current:
                raise Conflict(
                    "The inferred memory no longer holds (it changed since); edit its successor instead",
                    details={"memory_id": str(memory.pk)},
                )
            memory_update(project=project, memory_id=memory.pk, text=text, actor_id=actor_id, now=now)
            _sign(project, trace, [memory.pk], now=now, actor_id=actor_id)
        return _mark(trace, DecisionTrace.ReviewState.ACCEPTED, actor_id=actor_id, now=now)


def review_reject(*, project, trace_id: Any, actor_id: str, now: datetime | None = None) -> DecisionTrace:
    """Reject a pending inferred change and undo it (see the module's docstring); all or nothing."""
    actor_id = _actor(actor_id)
    with transaction.atomic():
        trace = _pending(project, trace_id)
        now = now or timezone.now()
        if trace.is_held:  # nothing was written
            return _mark(trace, DecisionTrace.ReviewState.REJECTED, actor_id=actor_id, now=now)
        memory = locked(project, trace.memory_id, None, memory_id=trace.memory_id, embedding=False)
        if trace.decision == DecisionTrace.Decision.UPDATE:
            _unchanged_since(project, trace, [memory.pk])
            before = (
                MemoryHistory.objects.filter(
                    project=project, memory_id=memory.pk, trace=trace, event=MemoryHistory.Event.UPDATE
                )
                .order_by("created_at")
                .first()
            )
            if before is None or before.old_memory is None:
                raise Conflict("The text before this update is not on record; edit the memory instead")
            memory_update(project=project, memory_id=memory.pk, text=before.old_memory, actor_id=actor_id, now=now)
            _sign(project, trace, [memory.pk], now=now, actor_id=actor_id)
        elif trace.decision == DecisionTrace.Decision.SUPERSEDE:
            old = locked(project, trace.target_id, None, memory_id=trace.target_id, embedding=False)
            _unchanged_since(project, trace, [memory.pk, old.pk])
            if not memory.is_current:
                raise Conflict("The inferred memory no longer holds; undo what changed it first")
            links = (
                Relationship.objects.for_project(project)
                .not_retracted()
                .filter(source_id=memory.pk, target_id=old.pk, relation=SUPERSEDES)
            )
            links.update(invalidated_at=now)
            old.valid_to = None
            old.updated_at = now
            old.save(update_fields=["valid_to", "updated_at"])
            history_updated(
                memory=old, old_text=old.memory, old_metadata=old.metadata, now=now, actor_id=actor_id, trace=trace
            )
            _retract(memory, trace, now=now, actor_id=actor_id)
        else:  # ADD
            _unchanged_since(project, trace, [memory.pk])
            if not memory.is_current:
                raise Conflict(
                    "The inferred memory is part of a supersession chain (placed in an older fact's history, or "
                    "superseded since); edit or delete it from its memory page instead",
                    details={"memory_id": str(memory.pk)},
                )
            _retract(memory, trace, now=now, actor_id=actor_id)
        return _mark(trace, DecisionTrace.ReviewState.REJECTED, actor_id=actor_id, now=now)


def review_apply(*, project, trace_id: Any, action: Any, actor_id: str, text: Any = None) -> DecisionTrace:
    """One of :data:`ACTIONS` by name (the UI's and the admin's forms)."""
    if action == "accept":
        return review_accept(project=project, trace_id=trace_id, actor_id=actor_id)
    if action == "reject":
        return review_reject(project=project, trace_id=trace_id, actor_id=actor_id)
    if action == "edit":
        return review_edit(project=project, trace_id=trace_id, text=text, actor_id=actor_id)
    raise ValidationFailed(f"action must be one of {', '.join(ACTIONS)}", field="action")
