"""A kept database connection (CONN_MAX_AGE, CONN_HEALTH_CHECKS) is checked with a round trip only
when the server has written to it since its last statement (mem0g_site/kept_connections.py)."""

import time

import pytest
from django.db import DEFAULT_DB_ALIAS, connection, connections

from mem0g_site.kept_connections import check_kept, server_has_spoken

pytestmark = pytest.mark.django_db


@pytest.fixture
def kept(monkeypatch):
    """A connection of its own (outside the test's transaction), opened and used once, as a request
    leaves it; ``kept.checks`` counts Django's ``SELECT 1`` health checks."""
    fresh = connections.create_connection(DEFAULT_DB_ALIAS)
    fresh.ensure_connection()
    assert fresh.health_check_enabled, "the settings keep connections with health checks"
    with fresh.cursor() as cursor:
        cursor.execute("SELECT 1")
    fresh.health_check_done = False  # a new request (Django resets it when a request starts)
    fresh.checks = 0
    real = fresh.is_usable

    def counted():
        fresh.checks += 1
        return real()

    monkeypatch.setattr(fresh, "is_usable", counted)
    try:
        yield fresh
    finally:
        fresh.close()


def backend_pid(wrapper) -> int:
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def test_a_quiet_kept_connection_is_used_without_a_round_trip(kept):
    driver = kept.connection
    assert not server_has_spoken(driver)
    check_kept(kept)
    assert kept.checks == 0
    assert kept.health_check_done
    assert kept.connection is driver
    check_kept(kept)  # once a request
    assert kept.checks == 0


def test_a_connection_the_server_ended_is_dropped_and_the_next_query_opens_another(kept):
    ended = backend_pid(kept)
    kept.health_check_done, kept.checks = False, 0  # a new request
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [ended])
        assert cursor.fetchone()[0]
    deadline = time.monotonic() + 10
    while not server_has_spoken(kept.connection) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server_has_spoken(kept.connection), "the server's goodbye should be there to read"
    check_kept(kept)
    assert kept.checks == 1
    assert kept.connection is None
    assert backend_pid(kept) != ended


def test_a_closed_driver_counts_as_spoken(kept):
    kept.connection.close()
    assert server_has_spoken(kept.connection)


def test_a_request_on_a_quiet_kept_connection_sends_no_select_1(api, project, make_key, monkeypatch):
    """Through the request-edge middleware: the request's own queries run, Django's check does not."""
    key = make_key(project, scopes="read")
    connection.ensure_connection()
    assert connection.health_check_enabled
    checks = []
    real = connection.is_usable
    monkeypatch.setattr(connection, "is_usable", lambda: checks.append(1) or real())
    connection.health_check_done = False  # a new request on a kept connection
    response = api("GET", "/v1/memories/?user_id=alice", key=key)
    assert response.status_code == 200
    assert connection.health_check_done
    assert checks == []
