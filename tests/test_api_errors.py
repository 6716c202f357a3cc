"""One error format for 400/401/403/404/405/413/429/500 and every endpoint, with request ids."""

import pytest
from django.test import override_settings
from django.urls import path, re_path
from rest_framework.views import APIView

from mem0g_site.urls import urlpatterns as real_urlpatterns
from tests.conftest import error_of


class Boom(APIView):
    required_scope = None

    def get(self, request):
        raise RuntimeError("kaboom: secret internals")


def plain_boom(request):
    raise RuntimeError("kaboom outside DRF")


urlpatterns = [
    re_path(r"^boom/?$", Boom.as_view()),
    path("plain-boom", plain_boom),
    *real_urlpatterns,
]
handler404 = "mem0g_site.errors.page_not_found"
handler500 = "mem0g_site.errors.server_error"


@pytest.fixture
def key(project, make_key):
    return make_key(project, scopes="read,write,admin")


def test_400_for_unknown_query_parameters(api, key):
    body = error_of(api("GET", "/v1/users/alice/stats?colour=blue", key=key), 400, "INVALID_REQUEST")
    assert "colour" in body["detail"]


def test_mem0_clients_org_and_project_params_are_tolerated(api, key, add, project):
    add(project, "User likes tea", user_id="alice")
    assert api("GET", "/v1/users/alice/stats?org_id=o&project_id=p", key=key).status_code == 200


def test_400_for_malformed_json(api, key):
    body = error_of(api("DELETE", "/v1/users/alice/memories", key=key, data="{not json"), 400, "INVALID_REQUEST")
    assert "Malformed" in body["detail"]


def test_401_403_404_405_shapes(api, project, make_key, key):
    error_of(api("GET", "/status"), 401, "UNAUTHORIZED")
    error_of(api("GET", "/metrics", key=make_key(project, scopes="read")), 403, "FORBIDDEN")
    error_of(api("GET", "/v1/users/ghost/stats", key=key), 404, "USER_NOT_FOUND")
    error_of(api("GET", "/no/such/route", key=key), 404, "NOT_FOUND")
    response = api("POST", "/status", key=key)
    error_of(response, 405, "METHOD_NOT_ALLOWED")
    assert "GET" in response["Allow"]
    plain = api("POST", "/health")
    error_of(plain, 405, "METHOD_NOT_ALLOWED")
    assert plain["Allow"] == "GET"


def test_413_for_a_body_over_the_limit(api, key, settings):
    settings.MAX_REQUEST_BYTES = 2048
    body = error_of(
        api("DELETE", "/v1/users/alice/memories", key=key, data={"pad": "x" * 5000}), 413, "PAYLOAD_TOO_LARGE"
    )
    assert "2048" in body["detail"]


@override_settings(ROOT_URLCONF=__name__)
def test_500_hides_internals_in_drf_views(api, key):
    body = error_of(api("GET", "/boom", key=key), 500, "INTERNAL_ERROR")
    assert "kaboom" not in body["detail"] and "kaboom" not in str(body["error"])


@override_settings(ROOT_URLCONF=__name__)
def test_500_outside_drf_has_the_same_shape(client, db):
    client.raise_request_exception = False
    error_of(client.get("/plain-boom"), 500, "INTERNAL_ERROR")


def test_request_ids_are_echoed_or_made(api, key):
    echoed = api("GET", "/status", key=key, HTTP_X_REQUEST_ID="client-req-42")
    assert echoed["X-Request-ID"] == "client-req-42"
    made = api("GET", "/status", key=key, HTTP_X_REQUEST_ID="bad id with spaces")
    assert made["X-Request-ID"] != "bad id with spaces" and len(made["X-Request-ID"]) == 36
    assert float(made["X-Response-Time-ms"]) >= 0
    error = api("GET", "/status", HTTP_X_REQUEST_ID="trace-7")
    assert error.json()["request_id"] == "trace-7"


def test_html_pages_keep_html_errors(client, db):
    response = client.get("/admin/no-such-page/")
    assert response.status_code in (302, 404)
    assert not response.get("Content-Type", "").startswith("application/json")
