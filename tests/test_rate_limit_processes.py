"""Rate limits with the default `make run`: two gunicorn worker processes, no Redis, the counters
shared through PostgreSQL. Requests fired from several threads reach both workers. Under 32 per
window (slots taken one by one, accounts/leases.py) the documented limit and burst hold exactly,
X-RateLimit-Remaining only counts down, and the official Mem0 SDK gets its RateLimitError; over it,
with leases of slots, never more than the limit is allowed and at most the documented few are
refused early. Also: the live server refuses a forged Host header."""

import importlib
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

import pytest

from tests.test_live_servers import ROOT, free_port, wait_for

pytestmark = pytest.mark.live_server_process

LIMIT = 30
BURST = 8
LEASED_LIMIT = 600  # leases of up to 32 slots (RATE_LIMIT_LEASE_MAX's default; 600 // 16 = 37)
KEYS = [f"mem0_{secrets.token_urlsafe(24)}" for _ in range(10)]
ADMIN_KEY = f"mem0_{secrets.token_urlsafe(24)}"
WARMUP_KEYS = [f"mem0_{secrets.token_urlsafe(24)}" for _ in range(30)]  # one per round: no 429s


@dataclass
class Answer:
    started: float
    ended: float
    status: int
    headers: dict
    body: dict


def call(port: int, key: str, path: str = "/status", host: str | None = None) -> Answer:
    """One request on a new connection (so the kernel may hand it to either worker)."""
    headers = {"Authorization": f"Token {key}"}
    if host is not None:
        headers["Host"] = host
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers)
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status, answer_headers, raw = response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        status, answer_headers, raw = error.code, dict(error.headers), error.read()
    return Answer(started, time.monotonic(), status, answer_headers, json.loads(raw) if raw else {})


def fire(port: int, key: str, count: int, threads: int = 6) -> list[Answer]:
    """``count`` requests to /status from ``threads`` threads at once."""
    tickets = iter(range(count))
    lock = threading.Lock()
    answers: list[Answer] = []

    def work():
        while True:
            with lock:
                if next(tickets, None) is None:
                    return
            answer = call(port, key)
            with lock:
                answers.append(answer)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=300)
    assert len(answers) == count
    return answers


def fire_in_one_window(port: int, keys: list[str], count: int, *, needed: float, threads: int = 6) -> list[Answer]:
    """``fire`` with the first of ``keys`` whose requests all fell in one minute window (one that
    ends mid-test is retried with the next key)."""
    for key in keys:
        window_end = fresh_window(60, needed=needed)
        answers = fire(port, key, count, threads=threads)
        if max(answer.ended for answer in answers) < window_end:
            return answers
    pytest.fail(f"{len(keys)} attempts crossed a window boundary")


def fresh_window(seconds: int, needed: float) -> float:
    """Wait, if need be, until at least ``needed`` seconds of the current fixed window remain (the
    windows are aligned to the epoch on the database clock, which is this machine's); returns when
    that window ends, on the monotonic clock."""
    left = seconds - time.time() % seconds
    if left < needed:
        time.sleep(left + 0.3)
        left = seconds - time.time() % seconds
    return time.monotonic() + left


