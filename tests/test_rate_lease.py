"""Leases of rate-limit slots (accounts/leases.py), on the real stores: a process takes several
slots of a key's window in one round trip and hands them out itself. Never more than the limit is
allowed, whatever the processes and threads; a process alone sees the limit exactly; a lease ends
with its window; a forked child inherits none. (Several live worker processes:
tests/test_rate_limit_processes.py.)"""

import os
import random
import threading
import time
from functools import partial

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts import counters, leases
from accounts.models import Counter
from tests.test_live_servers import redis_url  # noqa: F401 (the fixture)
from tests.test_rate_limit_processes import fresh_window

MINUTE = counters.Window("rl:w:lease", 60)


@pytest.fixture(params=["postgres", "redis"])
def store(request, settings, transactional_db):
    """The counter store: PostgreSQL (committed rows, so threads see them) or Redis."""
    if request.param == "redis":
        settings.REDIS_URL = request.getfixturevalue("redis_url")
    return request.param


def stored_count(store: str, window: counters.Window) -> int:
    """The window's count in the store: every slot leased so far."""
    if store == "redis":
        client = counters.store().client
        start = int(time.time()) // window.seconds * window.seconds
        return int(client.get(f"{counters.RedisStore.KEY_PREFIX}{window.name}:{start}") or 0)
    return Counter.objects.get(name=window.name).count


def minute_slot(take, limit: int) -> int:
    """A slot in ``MINUTE`` from ``take`` (``leases.take`` or one process's ``Leases.take``)."""
    return take({MINUTE: limit}, lease_max=32)[MINUTE.name].count


def slots_in_threads(takers, calls: int, *, pause: float = 0.0) -> list[int]:
    """``calls`` slots, taken at once by one thread per taker (a function that returns a slot), each
    with its own database connection (closed after), pausing ``pause`` seconds after each slot."""
    tickets, lock, slots = iter(range(calls)), threading.Lock(), []

    def work(take):
        try:
            while True:
                with lock:
                    if next(tickets, None) is None:
                        return
                slot = take()
                with lock:
                    slots.append(slot)
                time.sleep(pause)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(take,)) for take in takers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    return slots


def test_the_lease_size_follows_what_is_left():
    assert leases.lease_size(limit=10_000, seen=1, lease_max=32) == 32
    assert leases.lease_size(limit=10_000, seen=1, lease_max=64) == 64
    assert leases.lease_size(limit=300, seen=100, lease_max=32) == 12  # (300 - 100) // 16
    assert leases.lease_size(limit=300, seen=269, lease_max=32) == 1  # the last 31 one by one
    assert leases.lease_size(limit=300, seen=400, lease_max=32) == 1  # past the limit: as before


def test_one_process_alone_sees_the_limit_exactly(store):
    limit = 300
    fresh_window(60, needed=5)
    slots = [leases.take({MINUTE: limit}, lease_max=32)[MINUTE.name].count for _ in range(limit + 20)]
    assert slots == list(range(1, limit + 21))
    assert sum(slot <= limit for slot in slots) == limit
    # Leases shrink towards the limit, so nothing was leased beyond the last request.
    assert stored_count(store, MINUTE) == limit + 20


def test_a_lease_saves_the_round_trips(transactional_db):
    fresh_window(60, needed=5)
    with CaptureQueriesContext(connection) as queries:
        slots = [leases.take({MINUTE: 10_000}, lease_max=32)[MINUTE.name].count for _ in range(1000)]
    assert slots == list(range(1, 1001))
    # A first lease of 1 (the process learns the count), then 32 slots a time: 1 + ceil(999 / 32)
    # statements (and perhaps the minutely prune of ended windows).
    hits = [query for query in queries.captured_queries if "INSERT INTO accounts_counter" in query["sql"]]
    assert len(hits) == 33 and len(queries) <= 34


def test_leases_off_is_one_round_trip_per_request(transactional_db):
    fresh_window(60, needed=5)
    with CaptureQueriesContext(connection) as queries:
        slots = [leases.take({MINUTE: 10_000}, lease_max=1)[MINUTE.name].count for _ in range(20)]
    assert slots == list(range(1, 21))
    assert sum("INSERT INTO accounts_counter" in query["sql"] for query in queries.captured_queries) == 20
    assert Counter.objects.get(name=MINUTE.name).count == 20


