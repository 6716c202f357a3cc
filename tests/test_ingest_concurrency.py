"""Adds under load, against a live server (one thread per request): adds to one scope are applied
one at a time (a transaction-level advisory lock per scope), adds to other scopes do not wait."""

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg
import pytest
from django.conf import settings
from django.db import connection

from graph.models import SUPERSEDES, Relationship
from memories.inputs import Scope
from memories.models import Memory, MemoryHistory
from memories.services import scope_lock_key

pytestmark = pytest.mark.django_db(transaction=True)

CITIES = [
    "Paris",
    "Berlin",
    "Rome",
    "Madrid",
    "Lisbon",
    "Vienna",
    "Prague",
    "Warsaw",
    "Dublin",
    "Oslo",
    "Helsinki",
    "Athens",
    "Budapest",
    "Brussels",
    "Amsterdam",
    "Copenhagen",
]
THREADS = 16


@pytest.fixture
def server(live_server, project, settings):
    """(base url, key) of a live server with rate limits out of the way."""
    from accounts.services import apikey_create

    settings.RATE_LIMIT_REQUESTS = 1_000_000
    settings.RATE_LIMIT_BURST = 0
    return live_server.url, apikey_create(project=project, name="load", scopes="read,write")[1]


def post_all(server, requests: list[tuple[str, str, dict]]) -> list[httpx.Response]:
    """Send every (method, path, body) at once, one thread each, released together."""
    url, key = server
    start = threading.Barrier(len(requests))

    def send(request):
        method, path, body = request
        with httpx.Client(base_url=url, headers={"Authorization": f"Token {key}"}, timeout=120) as client:
            start.wait()
            return client.request(method, path, json=body)

    with ThreadPoolExecutor(len(requests)) as pool:
        return list(pool.map(send, requests))


def add(user: str, text: str, **extra) -> tuple[str, str, dict]:
    return ("POST", "/v3/memories/add/", {"messages": [{"role": "user", "content": text}], "user_id": user, **extra})


def assert_chained(user: str) -> list[Memory]:
    """The user's memories form one chain in valid time: each ends where the next begins, only the last
    holds, and each is superseded by the next (open links)."""
    memories = list(Memory.objects.filter(user_id=user).order_by("valid_from"))
    assert [m.is_current for m in memories] == [False] * (len(memories) - 1) + [True]
    for older, newer in zip(memories, memories[1:], strict=False):
        assert older.valid_to == newer.valid_from, (older, newer)
    links = {
        (r.source_id, r.target_id)
        for r in Relationship.objects.not_retracted().filter(relation=SUPERSEDES, source__user_id=user)
    }
    assert links == {(newer.pk, older.pk) for older, newer in zip(memories, memories[1:], strict=False)}
    return memories


def test_concurrent_contradicting_adds_leave_one_current_fact(server):
    for _round in range(3):
        responses = post_all(server, [add("alice", f"I live in {city}.") for city in CITIES])
        assert [r.status_code for r in responses] == [200] * THREADS, [r.text[:200] for r in responses]
        current = Memory.objects.filter(user_id="alice").current()
        assert current.count() == 1, list(current.values_list("memory", flat=True))
        assert len(assert_chained("alice")) >= THREADS


def test_concurrent_adds_with_shuffled_timestamps_end_in_time_order(server):
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    times = [t0 + timedelta(days=10 * i) for i in range(THREADS)]
    order = list(range(THREADS))
    random.Random(13).shuffle(order)
    requests = [add("bob", f"I live in {CITIES[i]}.", timestamp=int(times[i].timestamp())) for i in order]
    responses = post_all(server, requests)
    assert [r.status_code for r in responses] == [200] * THREADS, [r.text[:200] for r in responses]
    memories = assert_chained("bob")
    assert [m.memory for m in memories] == [f"User lives in {city}" for city in CITIES]
    assert [m.valid_from for m in memories] == times
    # The same adds again (retries, in another order): nothing changes.
    responses = post_all(server, list(reversed(requests)))
    assert all(r.status_code == 200 and r.json()["results"] == [] for r in responses)
    assert Memory.objects.filter(user_id="bob").count() == THREADS


