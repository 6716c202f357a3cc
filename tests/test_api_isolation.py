"""A key reaches its own project only, and a user-restricted key only its user: everything else
is answered exactly like something that does not exist."""

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
