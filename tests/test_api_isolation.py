"""A key reaches its own project only, and a user-restricted key only its user: everything else
is answered exactly like something that does not exist."""

import json
import uuid

import pytest

from memories.models import Memory
from tests.conftest import error_of


def _comparable(body: dict) -> dict:
    """An error body without the parts that differ per request."""
    body = dict(body)
    body.pop("request_id"), body.pop("timestamp")
    body["error"] = {k: v for k, v in body["error"].items() if k != "request_id"}
    return body


@pytest.fixture
def projects(project, other_project, add):
    add(project, "User loves green tea", "User has a cat", user_id="alice")
    add(project, "User plays the piano", user_id="bob")
    return project, other_project


def test_another_projects_user_is_indistinguishable_from_a_missing_one(api, projects, make_key):
    project_a, project_b = projects
    key_b = make_key(project_b)
    theirs = error_of(api("GET", "/v1/users/alice/stats", key=key_b), 404, "USER_NOT_FOUND")
    missing = error_of(api("GET", "/v1/users/nobody-at-all/stats", key=key_b), 404, "USER_NOT_FOUND")
    assert _comparable(theirs)["detail"] == _comparable(missing)["detail"] == "User not found"
    assert theirs["error"]["details"] == {"user_id": "alice"}
    assert missing["error"]["details"] == {"user_id": "nobody-at-all"}


def test_deleting_through_another_project_deletes_nothing(api, projects, make_key):
    project_a, project_b = projects
    response = api("DELETE", "/v1/users/alice/memories", key=make_key(project_b))
    assert response.status_code == 200 and response.json()["deleted"] == 0
    assert Memory.objects.filter(project=project_a, user_id="alice").count() == 2


def test_a_user_restricted_key_sees_only_its_user(api, projects, make_key):
    project_a, _ = projects
    key = make_key(project_a, scopes="read,write", user_id="alice")
    assert api("GET", "/v1/users/alice/stats", key=key).json()["total_memories"] == 2
    bob = error_of(api("GET", "/v1/users/bob/stats", key=key), 404, "USER_NOT_FOUND")
    ghost = error_of(api("GET", "/v1/users/ghost/stats", key=key), 404, "USER_NOT_FOUND")
    assert _comparable(bob)["detail"] == _comparable(ghost)["detail"]
    error_of(api("DELETE", "/v1/users/bob/memories", key=key), 404, "USER_NOT_FOUND")
    assert Memory.objects.filter(user_id="bob").count() == 1
    assert api("DELETE", "/v1/users/alice/memories", key=key).json()["deleted"] == 2
    assert Memory.objects.filter(user_id="alice").count() == 0


def test_restricted_keys_are_fenced_in_the_services_too(projects, add):
    from mem0g_site.exceptions import MemoryNotFound
    from memories.inputs import Scope
    from memories.selectors import memory_get, memory_history
    from memories.services import memory_delete, memory_update

    project_a, _ = projects
    bobs = Memory.objects.get(user_id="bob")
    alice_only = Scope(user_id="alice")
    for call in (
        lambda: memory_get(project=project_a, memory_id=bobs.id, within=alice_only),
        lambda: memory_history(project=project_a, memory_id=bobs.id, within=alice_only),
        lambda: memory_update(project=project_a, memory_id=bobs.id, text="hijack", within=alice_only),
        lambda: memory_delete(project=project_a, memory_id=bobs.id, within=alice_only),
    ):
        with pytest.raises(MemoryNotFound):
            call()
    assert Memory.objects.get(pk=bobs.id).memory == "User plays the piano"
    assert memory_get(project=project_a, memory_id=bobs.id, within=Scope(user_id="bob")).id == bobs.id


BY_ID = [
    ("GET", "/v1/memories/{id}/", None),
    ("PUT", "/v1/memories/{id}/", {"text": "hijacked"}),
    ("DELETE", "/v1/memories/{id}/", None),
    ("GET", "/v1/memories/{id}/history/", None),
    ("POST", "/v1/feedback/", {"memory_id": "{id}", "feedback": "NEGATIVE"}),
    ("PUT", "/v1/batch/", {"memories": [{"memory_id": "{id}", "text": "hijacked"}]}),
    ("DELETE", "/v1/batch/", {"memories": [{"memory_id": "{id}"}]}),
    ("GET", "/memories/{id}", None),
    ("PUT", "/memories/{id}", {"text": "hijacked"}),
    ("DELETE", "/memories/{id}", None),
    ("GET", "/memories/{id}/history", None),
]


def _with_id(value, memory_id):
    if value is None:
        return None
    if isinstance(value, str):
        return value.replace("{id}", memory_id)
    return json.loads(json.dumps(value).replace("{id}", memory_id))