def test_concurrent_updates_of_one_memory_are_listed_in_the_order_applied(server):
    url, key = server
    with httpx.Client(base_url=url, headers={"Authorization": f"Token {key}"}) as client:
        created = client.post("/v1/memories/", json={"content": "version 0", "user_id": "carol"}).json()
    updates = [("PUT", f"/v1/memories/{created['id']}/", {"text": f"version {i}"}) for i in range(1, 13)]
    responses = post_all(server, updates)
    assert [r.status_code for r in responses] == [200] * len(updates)
    rows = list(MemoryHistory.objects.filter(memory_id=created["id"]).order_by("created_at", "id"))
    assert [row.event for row in rows] == ["ADD"] + ["UPDATE"] * len(updates)
    for previous, row in zip(rows, rows[1:], strict=False):
        assert row.old_memory == previous.new_memory
        assert row.created_at > previous.created_at
    assert Memory.objects.get(pk=created["id"]).memory == rows[-1].new_memory


def _test_database_url() -> str:
    parts = urlsplit(settings.DATABASE_URL)
    return urlunsplit(parts._replace(path="/" + connection.settings_dict["NAME"]))


def test_an_add_to_another_scope_does_not_wait_for_a_held_scope(server, project):
    url, key = server
    held = scope_lock_key(project.pk, Scope(user_id="dave"))
    with psycopg.connect(_test_database_url(), autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s)", [held])
        try:
            with ThreadPoolExecutor(1) as pool, ThreadPoolExecutor(1) as pool_overlap:
                blocked = pool.submit(post_all, server, [add("dave", "I live in Paris.")])
                deadline = time.monotonic() + 60
                waiting = 0
                while not waiting and time.monotonic() < deadline:  # until dave's add waits for the lock
                    time.sleep(0.05)
                    waiting = other.execute(
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                    ).fetchone()[0]
                assert waiting >= 1
                # An add whose scope overlaps dave's ({dave, agent planner}) waits too.
                overlapping = pool_overlap.submit(
                    post_all, server, [add("dave", "I work at Acme.", agent_id="planner")]
                )
                with httpx.Client(base_url=url, headers={"Authorization": f"Token {key}"}, timeout=30) as client:
                    erin = client.post("/v3/memories/add/", json=add("erin", "I live in Rome.")[2])
                assert erin.status_code == 200 and erin.json()["results"][0]["event"] == "ADD"
                # dave's adds wait for his lock.
                time.sleep(0.5)
                assert not blocked.done() and not overlapping.done()
                assert not Memory.objects.filter(user_id="dave").exists()
                other.execute("SELECT pg_advisory_unlock(%s)", [held])
                [dave] = blocked.result(timeout=60)
                [planner] = overlapping.result(timeout=60)
            assert dave.status_code == 200 and dave.json()["results"][0]["event"] == "ADD"
            assert planner.status_code == 200 and planner.json()["results"][0]["event"] == "ADD"
        finally:
            other.execute("SELECT pg_advisory_unlock_all()")


def test_an_add_whose_canonical_is_deleted_meanwhile_holds_its_own_entry(server, project):
    """Bob says word for word what alice said while alice's memory (the canonical his would name,
    ``Memory.vector_memory``) is being deleted: the add waits for the delete, then names nothing
    (it holds its own HNSW entry). It used to name the row being deleted and fail on the key."""
    from django.db import transaction
    from django.utils import timezone

    from memories.services.records import delete_with_history

    url, key = server
    text = "The spare key is under the blue flowerpot."
    with httpx.Client(base_url=url, headers={"Authorization": f"Token {key}"}, timeout=60) as client:
        assert client.post("/v3/memories/add/", json=add("alice", text, infer=False)[2]).status_code == 200
    canonical = Memory.objects.get(user_id="alice")
    deleted, release = threading.Event(), threading.Event()

    def delete():
        try:
            with transaction.atomic():
                delete_with_history(Memory.objects.filter(pk=canonical.pk), now=timezone.now())
                deleted.set()
                release.wait(60)
        finally:
            connection.close()

    with ThreadPoolExecutor(1) as deleting, ThreadPoolExecutor(1) as adding:
        done = deleting.submit(delete)
        assert deleted.wait(60)
        added = adding.submit(post_all, server, [add("bob", text, infer=False)])
        with psycopg.connect(_test_database_url(), autocommit=True) as other:
            deadline, waiting = time.monotonic() + 60, 0
            while not waiting and time.monotonic() < deadline:  # until bob's add waits for the delete
                time.sleep(0.05)
                waiting = other.execute("SELECT count(*) FROM pg_locks WHERE NOT granted").fetchone()[0]
        assert waiting >= 1
        release.set()
        done.result(timeout=60)
        [response] = added.result(timeout=60)
    assert response.status_code == 200, response.text[:300]
    bob = Memory.objects.get(user_id="bob")
    assert bob.memory == text and bob.vector_memory_id is None
    assert not Memory.objects.filter(pk=canonical.pk).exists()
