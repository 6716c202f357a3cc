"""Per-key rate limits: RATE_LIMIT_REQUESTS per window and a burst limit, with X-RateLimit-*
headers on every authenticated response and 429 + Retry-After past the limit."""

import pytest

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
