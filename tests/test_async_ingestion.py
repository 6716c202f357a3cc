"""Async adds (``async_mode: true``) through the real job queue (django-tasks' database backend) and
its worker, in this process and as a separate process killed mid-job; the periodic maintenance job;
``purge_expired``."""

import importlib
import io
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from memories.models import AddEvent, DecisionTrace, Memory, MemoryHistory, MemorySource, MemorySourceLink
from memories.services import memories_purge_expired
from memories.tasks import (
    add_event_run,
    add_event_run_task,
    add_events_recover,
    maintenance_run,
    maintenance_schedule,
    maintenance_task,
)
from tests.conftest import error_of

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.django_db(transaction=True)

TEA = [{"role": "user", "content": "I love tea"}]


@pytest.fixture
def key(project, make_key):
    return make_key(project)


@pytest.fixture
def run_worker():
    """Run the library's worker here until the queue is empty (``db_worker --batch``)."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT)}

    def _run():
        try:
            call_command("db_worker", batch=True, interval=0, reload=False, startup_delay=False, stdout=io.StringIO())
        finally:
            for sig, handler in saved.items():
                signal.signal(sig, handler)

    return _run


def queue_async_add(api, key, messages=TEA, **body):
    response = api("POST", "/v3/memories/add/", key=key, data={"messages": messages, "user_id": "alice", **body})
    assert response.status_code == 200, response.content
    return response.json()


def test_an_async_add_answers_pending_then_a_worker_makes_it_succeed(api, key, project, run_worker):
    before = timezone.now()
    queued = queue_async_add(api, key, async_mode=True)
    assert set(queued) == {"event_id", "status"} and queued["status"] == "PENDING"
    assert Memory.objects.count() == 0

    pending = api("GET", f"/v1/event/{queued['event_id']}/", key=key).json()
    assert (pending["status"], pending["results"], pending["latency"], pending["error"]) == ("PENDING", [], None, None)
    assert pending["payload"]["async_mode"] is True and pending["payload"]["user_id"] == "alice"
    assert DBTaskResult.objects.filter(status="READY", task_path=add_event_run_task.module_path).count() == 1

    run_worker()

    event = api("GET", f"/v1/event/{queued['event_id']}/", key=key).json()
    assert event["status"] == "SUCCEEDED" and event["error"] is None and event["latency"] > 0
    assert [(r["memory"], r["event"]) for r in event["results"]] == [("User loves tea", "ADD")]
    memory = Memory.objects.get()
    assert str(memory.id) == event["results"][0]["id"] and memory.user_id == "alice"
    # The observation time is the request's, not the worker's.
    assert before <= memory.valid_from <= AddEvent.objects.get().created_at
    listed = api("GET", "/v1/events/", key=key).json()
    assert [(e["id"], e["status"]) for e in listed["results"]] == [(queued["event_id"], "SUCCEEDED")]
    found = api("POST", "/v3/memories/search/", key=key, data={"query": "tea", "filters": {"user_id": "alice"}})
    assert [m["memory"] for m in found.json()["results"]] == ["User loves tea"]
    assert DBTaskResult.objects.get(task_path=add_event_run_task.module_path).status == "SUCCESSFUL"


def test_a_queued_add_goes_through_the_decisions_at_its_observation_time(api, key, run_worker):
    t0 = datetime(2026, 1, 10, tzinfo=UTC)
    t1 = t0 + timedelta(days=30)
    say = [{"role": "user", "content": "I live in Paris."}]
    [old] = queue_async_add(api, key, messages=say, timestamp=int(t0.timestamp()))["results"]
    moved = [{"role": "user", "content": "I moved to Berlin."}]
    queued = queue_async_add(api, key, messages=moved, timestamp=int(t1.timestamp()), async_mode=True)
    run_worker()
    [event] = api("GET", f"/v1/event/{queued['event_id']}/", key=key).json()["results"]
    assert (event["event"], event["supersedes"], event["memory"]) == ("SUPERSEDE", old["id"], "User moved to Berlin")
    assert Memory.objects.get(pk=old["id"]).valid_to == t1
    assert Memory.objects.get(pk=event["id"]).valid_from == t1


def test_a_queued_add_with_enable_graph_records_entity_relations(api, key, run_worker):
    from graph.models import EntityRelation

    queued = queue_async_add(api, key, messages="I live in Lisbon.", async_mode=True, enable_graph=True)
    queue_async_add(api, key, messages="I love jazz.", async_mode=True)  # no enable_graph: no relations
    assert not EntityRelation.objects.exists()
    run_worker()
    [event] = api("GET", f"/v1/event/{queued['event_id']}/", key=key).json()["results"]
    triples = list(EntityRelation.objects.values_list("memory_id", "source", "relationship", "destination"))
    assert [(str(mid), s, r, d) for mid, s, r, d in triples] == [(event["id"], "user", "lives_in", "lisbon")]


def test_a_failed_async_add_records_its_error_and_writes_nothing(api, key, run_worker, settings):
    queued = queue_async_add(api, key, async_mode=True)
    settings.MEMORY_MAX_CHARS = 10  # the limit shrank while the job waited: "User loves tea" is too long now
    run_worker()
    event = api("GET", f"/v1/event/{queued['event_id']}/", key=key).json()
    assert event["status"] == "FAILED" and event["results"] == []
    assert event["error"] == "text is 14 characters long; the limit is 10"
    assert event["latency"] is not None
    assert Memory.objects.count() == 0 and MemoryHistory.objects.count() == 0


def test_bad_async_input_is_refused_before_anything_is_queued(api, key):
    error_of(
        api("POST", "/v3/memories/add/", key=key, data={"messages": TEA, "async_mode": True}), 422, "VALIDATION_ERROR"
    )
    no_messages = {"messages": 42, "user_id": "alice", "async_mode": True}
    error_of(api("POST", "/v3/memories/add/", key=key, data=no_messages), 422, "VALIDATION_ERROR")
    bad_categories = {"messages": TEA, "user_id": "alice", "async_mode": True, "categories": [""]}
    error_of(api("POST", "/v3/memories/add/", key=key, data=bad_categories), 422, "VALIDATION_ERROR")
    error_of(
        api("POST", "/v3/memories/add/", key=key, data={"messages": TEA, "user_id": "a", "async_mode": "soon"}),
        422,
        "VALIDATION_ERROR",
    )
    assert AddEvent.objects.count() == 0 and DBTaskResult.objects.count() == 0


def test_infer_false_stays_synchronous_even_with_async_mode(api, key):
    body = {"messages": TEA, "user_id": "alice", "infer": False, "async_mode": True}
    v3 = api("POST", "/v3/memories/add/", key=key, data=body).json()
    assert v3["status"] == "SUCCEEDED" and [r["memory"] for r in v3["results"]] == ["I love tea"]
    v1 = api("POST", "/v1/memories/", key=key, data={**body, "output_format": "v1.1"}).json()
    assert v1["results"][0]["data"] == {"memory": "I love tea"}
    assert DBTaskResult.objects.count() == 0


def test_the_legacy_v1_add_answers_mem0s_queued_shape(api, key, run_worker):
    # mem0ai 1.0.x sends async_mode: true unless told otherwise, with output_format v1.1.
    body = {"messages": TEA, "user_id": "alice", "async_mode": True, "org_id": "o", "project_id": "p"}
    wrapped = api("POST", "/v1/memories/", key=key, data={**body, "output_format": "v1.1", "version": "v2"}).json()
    [item] = wrapped["results"]
    assert set(item) == {"message", "status", "event_id"} and item["status"] == "PENDING" and item["message"]
    bare = api("POST", "/v1/memories/", key=key, data={**body, "output_format": "v1.0"}).json()
    assert isinstance(bare, list) and bare[0]["status"] == "PENDING"
    run_worker()
    statuses = {e.status for e in AddEvent.objects.filter(pk__in=[item["event_id"], bare[0]["event_id"]])}
    assert statuses == {"SUCCEEDED"}
    assert Memory.objects.count() == 1  # the second add found the fact already known


def test_the_official_sdk_passes_async_mode_through(live_server, project, tmp_path, monkeypatch, run_worker):
    from accounts.services import apikey_create

    monkeypatch.setenv("MEM0_TELEMETRY", "false")
    monkeypatch.setenv("HOME", str(tmp_path))
    client_module = importlib.import_module("mem0.client.main")
    client = client_module.MemoryClient(
        api_key=apikey_create(project=project, name="sdk", scopes="read,write")[1], host=live_server.url
    )
    queued = client.add("I have a cat named Miso", user_id="alice", async_mode=True)
    assert queued["status"] == "PENDING" and queued["event_id"]
    assert client.get_all(filters={"user_id": "alice"})["count"] == 0
    run_worker()
    assert [m["memory"] for m in client.get_all(filters={"user_id": "alice"})["results"]] == [
        "User has a cat named Miso"
    ]


def test_running_a_job_again_applies_it_once(api, key, run_worker):
    queued = queue_async_add(api, key, async_mode=True)
    job = DBTaskResult.objects.get(task_path=add_event_run_task.module_path)
    run_worker()
    # A retry of the same job (its arguments replayed) finds the event finished and does nothing.
    assert add_event_run(**job.args_kwargs["kwargs"]) == "SUCCEEDED"
    assert Memory.objects.count() == 1 and MemoryHistory.objects.count() == 1
    assert AddEvent.objects.get(pk=queued["event_id"]).status == "SUCCEEDED"


def _test_database_url() -> str:
    """settings.DATABASE_URL, pointed at the test database."""
    parts = urlsplit(settings.DATABASE_URL)
    return urlunsplit(parts._replace(path="/" + connection.settings_dict["NAME"]))


def test_a_job_whose_worker_is_killed_is_retried_and_applied_once(api, key, run_worker):
    # Many facts (as many as one add may hold: MAX_MESSAGES_PER_ADD, MAX_FACTS_PER_ADD), so the job
    # (which also loads the embedding model in a fresh process) lasts a while.
    messages = [{"role": "user", "content": f"I love the colour number {i}"} for i in range(100)]
    queued = queue_async_add(api, key, messages=messages, async_mode=True)
    env = {**os.environ, "DATABASE_URL": _test_database_url(), "MEM0G_DATABASE_EMBEDDED": "true"}
    worker = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "db_worker", "--batch", "--no-reload", "--no-startup-delay"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while AddEvent.objects.get(pk=queued["event_id"]).status == "PENDING" and time.monotonic() < deadline:
            assert worker.poll() is None, worker.stdout.read().decode()
            time.sleep(0.02)
        worker.send_signal(signal.SIGKILL)  # mid-job: the event is RUNNING and the ingestion not committed
        worker.wait(timeout=10)
    finally:
        if worker.poll() is None:
            worker.kill()
        worker.stdout.close()
    assert AddEvent.objects.get(pk=queued["event_id"]).status == "RUNNING"
    assert Memory.objects.count() == 0, "a killed job must leave nothing half-applied"
    assert not MemorySource.objects.exists() and not DecisionTrace.objects.exists()
    assert not MemorySourceLink.objects.exists()
    dead_job = DBTaskResult.objects.get(task_path=add_event_run_task.module_path)
    assert dead_job.status == "RUNNING"  # the library does not notice dead workers by itself

    assert add_events_recover() == 0, "not stale yet"
    later = timezone.now() + timedelta(seconds=settings.TASK_STALE_SECONDS + 1)
    deadline = time.monotonic() + 20
    requeued = add_events_recover(now=later)
    while not requeued and time.monotonic() < deadline:  # until PostgreSQL has ended the dead session
        time.sleep(0.2)
        requeued = add_events_recover(now=later)
    assert requeued == 1
    dead_job.refresh_from_db()
    assert dead_job.status == "FAILED" and dead_job.exception_class_path == "memories.tasks.WorkerLost"
    assert AddEvent.objects.get(pk=queued["event_id"]).status == "PENDING"

    run_worker()
    event = AddEvent.objects.get(pk=queued["event_id"])
    assert event.status == "SUCCEEDED" and len(event.results) == 100
    assert Memory.objects.count() == 100
    assert Memory.objects.values("hash").distinct().count() == 100
    assert MemoryHistory.objects.filter(event="ADD").count() == 100
    # The retried run kept each message once, linked to its fact, with one trace per fact.
    assert MemorySource.objects.filter(add_event=event).count() == 100
    assert MemorySourceLink.objects.count() == 100 and DecisionTrace.objects.filter(add_event=event).count() == 100
    assert not MemoryHistory.objects.filter(trace__isnull=True).exists()
    assert add_events_recover(now=later + timedelta(hours=1)) == 0


def test_recovery_leaves_a_job_alone_while_a_live_worker_holds_its_event(api, key):
    queued = queue_async_add(api, key, async_mode=True)
    job = DBTaskResult.objects.get(task_path=add_event_run_task.module_path)
    job.claim("elsewhere")  # as a worker claims it
    AddEvent.objects.filter(pk=queued["event_id"]).update(status="RUNNING")
    later = timezone.now() + timedelta(seconds=settings.TASK_STALE_SECONDS + 1)
    # Another session holds the event's row, as a live worker does while it ingests.
    with psycopg.connect(_test_database_url()) as other:
        other.execute("SELECT 1 FROM memories_addevent WHERE id = %s FOR UPDATE", [queued["event_id"]])
        assert add_events_recover(now=later) == 0
    job.refresh_from_db()
    assert job.status == "RUNNING"
    assert add_events_recover(now=later) == 1  # released: now it counts as lost


def test_a_job_lost_too_often_fails_its_event(api, key):
    queued = queue_async_add(api, key, async_mode=True)
    later = timezone.now() + timedelta(seconds=settings.TASK_STALE_SECONDS + 1)
    for attempt in range(settings.TASK_MAX_ATTEMPTS):
        job = DBTaskResult.objects.get(task_path=add_event_run_task.module_path, status="READY")
        job.claim(f"worker-{attempt}")
        AddEvent.objects.filter(pk=queued["event_id"]).update(status="RUNNING")
        assert add_events_recover(now=later) == (1 if attempt < settings.TASK_MAX_ATTEMPTS - 1 else 0)
    event = AddEvent.objects.get(pk=queued["event_id"])
    assert event.status == "FAILED" and "stopped 3 times" in event.error
    assert not DBTaskResult.objects.filter(status="READY").exists()


# --- the periodic job and purge_expired -------------------------------------------------------

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _memories_for_purge(project, add):
    short = add(project, "short-lived", user_id="alice", metadata={"memory_lifespan": "short_term"}, now=T0)
    long_expired = add(
        project, "long-lived but expired", user_id="alice", expiration_date=T0 + timedelta(minutes=5), now=T0
    )
    later_short = add(
        project,
        "short-lived, later",
        user_id="alice",
        metadata={"memory_lifespan": "short_term"},
        now=T0 + timedelta(hours=2),
    )
    return short, long_expired, later_short


def test_purge_expired_deletes_only_expired_short_term_memories(project, add):
    short, long_expired, later_short = _memories_for_purge(project, add)
    assert short.expiration_date == T0 + timedelta(seconds=settings.MEM0_DEFAULT_SHORT_TERM_TTL_SECONDS)
    assert memories_purge_expired(now=T0 + timedelta(minutes=59)) == 0

    out = io.StringIO()
    call_command("purge_expired", now=(T0 + timedelta(hours=1)).isoformat(), stdout=out)
    assert out.getvalue().strip() == "purged 1 expired short-term memory"
    remaining = set(Memory.objects.values_list("memory", flat=True))
    assert remaining == {"long-lived but expired", "short-lived, later"}
    deleted = MemoryHistory.objects.get(event="DELETE")
    assert (deleted.memory_id, deleted.old_memory, deleted.is_deleted) == (short.id, "short-lived", True)
    assert deleted.created_at == T0 + timedelta(hours=1)

    assert memories_purge_expired(now=T0 + timedelta(hours=3)) == 1
    assert list(Memory.objects.values_list("memory", flat=True)) == ["long-lived but expired"]


def test_purge_expired_refuses_a_naive_clock():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="time zone"):
        call_command("purge_expired", now="2026-03-01T12:00:00")


def test_the_maintenance_job_is_queued_once_and_requeues_itself(project, add):
    assert maintenance_schedule() is True
    assert maintenance_schedule() is False  # a second worker starting finds it queued
    scheduled = DBTaskResult.objects.filter(task_path=maintenance_task.module_path)
    assert scheduled.count() == 1

    short, _, _ = _memories_for_purge(project, add)
    now = T0 + timedelta(hours=1)
    job = scheduled.get()
    job.claim("w1")  # the worker takes it; running it queues the next run first
    assert maintenance_run(now=now) == {"requeued": 0, "purged": 1}
    following = DBTaskResult.objects.get(task_path=maintenance_task.module_path, status="READY")
    assert following.run_after == now + timedelta(seconds=settings.TASK_MAINTENANCE_INTERVAL_SECONDS)
    assert not Memory.objects.filter(pk=short.pk).exists()


def test_the_worker_command_checks_the_queue():
    out = io.StringIO()
    call_command("worker", check=True, stdout=out)
    assert out.getvalue().startswith("job queue reachable: 0 job(s) ready")
