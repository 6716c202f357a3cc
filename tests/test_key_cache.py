"""The per-process API-key cache (accounts/keycache.py): most requests authenticate without SQL,
and a revoked or changed key is refused at once in the same process and within about a second in
another one (a real `manage.py serve` and a real `manage.py revokeapikey` process)."""

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts import counters, keycache
from accounts.models import ApiKey
from accounts.services import apikey_revoke
from tests.test_live_servers import ROOT, free_port, wait_for


@pytest.fixture(autouse=True)
def _empty_cache(monkeypatch):
    monkeypatch.setitem(keycache._state, "checked_at", float("-inf"))
    keycache.clear()
    yield
    keycache.clear()


def key_queries(queries) -> list[str]:
    return [q["sql"] for q in queries if '"accounts_apikey"' in q["sql"] and q["sql"].lstrip().startswith("SELECT")]


def test_a_known_key_is_served_from_the_cache(api, project, make_key):
    key = make_key(project)
    assert api("GET", "/v1/ping/", key=key).status_code == 200
    with CaptureQueriesContext(connection) as queries:
        response = api("GET", "/v1/ping/", key=key)
    assert response.status_code == 200
    assert response.json()["project_id"] == str(project.pk)
    assert key_queries(queries.captured_queries) == []
    # Nor is its use recorded again (once a minute).
    assert not [q for q in queries.captured_queries if q["sql"].startswith('UPDATE "accounts_apikey"')]


def test_the_cache_can_be_turned_off(api, project, make_key, settings):
    settings.API_KEY_CACHE_SECONDS = 0
    key = make_key(project)
    api("GET", "/v1/ping/", key=key)
    with CaptureQueriesContext(connection) as queries:
        assert api("GET", "/v1/ping/", key=key).status_code == 200
    assert len(key_queries(queries.captured_queries)) == 1


def test_revocation_and_scope_changes_apply_at_once_in_the_same_process(api, project, make_key):
    key = make_key(project, scopes="read,write")
    other = make_key(project, scopes="read")
    assert api("GET", "/v1/ping/", key=key).status_code == 200
    assert api("GET", "/v1/ping/", key=other).status_code == 200

    stored = ApiKey.objects.get(prefix=other[:12])
    stored.scopes = ["write"]
    stored.save()
    assert api("GET", "/v1/memories/?user_id=a", key=other).status_code == 403

    apikey_revoke(api_key=ApiKey.objects.get(prefix=key[:12]))
    response = api("GET", "/v1/ping/", key=key)
    assert response.status_code == 401

    # A deleted project takes its keys with it.
    third = make_key(project)
    assert api("GET", "/v1/ping/", key=third).status_code == 200
    ApiKey.objects.filter(prefix=third[:12]).delete()
    assert api("GET", "/v1/ping/", key=third).status_code == 401


def test_requests_get_their_own_copies(api, project, make_key):
    key = make_key(project)
    from accounts.selectors import apikey_authenticate

    first = apikey_authenticate(key)
    first.project.name = "changed by one request"
    first.name = "changed"
    second = apikey_authenticate(key)
    assert second.project.name != "changed by one request" and second.name != "changed"
    assert second.project.organization is not first.project.organization


def test_another_process_changing_a_key_empties_the_cache(api, project, make_key, monkeypatch):
    """What a revocation elsewhere looks like here: the shared generation moves."""
    monkeypatch.setattr(keycache, "GENERATION_CHECK_SECONDS", 0.0)
    key = make_key(project)
    assert api("GET", "/v1/ping/", key=key).status_code == 200
    # Revoked behind this process's back (no signal here), then the generation raised.
    ApiKey.objects.filter(prefix=key[:12]).update(revoked_at="2026-01-01T00:00:00Z")
    assert api("GET", "/v1/ping/", key=key).status_code == 200  # still cached: nothing said so
    counters.add({keycache.GENERATION: 1})
    assert api("GET", "/v1/ping/", key=key).status_code == 401


def test_an_unreadable_generation_means_no_cache(api, project, make_key, monkeypatch):
    key = make_key(project)
    monkeypatch.setattr(keycache, "_read_generation", lambda: None)
    monkeypatch.setattr(keycache, "GENERATION_CHECK_SECONDS", 0.0)
    api("GET", "/v1/ping/", key=key)
    with CaptureQueriesContext(connection) as queries:
        assert api("GET", "/v1/ping/", key=key).status_code == 200
    assert len(key_queries(queries.captured_queries)) == 1


KEY = "mem0_key-cache-revocation-test-key-0000000"


@pytest.mark.live_server_process
def test_revocation_by_another_process_applies_within_the_bound(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "PORT", "HOST")}
    env.update(MEM0G_DATA_DIR=str(tmp_path), PORT=str(port), WEB_CONCURRENCY="1", TASK_WORKERS="0", API_KEYS=KEY)
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "manage.py", "serve"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )

    def ping() -> int:
        request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/ping/", headers={"Authorization": f"Token {KEY}"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code

    try:
        wait_for(f"http://127.0.0.1:{port}/health", server, seconds=120)
        assert [ping() for _ in range(3)] == [200, 200, 200]  # the key is in the worker's cache now
        subprocess.run(
            [sys.executable, "manage.py", "revokeapikey", KEY], cwd=ROOT, env=env, check=True, capture_output=True
        )
        revoked = time.monotonic()
        statuses = []
        while time.monotonic() - revoked < 10:
            statuses.append((time.monotonic() - revoked, ping()))
            if statuses[-1][1] == 401:
                break
            time.sleep(0.05)
        took, status = statuses[-1]
        assert status == 401, statuses
        # GENERATION_CHECK_SECONDS (1 s), plus room for a loaded machine.
        assert took <= keycache.GENERATION_CHECK_SECONDS + 1.5, statuses
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