@pytest.mark.parametrize("method, path, body", BY_ID)
def test_another_projects_memory_id_is_answered_like_a_missing_one(api, projects, make_key, method, path, body):
    project_a, project_b = projects
    theirs = str(Memory.objects.filter(project=project_a, user_id="alice").first().id)
    missing = str(uuid.uuid4())
    key_b = make_key(project_b, scopes="read,write,admin")

    answers = []
    for memory_id in (theirs, missing):
        response = api(method, _with_id(path, memory_id), key=key_b, data=_with_id(body, memory_id))
        answer = error_of(response, 404, "MEMORY_NOT_FOUND")
        answers.append(json.loads(json.dumps(_comparable(answer)).replace(memory_id, "<id>")))
    assert answers[0] == answers[1]
    assert Memory.objects.filter(pk=theirs, memory__in=["User loves green tea", "User has a cat"]).exists()


@pytest.mark.parametrize("method, path, body", BY_ID)
def test_a_user_restricted_key_cannot_reach_another_users_memory_by_id(api, projects, make_key, method, path, body):
    project_a, _ = projects
    bobs = str(Memory.objects.get(user_id="bob").id)
    key = make_key(project_a, scopes="read,write,admin", user_id="alice")
    error_of(api(method, _with_id(path, bobs), key=key, data=_with_id(body, bobs)), 404, "MEMORY_NOT_FOUND")
    assert Memory.objects.get(pk=bobs).memory == "User plays the piano"


def test_a_user_restricted_key_cannot_reach_another_user_by_query_body_or_filters(api, projects, make_key):
    project_a, _ = projects
    key = make_key(project_a, scopes="read,write", user_id="alice")
    # query string
    error_of(api("GET", "/v1/memories/?user_id=bob", key=key), 404, "USER_NOT_FOUND")
    error_of(api("GET", "/memories?user_id=bob", key=key, header="x-api-key"), 404, "USER_NOT_FOUND")
    error_of(api("GET", "/v1/memories/user/bob", key=key), 404, "USER_NOT_FOUND")
    # body
    error_of(
        api("POST", "/v3/memories/add/", key=key, data={"messages": "I love tea", "user_id": "bob"}),
        404,
        "USER_NOT_FOUND",
    )
    error_of(
        api("POST", "/v1/memories/search/", key=key, data={"query": "piano", "user_id": "bob"}), 404, "USER_NOT_FOUND"
    )
    error_of(api("POST", "/v1/memories/", key=key, data={"content": "x", "user_id": "bob"}), 404, "USER_NOT_FOUND")
    # filters: whatever they say, only alice's memories come back
    for filters in ({"user_id": "bob"}, {"OR": [{"user_id": "alice"}, {"user_id": "bob"}]}, {"user_id": "*"}):
        listed = api("POST", "/v3/memories/", key=key, data={"filters": filters}).json()["results"]
        found = api(
            "POST", "/v3/memories/search/", key=key, data={"query": "piano music", "filters": filters, "threshold": 0}
        ).json()["results"]
        assert {m["user_id"] for m in listed + found} <= {"alice"}, filters
    # without naming anyone, the key acts for alice
    added = api("POST", "/v3/memories/add/", key=key, data={"messages": "I play chess", "infer": False}).json()
    assert Memory.objects.get(pk=added["results"][0]["id"]).user_id == "alice"
    entities = api("GET", "/v1/entities/", key=key).json()["results"]
    assert [(e["type"], e["name"]) for e in entities] == [("user", "alice")]
    assert Memory.objects.filter(user_id="bob").count() == 1


@pytest.mark.parametrize("user_id", [42, 4.0, True, ["42"], {"id": "42"}])
def test_a_restricted_key_cannot_register_another_user_through_another_json_type(api, project, make_key, user_id):
    from accounts.models import RegisteredEntity

    key = make_key(project, user_id="alice")
    response = api("POST", "/v1/users/", key=key, data={"user_id": user_id, "metadata": {"x": 1}})
    assert response.status_code in (404, 422), response.content
    assert not RegisteredEntity.objects.exists()


def test_a_number_and_its_digits_are_the_same_user_for_a_restricted_key(api, project, make_key):
    from accounts.models import RegisteredEntity

    key = make_key(project, user_id="42")
    assert api("POST", "/v1/users/", key=key, data={"user_id": 42}).status_code == 201
    assert list(RegisteredEntity.objects.values_list("name", flat=True)) == ["42"]


def test_a_profile_jobs_idempotency_key_does_not_open_another_users_job(api, projects, make_key):
    project_a, _ = projects
    job = api(
        "POST",
        "/v2/profiles/jobs/",
        key=make_key(project_a),
        data={"operation": "trigger", "entity_id": "bob"},
        HTTP_IDEMPOTENCY_KEY="shared-key",
    ).json()
    alice = make_key(project_a, user_id="alice")
    for body in ({"operation": "trigger", "entity_id": "bob"}, {"operation": "trigger", "entity_id": "alice"}):
        response = api("POST", "/v2/profiles/jobs/", key=alice, data=body, HTTP_IDEMPOTENCY_KEY="shared-key")
        assert response.status_code in (404, 409), response.content
        assert job["job_id"] not in response.content.decode(), response.content
