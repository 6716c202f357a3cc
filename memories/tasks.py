"""The job queue: queued adds (``async_mode``) and the periodic maintenance job, on django-tasks'
database backend. The two tasks take ids and JSON and make one call each.

Run by ``python manage.py worker`` (which ``serve`` starts beside gunicorn). The task functions stay
in this module: their dotted paths are stored with every queued job.
"""

import time
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django_tasks import task
from django_tasks_db.models import DBTaskResult

from mem0g_site.exceptions import ApplicationError, ValidationFailed
from memories.inference import get_inference
from memories.inputs import Scope, clean_categories, clean_memory_type, clean_metadata, clean_scope
from memories.models import PROCEDURAL, AddEvent
from memories.services import add_ingest, add_messages, memories_purge_expired


@task()
def add_event_run_task(event_id: str, ingest: dict[str, Any]) -> str:
    """A queued add (``async_mode: true``): see :func:`add_event_run`."""
    return add_event_run(event_id=event_id, ingest=ingest)


@task()
def maintenance_task() -> dict[str, int]:
    """The periodic job; it queues its own next run: see :func:`maintenance_run`."""
    return maintenance_run()


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


def maintenance_schedule(*, delay: timedelta = timedelta(0), now: datetime | None = None) -> bool:
    """Make sure the periodic maintenance job is queued (to run after ``delay``); returns whether
    one was queued. Serialised by an advisory lock, so workers starting together queue one job."""

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