def test_threads_of_one_process_share_its_leases(store):
    limit, calls = 600, 800
    fresh_window(60, needed=5)
    # A pause after each slot (the rest of the request): the other threads take slots meanwhile.
    slots = slots_in_threads([partial(minute_slot, leases.take, limit)] * 8, calls, pause=0.001)
    assert sorted(slots) == list(range(1, calls + 1))  # unique, and none lost
    assert sum(slot <= limit for slot in slots) == limit


def test_several_processes_never_allow_more_than_the_limit(store):
    """Three processes (one ``Leases`` each, as a worker has) serving one key in a random order:
    every slot is handed out once at most; the ones left unused sit in the processes' last leases,
    and only those refuse a request early (at most P * (m - 1), accounts/leases.py)."""
    limit, lease_max = 600, 32
    calls = limit + 30
    processes = [leases.Leases() for _ in range(3)]
    order = random.Random(15).choices(range(3), weights=[6, 3, 1], k=calls)
    fresh_window(60, needed=5)
    slots = [processes[i].take({MINUTE: limit}, lease_max=lease_max)[MINUTE.name].count for i in order]
    unused = [
        slot
        for process in processes
        for key in process._keys.values()
        for lease in key.leases.values()
        for slot in range(lease.next, lease.last + 1)
    ]
    assert len(set(slots)) == calls
    assert sorted(slots + unused) == list(range(1, stored_count(store, MINUTE) + 1))
    allowed = sum(slot <= limit for slot in slots)
    assert allowed <= limit
    assert allowed == limit - sum(slot <= limit for slot in unused)
    assert allowed >= limit - len(processes) * (min(lease_max, limit // leases.LEASE_DIVISOR) - 1)


def test_processes_at_once_never_allow_more_than_the_limit(store):
    limit, calls = 600, 900
    processes = [leases.Leases() for _ in range(3)]
    fresh_window(60, needed=5)
    # Two threads per process, all at once.
    slots = slots_in_threads([partial(minute_slot, process.take, limit) for process in processes] * 2, calls)
    assert len(slots) == len(set(slots)) == calls
    allowed = sum(slot <= limit for slot in slots)
    assert limit - len(processes) * (min(32, limit // leases.LEASE_DIVISOR) - 1) <= allowed <= limit


def test_a_lease_ends_with_its_window_and_each_window_has_its_own(store):
    """A 2-second window beside the minute (the burst window works the same way, over 10 s): when
    the short one rolls over, its lease's leftovers are dropped; the minute's lease goes on."""
    short = counters.Window("rl:b:lease", 2)
    limits = {MINUTE: 10_000, short: 1_000}
    fresh_window(60, needed=5)
    fresh_window(2, needed=1.5)
    first = [leases.take(limits, lease_max=32) for _ in range(10)]
    assert [slots[short.name].count for slots in first] == list(range(1, 11))
    assert [slots[MINUTE.name].count for slots in first] == list(range(1, 11))
    assert stored_count(store, short) == 33  # 1, then a lease of 32 of which 9 were used

    time.sleep(2 - time.time() % 2 + 0.05)  # the next 2-second window
    after = leases.take(limits, lease_max=32)
    assert after[short.name].count == 1  # a new lease: the old leftovers are not reused
    assert after[MINUTE.name].count == 11  # still the minute's lease
    assert 1 <= after[short.name].seconds_left <= 2


def test_a_forked_child_starts_without_leases(transactional_db):
    leases.take({MINUTE: 10_000}, lease_max=32)
    leases.take({MINUTE: 10_000}, lease_max=32)  # now a lease of 32 with 31 left
    assert leases._leases._keys
    pid = os.fork()
    if pid == 0:  # the child: report and leave at once (no cleanup of the parent's state)
        os._exit(0 if not leases._leases._keys else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert leases._leases._keys  # the parent keeps its own
