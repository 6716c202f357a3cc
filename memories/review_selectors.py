"""Reads of the review queue (``memories.review`` holds its actions): a project's or a user's
inferred changes with what they changed, the messages they came from, and the count still waiting."""

from typing import Any

from mem0g_site.exceptions import ValidationFailed
from mem0g_site.paging import Page, page_request
from memories.inputs import clean_uuid
from memories.models import DecisionTrace, MemoryHistory, MemorySource
from memories.selectors import PAGE_SIZE_MAX, memories_by_id

REVIEW_STATES = ("pending", "accepted", "rejected", "all")


def review_queue(
    *, project, user_id: str | None = None, state: str = "pending", page: int = 1, page_size: int = 20
) -> Page:
    """The review queue (``memories.review``): a project's inferred changes (or one user's), newest
    first, in one review state (``pending``, ``accepted``, ``rejected``) or ``all`` of them. Each
    trace comes with ``target`` (the memory it updated or superseded, or, held, would), ``previous``
    (the text before an UPDATE) and ``source_rows`` (the messages it came from, those still kept).
    Five queries whatever the page holds."""
    if state not in REVIEW_STATES:
        raise ValidationFailed(f"state must be one of {', '.join(REVIEW_STATES)}", field="state")
    request = page_request(page, page_size, maximum=PAGE_SIZE_MAX)
    queryset = DecisionTrace.objects.filter(project=project)
    queryset = (
        queryset.exclude(review_state=DecisionTrace.ReviewState.NONE)
        if state == "all"
        else queryset.filter(review_state=state)
    )
    if user_id is not None:
        queryset = queryset.filter(user_id=user_id)
    found = request.cut(
        queryset.select_related("memory").defer("memory__embedding").order_by("-created_at", "-position", "-id")
    )
    review_decorate(project, found.results)
    return found


def review_pending_count(*, project, user_id: str | None = None) -> int:
    """How many inferred changes wait for review in the project (or for one user)."""
    queryset = DecisionTrace.objects.filter(project=project, review_state=DecisionTrace.ReviewState.PENDING)
    return (queryset if user_id is None else queryset.filter(user_id=user_id)).count()


def review_get(*, project, trace_id: Any):
    """One trace of the review queue (any review state), decorated as :func:`review_queue` does, or
    None."""
    pk = clean_uuid(trace_id)
    found = (
        None
        if pk is None
        else DecisionTrace.objects.filter(project=project, pk=pk)
        .select_related("memory")
        .defer("memory__embedding")
        .first()
    )
    if found is not None:
        review_decorate(project, [found])
    return found


def review_decorate(project, traces: list) -> None:
    """Give each trace ``target`` (the memory it updated or superseded, or, held, would change),
    ``previous`` (the text the change replaced, or would), ``proposed`` (the text it wrote, or would)
    and ``source_rows`` (its messages, those still kept); three queries for any number."""
    targets = memories_by_id(project=project, ids=[t.target_id for t in traces if t.target_id])
    applied_updates = [t.pk for t in traces if t.decision == "UPDATE" and not t.is_held]
    updates = {
        row.trace_id: row
        for row in MemoryHistory.objects.filter(project=project, trace__in=applied_updates, event="UPDATE").order_by(
            "-created_at", "-id"
        )
    }  # the earliest row of each trace wins: the one the add wrote
    source_ids = {clean_uuid(pk) for t in traces for pk in t.source_ids} - {None}
    sources = {
        source.pk: source
        for source in MemorySource.objects.filter(project=project, pk__in=source_ids).defer("embedding")
    }
    for trace in traces:
        trace.target = targets.get(trace.target_id)
        if trace.is_held:
            trace.previous = trace.target.memory if trace.target else None
            trace.proposed = trace.held.get("text")
        elif trace.decision == "UPDATE":
            row = updates.get(trace.pk)
            trace.previous, trace.proposed = (row.old_memory, row.new_memory) if row else (None, trace.fact)
        else:
            trace.previous = trace.target.memory if trace.decision == "SUPERSEDE" and trace.target else None
            trace.proposed = trace.memory.memory if trace.memory else trace.fact
        trace.source_rows = [sources[pk] for pk in (clean_uuid(i) for i in trace.source_ids) if pk in sources]
