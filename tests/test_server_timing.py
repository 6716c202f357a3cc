"""The Server-Timing header: on every API response (successes, errors, the MCP route), well formed,
with the stages that ran filled in and consistent with the total."""

import re

import pytest

from mem0g_site.timing import STAGES

NAMES = (*STAGES, "total")
ENTRY = re.compile(r"^([a-z]+);dur=(\d+\.\d{3})$")


def breakdown(response) -> dict[str, float]:
    """The header's durations (ms), asserting its form: every stage once, in order, then total."""
    header = response["Server-Timing"]
    entries = [ENTRY.match(part) for part in header.split(", ")]
    assert all(entries), header
    names = tuple(match.group(1) for match in entries)
    assert names == NAMES, header
    durations = {match.group(1): float(match.group(2)) for match in entries}
    # The stages other than db (which overlaps auth and ratelimit) run one after another.
    sequential = sum(durations[name] for name in STAGES if name != "db")
    assert sequential <= durations["total"] + 0.01, header
    assert durations["db"] <= durations["total"] + 0.01, header
    # The header is written just before X-Response-Time-ms's value is: the same clock.
    assert abs(durations["total"] - float(response["X-Response-Time-ms"])) <= 0.06, header
    return durations


@pytest.fixture
def key(project, make_key):
    return make_key(project)


def test_a_trivial_authenticated_call_has_auth_ratelimit_and_db_time(api, key):
    timing = breakdown(api("GET", "/v1/ping/", key=key))
    assert timing["auth"] > 0 and timing["ratelimit"] > 0 and timing["db"] > 0 and timing["serialize"] > 0
    assert timing["parse"] == 0 and timing["embed"] == 0


def test_a_search_has_parse_embed_db_and_serialize_time(api, key, project, add):
    add(project, "Likes hiking in the Alps", "Has a cat named Miso", user_id="alice")
    response = api(
        "POST", "/v3/memories/search/", key=key, data={"query": "mountain sports", "filters": {"user_id": "alice"}}
    )
    assert response.status_code == 200, response.content
    timing = breakdown(response)
    assert all(timing[name] > 0 for name in ("auth", "ratelimit", "parse", "embed", "db", "serialize"))
    # Every statement is counted: more SQL time than authentication and rate limiting alone spend.
    assert timing["db"] > 0.01


def test_an_add_counts_its_embedding(api, key):
    response = api(
        "POST",
        "/v1/memories/",
        key=key,
        data={"messages": [{"role": "user", "content": "I moved to Lisbon"}], "user_id": "bob", "infer": False},
    )
    assert response.status_code == 200, response.content
    assert breakdown(response)["embed"] > 0


def test_errors_carry_it_too(api, key):
    unauthenticated = api("GET", "/v1/ping/")
    assert unauthenticated.status_code == 401
    assert breakdown(unauthenticated)["ratelimit"] == 0

    wrong_key = api("GET", "/v1/ping/", key="mem0_not-a-real-key-0000000000000")
    assert wrong_key.status_code == 401
    assert breakdown(wrong_key)["auth"] > 0

    missing = api("GET", "/v1/memories/00000000-0000-4000-8000-000000000000/", key=key)
    assert missing.status_code == 404
    breakdown(missing)

    malformed = api("POST", "/v3/memories/search/", key=key, data="{not json")
    assert malformed.status_code == 400
    assert breakdown(malformed)["parse"] > 0

    assert breakdown(api("GET", "/no/such/route/"))["total"] > 0  # a bare 404


def test_the_mcp_route_and_plain_views(api, key, client):
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
    }
    response = api("POST", "/mcp", key=key, data=body, HTTP_ACCEPT="application/json, text/event-stream")
    assert response.status_code == 200, response.content
    assert breakdown(response)["auth"] > 0

    assert api("GET", "/mcp", key=key).status_code == 405
    breakdown(api("GET", "/mcp", key=key))
    breakdown(client.get("/health"))


def test_nothing_is_recorded_outside_a_request(project, add):
    from mem0g_site import timing

    add(project, "Works as a nurse", user_id="carol")
    assert timing.current() is None


def test_metrics_are_written_off_the_request_path(api, key):
    """With METRICS_FLUSH_SECONDS set, a request only adds to this process's pending totals; the
    writer (here called directly) stores them summed, and a read of the metrics writes them first."""
    from django.conf import settings as django_settings

    from accounts.models import Counter
    from mem0g_site import metrics

    previous = django_settings.METRICS_FLUSH_SECONDS
    django_settings.METRICS_FLUSH_SECONDS = 3600.0  # the writer thread never wakes in this test
    try:
        for _ in range(3):
            assert api("GET", "/v1/ping/", key=key).status_code == 200
        assert not Counter.objects.filter(name__startswith="metrics:GET ping|").exists()
        metrics.flush()
        stored = dict(Counter.objects.filter(name__startswith="metrics:GET ping|").values_list("name", "count"))
        assert stored["metrics:GET ping|2xx"] == 3
        api("GET", "/v1/ping/", key=key)
        assert metrics.snapshot()["GET ping"]["requests"] == 4  # the read wrote the pending one first
    finally:
        metrics.flush()
        django_settings.METRICS_FLUSH_SECONDS = previous