def start_server(data_dir, **overrides) -> tuple[subprocess.Popen, int]:
    """`manage.py serve` (what `make run` runs) with the defaults, two web workers and
    RATE_LIMIT_REQUESTS=30 (unless ``overrides`` say otherwise), until /health answers."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "PORT", "HOST")}
    env.update(
        MEM0G_DATA_DIR=str(data_dir),
        PORT=str(port),
        WEB_CONCURRENCY="2",
        RATE_LIMIT_REQUESTS=str(LIMIT),
        API_KEYS=",".join(KEYS + WARMUP_KEYS),
        ADMIN_API_KEYS=ADMIN_KEY,
    )
    env.update(overrides)
    log = (data_dir / f"server-{port}.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "manage.py", "serve"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    wait_for(f"http://127.0.0.1:{port}/health", server, seconds=120)
    return server, port


def wait_for_both_workers(port: int) -> None:
    """Each worker loads the embedding model in the background as it starts; until both have, one
    of them answers slowly and may serve nothing. Ask (a fresh key each round) until both say so."""
    loaded: set[int] = set()
    deadline = time.monotonic() + 120
    for round_ in range(10**6):
        if len(loaded) == 2 or time.monotonic() > deadline:
            break
        for answer in fire(port, WARMUP_KEYS[round_ % len(WARMUP_KEYS)], 4, threads=4):
            if answer.status == 200 and answer.body["embedder"]["status"] == "loaded":
                loaded.add(answer.body["worker_pid"])
        time.sleep(1)
    assert len(loaded) == 2, "both workers should have loaded the embedding model"


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    """Three servers on one data directory (so one database and one set of counters): one without the
    burst limit, one with RATE_LIMIT_BURST=8, one with RATE_LIMIT_REQUESTS=600 (so leases of slots
    come into play). Their keys differ, so their budgets do not mix."""
    data_dir = tmp_path_factory.mktemp("data")
    started = []
    try:
        # The first one makes the database and migrates it.
        for overrides in ({"RATE_LIMIT_BURST": "0"}, {"RATE_LIMIT_BURST": str(BURST)}):
            started.append(start_server(data_dir, **overrides))
        started.append(start_server(data_dir, RATE_LIMIT_BURST="0", RATE_LIMIT_REQUESTS=str(LEASED_LIMIT)))
        for _, port in started:
            wait_for_both_workers(port)
        yield {"no_burst": started[0][1], "with_burst": started[1][1], "leased": started[2][1]}
    finally:
        for server, _ in started:
            os.killpg(server.pid, signal.SIGTERM)
        for server, _ in reversed(started):
            server.wait(timeout=60)


@pytest.fixture
def no_burst(servers) -> int:
    return servers["no_burst"]


@pytest.fixture
def with_burst(servers) -> int:
    return servers["with_burst"]


@pytest.fixture
def leased(servers) -> int:
    return servers["leased"]


def remaining(answer: Answer) -> int:
    return int(answer.headers["X-RateLimit-Remaining"])


def status_requests(port: int) -> int:
    metrics = call(port, ADMIN_KEY, "/metrics")
    assert metrics.status == 200, metrics.body
    return metrics.body["endpoints"].get("GET status", {}).get("requests", 0)


def test_two_workers_allow_exactly_the_limit_and_remaining_only_counts_down(no_burst):
    before = status_requests(no_burst)
    answers = fire_in_one_window(no_burst, KEYS[:3], LIMIT + 10, needed=15)

    allowed = [answer for answer in answers if answer.status == 200]
    refused = [answer for answer in answers if answer.status != 200]
    pids = {answer.body["worker_pid"] for answer in allowed}
    assert len(pids) == 2, f"both worker processes should have served: {pids}"
    assert len(allowed) == LIMIT
    assert len(refused) == 10 and {answer.status for answer in refused} == {429}
    for answer in refused:
        assert answer.body["code"] == "RATE_LIMIT_EXCEEDED"
        assert 1 <= int(answer.headers["Retry-After"]) <= 60
        assert answer.headers["X-RateLimit-Remaining"] == "0"

    # Every allowed answer has its own Remaining: LIMIT-1 ... 0, each once.
    assert sorted(remaining(answer) for answer in allowed) == list(range(LIMIT))
    assert all(answer.headers["X-RateLimit-Limit"] == str(LIMIT) for answer in answers)
    assert all(1 <= int(answer.headers["X-RateLimit-Reset"]) <= 60 for answer in answers)
    # Only down: an answer received before another request was sent shows more remaining.
    for first in allowed:
        for later in allowed:
            if first.ended < later.started:
                assert remaining(first) > remaining(later), (first, later)

    # The request metrics are shared too: both workers' requests, counted once each (each worker
    # writes its figures every METRICS_FLUSH_SECONDS, 1 s by default).
    deadline = time.monotonic() + 10
    while (counted := status_requests(no_burst) - before) < LIMIT + 10 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert counted == LIMIT + 10


def test_the_burst_limit_holds_exactly_across_workers(with_burst):
    sent = 20
    # Retried with a new key if the burst crossed a 10-s boundary or one worker took all 8.
    for key in KEYS[3:6]:
        window_end = fresh_window(10, needed=8)
        answers = fire(with_burst, key, sent, threads=6)
        allowed = [answer for answer in answers if answer.status == 200]
        crossed = max(answer.ended for answer in answers) >= window_end
        if not crossed and len({answer.body["worker_pid"] for answer in allowed}) == 2:
            break
    else:
        pytest.fail("three attempts crossed a window boundary or were served by one worker")

    refused = [answer for answer in answers if answer.status != 200]
    assert len(allowed) == BURST
    assert len(refused) == sent - BURST and {answer.status for answer in refused} == {429}
    assert all(1 <= int(answer.headers["Retry-After"]) <= 10 for answer in refused)
    # The requests were the first in the minute's window too: refused ones count there as well.
    assert sorted(remaining(answer) for answer in answers) == list(range(LIMIT - sent, LIMIT))


def test_with_leases_two_workers_never_allow_more_than_the_limit(leased):
    answers = fire_in_one_window(leased, KEYS[7:10], LEASED_LIMIT + 200, needed=30, threads=8)

    allowed = [answer for answer in answers if answer.status == 200]
    refused = [answer for answer in answers if answer.status != 200]
    assert len({answer.body["worker_pid"] for answer in allowed}) == 2, "both worker processes should have served"
    # Slots are unique across the workers: never more than the limit, each allowed answer its own
    # Remaining; refused early at most (m - 1) per worker (accounts/leases.py).
    early = 2 * (min(32, LEASED_LIMIT // 16) - 1)
    assert LEASED_LIMIT - early <= len(allowed) <= LEASED_LIMIT
    assert {answer.status for answer in refused} == {429}
    assert len({remaining(answer) for answer in allowed}) == len(allowed)
    assert all(0 <= remaining(answer) < LEASED_LIMIT for answer in allowed)
    assert all(answer.headers["X-RateLimit-Remaining"] == "0" for answer in refused)


def test_the_mem0_sdk_gets_its_rate_limit_error(no_burst, tmp_path, monkeypatch):
    monkeypatch.setenv("MEM0_TELEMETRY", "false")
    monkeypatch.setenv("HOME", str(tmp_path))
    client_module = importlib.import_module("mem0.client.main")
    mem0_exceptions = importlib.import_module("mem0.exceptions")
    key = KEYS[6]
    fresh_window(60, needed=15)

    warmup = fire(no_burst, key, 10)  # both workers take part in this key's budget
    assert {answer.status for answer in warmup} == {200}
    assert len({answer.body["worker_pid"] for answer in warmup}) == 2

    clients = [client_module.MemoryClient(api_key=key, host=f"http://127.0.0.1:{no_burst}") for _ in range(3)]
    successes, errors = [], []

    def use(client):
        while True:
            try:
                client.get_all(filters={"user_id": "alice"})
            except mem0_exceptions.RateLimitError as error:
                errors.append(error)
                return
            successes.append(1)

    threads = [threading.Thread(target=use, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for client in clients:
        client.client.close()  # no keep-alive connection left to hold the server's shutdown
    assert len(errors) == 3, "every client must see RateLimitError"
    # 10 warm-up calls and 3 constructions (one ping each) came first.
    assert len(successes) == LIMIT - 10 - 3


def test_a_forged_host_gets_400_and_no_link(no_burst):
    forged = call(no_burst, ADMIN_KEY, "/v1/entities/?page=1&page_size=1", host="attacker.example")
    assert forged.status == 400
    assert "next" not in forged.body and "attacker.example" not in json.dumps(forged.body)
    assert forged.body["code"]
    fine = call(no_burst, ADMIN_KEY, "/v1/entities/?page=1&page_size=1", host=f"localhost:{no_burst}")
    assert fine.status == 200
