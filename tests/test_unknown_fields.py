"""Unknown body fields and query parameters: ignored and named on Mem0's dialects (whose clients add
fields from one release to the next, e.g. the CLI's ``"source": "CLI"``), refused on our own routes;
known fields of the wrong type are refused everywhere."""

import json
import logging

import pytest

from memories.models import Memory
from tests.conftest import error_of

HEADER = "X-Mem0g-Ignored-Fields"


@pytest.fixture
def key(project, make_key):
    return make_key(project, scopes="read,write,admin")


@pytest.fixture
def memory(project, add):
    return add(project, "User likes green tea", user_id="alice")


def test_platform_routes_ignore_unknown_fields_and_name_them(api, key, memory, caplog):
    with caplog.at_level(logging.INFO, logger="mem0g.requests"):
        added = api(
            "POST",
            "/v3/memories/add/",
            key=key,
            data={"messages": "I play the oboe", "user_id": "alice", "infer": False, "source": "CLI", "zz": 1},
        )
    assert added.status_code == 200, added.content
    assert added[HEADER] == "source, zz"
    assert Memory.objects.filter(memory="I play the oboe").exists()
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "mem0g.requests"]
    assert lines[-1]["ignored_fields"] == ["source", "zz"]

    fetched = api("GET", f"/v1/memories/{memory.id}/?source=CLI", key=key)
    assert fetched.status_code == 200 and fetched[HEADER] == "source"
    updated = api("PUT", f"/v1/memories/{memory.id}/", key=key, data={"text": "User likes white tea", "source": "CLI"})
    assert updated.json()["memory"] == "User likes white tea" and updated[HEADER] == "source"
    search = api("POST", "/v3/memories/search/?source=CLI", key=key, data={"query": "tea", "user_id": "alice"})
    assert search.status_code == 200 and search[HEADER] == "source"
    deleted = api("DELETE", f"/v1/memories/{memory.id}/?source=CLI", key=key)
    assert deleted.status_code == 200 and deleted[HEADER] == "source"


def test_nothing_ignored_means_no_header(api, key, memory):
    response = api("GET", f"/v1/memories/{memory.id}/", key=key)
    assert response.status_code == 200 and HEADER not in response
    assert api("GET", f"/v1/memories/{memory.id}/?org_id=o&project_id=p", key=key).get(HEADER) is None


def test_oss_and_admin_routes_ignore_unknown_fields(api, key, project):
    added = api(
        "POST",
        "/memories",
        key=key,
        data={"messages": [{"role": "user", "content": "x"}], "user_id": "bob", "infer": False, "source": "x"},
    )
    assert added.status_code == 200 and added[HEADER] == "source"
    listed = api("GET", "/memories?user_id=bob&source=x", key=key)
    assert listed.status_code == 200 and listed[HEADER] == "source"
    settings_path = f"/api/v1/orgs/organizations/{project.organization_id}/projects/{project.id}/"
    patched = api("PATCH", settings_path, key=key, data={"custom_instructions": "Food only", "source": "CLI"})
    assert patched.status_code == 200 and patched[HEADER] == "source"


def test_known_fields_of_the_wrong_type_are_still_refused(api, key, memory):
    body = {"query": "tea", "user_id": "alice", "top_k": "many", "source": "CLI"}
    error_of(api("POST", "/v3/memories/search/", key=key, data=body), 422, "VALIDATION_ERROR")
    update = {"metadata": "not an object", "source": "CLI"}
    error_of(api("PUT", f"/v1/memories/{memory.id}/", key=key, data=update), 422, "VALIDATION_ERROR")
    assert Memory.objects.get(pk=memory.pk).metadata in ({}, None)


def test_a_delete_never_ignores_what_would_have_narrowed_it(api, key, project, add):
    add(project, "User likes cake", user_id="alice", categories=["food"])
    add(project, "User likes jazz", user_id="alice")
    body = error_of(api("DELETE", "/v1/memories/?user_id=alice&categories=food", key=key), 400, "INVALID_REQUEST")
    assert "categories" in body["detail"]
    assert Memory.objects.filter(project=project, user_id="alice").count() == 2


@pytest.mark.parametrize(
    "method, path, data",
    [
        ("GET", "/v1/users/alice/stats?source=CLI", None),
        ("DELETE", "/v1/users/alice/memories?source=CLI", None),
        ("GET", "/status?source=CLI", None),
        ("GET", "/metrics?source=CLI", None),
        ("GET", "/v1/memories/{id}/related?source=CLI", None),
        ("GET", "/v1/memories/{id}/timeline?source=CLI", None),
        ("GET", "/v1/memories/graph?user_id=alice&source=CLI", None),
        ("POST", "/v1/memories/{id}/relationships", {"target_id": "{id}", "relation": "related_to", "source": "CLI"}),
    ],
)
def test_our_own_routes_refuse_unknown_fields(api, key, memory, method, path, data):
    path = path.replace("{id}", str(memory.id))
    if data is not None:
        data = json.loads(json.dumps(data).replace("{id}", str(memory.id)))
    body = error_of(api(method, path, key=key, data=data), 400, "INVALID_REQUEST")
    assert "source" in body["detail"]
