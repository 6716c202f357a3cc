"""Operator endpoints: /status, per-user stats and deletion, /metrics, the request log line."""

import json
import logging
from datetime import UTC, datetime

import pytest

from memories.models import Memory, MemoryHistory


@pytest.fixture
def admin_key(project, make_key):
    return make_key(project, scopes="admin")


def test_status_reports_database_embedder_version_uptime(api, project, make_key):
    body = api("GET", "/status", key=make_key(project, scopes="read")).json()
    assert body["status"] == "ok"
    assert body["database"]["status"] == "ok" and body["database"]["pgvector"]
    assert body["embedder"]["status"] in ("loaded", "not_loaded")
    assert body["embedder"]["model"] == "all-MiniLM-L6-v2"
    if body["embedder"]["status"] == "loaded":  # texts per joined model call, 0: none
        assert isinstance(body["embedder"]["microbatch"], int) and body["embedder"]["microbatch"] >= 0
    assert body["version"] and body["uptime_seconds"] >= 0


def test_user_stats_counts_and_activity(api, project, make_key, add):
    t0, t1 = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC)
    add(project, "User likes tea", user_id="alice", agent_id="chef", categories=["food"], now=t0)
    add(project, "User likes jazz", user_id="alice", run_id="r1", categories=["music", "food"], now=t1)
    closed = add(project, "User lived in Porto", user_id="alice", now=t0)
    Memory.objects.filter(pk=closed.id).update(valid_to=t1)
    add(project, "Somebody else", user_id="bob")

    body = api("GET", "/v1/users/alice/stats", key=make_key(project, scopes="read")).json()

    assert body["user_id"] == "alice"
    assert (body["total_memories"], body["current_memories"], body["superseded_memories"]) == (3, 2, 1)
    assert body["by_agent"] == {"chef": 1, "none": 2}
    assert body["by_run"] == {"r1": 1, "none": 2}
    assert body["by_category"] == {"food": 2, "music": 1}
    assert body["first_activity"].startswith("2026-01-01")
    assert body["last_activity"].startswith("2026-03-01")
    assert body["storage_bytes"] > 3 * 384 * 4


def test_delete_user_memories_counts_and_keeps_history(api, project, make_key, add):
    add(project, "User likes tea", "User likes jazz", user_id="alice")
    add(project, "Other user", user_id="bob")
    response = api("DELETE", "/v1/users/alice/memories", key=make_key(project))
    assert response.status_code == 200
    assert response.json()["deleted"] == 2
    assert list(Memory.objects.values_list("user_id", flat=True)) == ["bob"]
    assert MemoryHistory.objects.filter(user_id="alice", event="DELETE").count() == 2


def test_metrics_count_requests_latency_and_errors_per_endpoint(api, project, make_key, admin_key):
    reader = make_key(project, scopes="read")
    for _ in range(3):
        api("GET", "/status", key=reader)
    api("GET", "/v1/users/ghost/stats", key=reader)  # 404

    body = api("GET", "/metrics", key=admin_key).json()["endpoints"]

    status = body["GET status"]
    assert status["requests"] == 3 and status["responses"]["2xx"] == 3 and status["error_rate"] == 0
    assert status["latency_ms"]["p50"] is not None and status["latency_ms"]["p95"] >= status["latency_ms"]["p50"]
    stats = body["GET user-stats"]
    assert stats["requests"] == 1 and stats["responses"]["4xx"] == 1 and stats["error_rate"] == 1.0


def test_prometheus_text_by_accept_header_and_path(api, project, make_key, admin_key):
    api("GET", "/status", key=make_key(project, scopes="read"))
    by_accept = api("GET", "/metrics", key=admin_key, HTTP_ACCEPT="text/plain")
    by_path = api("GET", "/metrics/prometheus", key=admin_key)
    for response in (by_accept, by_path):
        assert response.status_code == 200 and response["Content-Type"].startswith("text/plain")
        text = response.content.decode()
        assert 'mem0g_requests_total{endpoint="GET status",status="2xx"} 1' in text
        assert 'mem0g_request_duration_seconds_count{endpoint="GET status"} 1' in text
        assert 'le="+Inf"' in text


def test_metrics_are_server_wide_only_for_the_operator(api, project, other_project, make_key, settings):
    """A tenant's admin key sees its own project's figures; the operator's organisation keys (the
    default organisation, where ADMIN_API_KEYS live) and METRICS_TOKEN see the whole server."""
    from accounts.services import apikey_create

    tenant_admin = make_key(other_project, scopes="admin")
    for _ in range(2):
        api("GET", "/status", key=make_key(project, scopes="read"))
    api("GET", "/v1/ping/", key=make_key(other_project, scopes="read"))

    tenant = api("GET", "/metrics", key=tenant_admin).json()
    assert tenant["scope"] == "project" and tenant["project_id"] == str(other_project.id)
    assert "GET status" not in tenant["endpoints"] and tenant["endpoints"]["GET ping"]["requests"] == 1
    prometheus = api("GET", "/metrics/prometheus", key=tenant_admin).content.decode()
    assert 'endpoint="GET status"' not in prometheus and 'endpoint="GET ping"' in prometheus

    # An organisation key of another organisation is still a tenant.
    tenant_org = apikey_create(project=other_project, name="o", scopes="admin", organization_key=True)[1]
    assert api("GET", "/metrics", key=tenant_org).json()["scope"] == "project"

    operator = apikey_create(project=project, name="op", scopes="admin", organization_key=True)[1]
    server = api("GET", "/metrics", key=operator).json()
    assert server["scope"] == "server" and server["project_id"] is None
    assert server["endpoints"]["GET status"]["requests"] == 2 and server["endpoints"]["GET ping"]["requests"] == 1
    # A plain admin key of the default project is a project key like any other.
    assert api("GET", "/metrics", key=make_key(project, scopes="admin")).json()["scope"] == "project"

    settings.METRICS_TOKEN = "scraper-token-0123456789"
    scraped = api("GET", "/metrics/prometheus", key="scraper-token-0123456789", header="bearer")
    assert scraped.status_code == 200 and 'endpoint="GET ping"' in scraped.content.decode()
    assert 'endpoint="GET status"' in scraped.content.decode()
    # The token reads metrics and nothing else.
    assert api("GET", "/status", key="scraper-token-0123456789", header="bearer").status_code == 401
    assert api("GET", "/metrics", key="wrong-token-0123456789abc", header="bearer").status_code == 401
    assert api("GET", "/metrics").status_code == 401


def test_one_log_line_per_request_without_secrets(api, project, make_key, caplog):
    key = make_key(project, scopes="read")
    with caplog.at_level(logging.INFO, logger="mem0g.requests"):
        api("GET", "/status", key=key, HTTP_X_REQUEST_ID="log-test-1")
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "mem0g.requests"]
    assert len(lines) == 1
    line = lines[0]
    assert line["method"] == "GET" and line["path"] == "/status" and line["status"] == 200
    assert line["request_id"] == "log-test-1" and line["key_prefix"] == key[:12]
    assert line["duration_ms"] >= 0
    assert key not in json.dumps(line)
