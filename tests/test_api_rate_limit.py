"""Per-key rate limits: RATE_LIMIT_REQUESTS per window and a burst limit, with X-RateLimit-*
headers on every authenticated response and 429 + Retry-After past the limit. (Several worker
processes sharing the counters: tests/test_rate_limit_processes.py; through Redis:
tests/test_live_servers.py.)"""

import math
import socket
import time

import pytest

from accounts import counters
from accounts.models import ApiKey, Counter
from tests.conftest import error_of


@pytest.fixture
def key(project, make_key):
    return make_key(project)


def test_the_101st_request_in_a_minute_is_refused(api, key, settings):
    settings.RATE_LIMIT_BURST = 0
    remaining = []
    for _ in range(100):
        response = api("GET", "/status", key=key)
        assert response.status_code == 200
        assert response["X-RateLimit-Limit"] == "100"
        assert 0 <= int(response["X-RateLimit-Reset"]) <= 65
        remaining.append(int(response["X-RateLimit-Remaining"]))
    assert remaining == list(range(99, -1, -1))

    refused = api("GET", "/status", key=key)
    body = error_of(refused, 429, "RATE_LIMIT_EXCEEDED")
    assert 1 <= int(refused["Retry-After"]) <= 65
    assert refused["X-RateLimit-Remaining"] == "0"
    assert "retry" in body["detail"].lower()


def test_each_key_has_its_own_budget(api, project, make_key, settings):
    settings.RATE_LIMIT_BURST = 0
    settings.RATE_LIMIT_REQUESTS = 3
    first, second = make_key(project), make_key(project)
    for _ in range(3):
        assert api("GET", "/status", key=first).status_code == 200
    error_of(api("GET", "/status", key=first), 429, "RATE_LIMIT_EXCEEDED")
    assert api("GET", "/status", key=second).status_code == 200


def test_the_burst_limit_refuses_quick_bursts(api, key, settings):
    settings.RATE_LIMIT_BURST = 5
    for _ in range(5):
        assert api("GET", "/status", key=key).status_code == 200
    refused = api("GET", "/status", key=key)
    error_of(refused, 429, "RATE_LIMIT_EXCEEDED")
    assert 1 <= int(refused["Retry-After"]) <= 15


def test_refused_and_forbidden_calls_carry_the_headers_too(api, project, make_key):
    response = api("GET", "/metrics", key=make_key(project, scopes="read"))
    assert response.status_code == 403
    assert response["X-RateLimit-Limit"] == "100" and response["X-RateLimit-Remaining"] == "99"


def test_unauthenticated_responses_carry_no_rate_limit_headers(api, db):
    response = api("GET", "/status")
    assert response.status_code == 401 and "X-RateLimit-Limit" not in response


def test_the_limit_follows_the_settings(api, key, settings):
    settings.RATE_LIMIT_REQUESTS = 7
    settings.RATE_LIMIT_WINDOW_MINUTES = 5
    response = api("GET", "/status", key=key)
    assert response["X-RateLimit-Limit"] == "7" and response["X-RateLimit-Remaining"] == "6"
    assert 0 <= int(response["X-RateLimit-Reset"]) <= 305


def test_the_counters_are_rows_of_the_shared_table(api, key, settings):
    settings.RATE_LIMIT_BURST = 5
    settings.RATE_LIMIT_LEASE_MAX = 1  # one slot per request (leases: tests/test_rate_lease.py)
    if time.time() % 10 > 7:  # both requests in one 10 s burst window (and so one minute window)
        time.sleep(10 - time.time() % 10 + 0.05)
    api("GET", "/status", key=key)
    api("GET", "/status", key=key)
    # This key's rows only: a module-scoped fixture elsewhere (test_access_matrix's world) commits
    # requests of its own keys, whose counter rows outlive it.
    key_id = ApiKey.objects.get(prefix=key[:12]).pk
    rows = {row.name: row for row in Counter.objects.filter(name__startswith="rl:", name__endswith=f":{key_id}")}
    assert set(rows) == {f"rl:w:{key_id}", f"rl:b:{key_id}"}
    assert all(row.count == 2 for row in rows.values())
    window = next(row for name, row in rows.items() if name.startswith("rl:w:"))
    assert window.window_start % 60 == 0 and window.expires_at == window.window_start + 60


def test_ended_windows_are_pruned_and_metrics_kept(api, key, monkeypatch):
    Counter.objects.create(name="rl:w:0", window_start=60, expires_at=120, count=5)
    Counter.objects.create(name="metrics:GET old|2xx", window_start=0, expires_at=None, count=7)
    monkeypatch.setattr(counters.DatabaseStore, "_last_prune", -math.inf)
    assert api("GET", "/status", key=key).status_code == 200
    assert not Counter.objects.filter(name="rl:w:0").exists()
    assert Counter.objects.get(name="metrics:GET old|2xx").count == 7


@pytest.fixture
def dead_redis_url():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"  # nothing listens there


def test_a_failing_counter_store_lets_requests_through_uncounted(api, key, settings, dead_redis_url):
    settings.REDIS_URL = dead_redis_url
    response = api("GET", "/status", key=key)
    assert response.status_code == 200
    assert "X-RateLimit-Limit" not in response and "X-RateLimit-Remaining" not in response


def test_a_failing_counter_store_can_refuse_instead(api, key, settings, dead_redis_url):
    settings.REDIS_URL = dead_redis_url
    settings.RATE_LIMIT_FAIL_OPEN = False
    body = error_of(api("GET", "/status", key=key), 503, "SERVICE_UNAVAILABLE")
    assert "rate limit" in body["detail"].lower()
