"""Paths and shapes of the 0.1.x / 1.0.x Mem0 clients (MEM0_API.md §A.6), as raw HTTP."""

import pytest


@pytest.fixture
def key(project, make_key):
    return make_key(project)


def test_v1_add_honours_output_format(api, key):
    body = {"messages": [{"role": "user", "content": "raw turn"}], "user_id": "alice", "infer": False}
    bare = api(
        "POST", "/v1/memories/", key=key, data={**body, "output_format": "v1.0", "org_id": "o", "project_id": "p"}
    )
    assert bare.status_code == 200
    assert isinstance(bare.json(), list)
    assert bare.json()[0]["event"] == "ADD" and bare.json()[0]["data"] == {"memory": "raw turn"}
    wrapped = api("POST", "/v1/memories/", key=key, data={**body, "output_format": "v1.1", "version": "v2"})
    assert wrapped.json()["results"][0]["data"] == {"memory": "raw turn"}


def test_v1_get_lists_with_top_level_ids(api, key, project, add):
    add(project, "a", "b", user_id="alice")
    add(project, "c", user_id="bob")
    response = api("GET", "/v1/memories/?user_id=alice&org_id=o&project_id=p", key=key)
    assert response.status_code == 200
    assert sorted(m["memory"] for m in response.json()["results"]) == ["a", "b"]
    assert response.json()["count"] == 2


def test_v2_list_takes_filters_or_top_level_ids(api, key, project, add):
    add(project, "a", "b", user_id="alice")
    add(project, "c", user_id="bob")
    by_filters = api("POST", "/v2/memories/?page=1&page_size=1", key=key, data={"filters": {"user_id": "alice"}})
    assert by_filters.json()["count"] == 2 and len(by_filters.json()["results"]) == 1
    by_ids = api("POST", "/v2/memories/", key=key, data={"user_id": "bob", "org_id": "o"})
    assert [m["memory"] for m in by_ids.json()["results"]] == ["c"]


def test_v1_and_v2_search(api, key, project, add):
    add(project, "User prefers Python for scripting", "User has a dog", user_id="alice")
    v1 = api("POST", "/v1/memories/search/", key=key, data={"query": "programming", "user_id": "alice", "top_k": 1})
    assert [m["memory"] for m in v1.json()["results"]] == ["User prefers Python for scripting"]
    bare = api(
        "POST",
        "/v1/memories/search/",
        key=key,
        data={"query": "programming", "user_id": "alice", "output_format": "v1.0"},
    )
    assert isinstance(bare.json(), list)
    v2 = api("POST", "/v2/memories/search/", key=key, data={"query": "programming", "filters": {"user_id": "alice"}})
    assert v2.json()["results"][0]["memory"] == "User prefers Python for scripting"
    assert all(m["score"] >= 0.3 for m in v2.json()["results"])  # v2's default threshold


def test_every_platform_path_answers_without_its_slash_too(api, key, project, add):
    memory = add(project, "User likes tea", user_id="alice")
    for path in ("/v1/ping", f"/v1/memories/{memory.id}", f"/v1/memories/{memory.id}/history", "/v1/entities"):
        assert api("GET", path, key=key).status_code == 200, path
        assert api("GET", path + "/", key=key).status_code == 200, path


def test_unknown_body_fields_are_ignored_and_named(api, key):
    """Mem0's dialects ignore fields they do not know (tests/test_unknown_fields.py has the policy)."""
    response = api(
        "POST", "/v3/memories/search/", key=key, data={"query": "x", "filters": {"user_id": "a"}, "colour": "blue"}
    )
    assert response.status_code == 200 and response["X-Mem0g-Ignored-Fields"] == "colour"


def test_unsupported_filters_name_the_key(api, key):
    response = api("POST", "/v3/memories/", key=key, data={"filters": {"user_id": "a", "colour": "blue"}})
    assert response.status_code == 400 and "colour" in response.json()["detail"]


def test_v1_get_reads_its_query_string_with_the_list_contract(api, key, project, add):
    add(project, "a", user_id="alice")
    listed = api("GET", "/v1/memories/?filters={'user_id': 'alice'}&start_date=2000-01-01&version=v2", key=key)
    assert listed.status_code == 200 and [m["memory"] for m in listed.json()["results"]] == ["a"]
    assert listed["X-Mem0g-Ignored-Fields"] == "version"  # start_date is read, not ignored
    later = api("GET", "/v1/memories/?user_id=alice&start_date=2999-01-01", key=key)
    assert later.json()["count"] == 0
    assert api("GET", "/v1/memories/?filters=[1]", key=key).status_code == 400
    assert api("GET", "/v1/memories/?user_id=alice&page_size=0", key=key).status_code == 422
    # What narrows a list but not a delete is refused on the delete, never ignored.
    refused = api("DELETE", "/v1/memories/?user_id=alice&start_date=2999-01-01", key=key)
    assert refused.status_code == 400 and refused.json()["code"] == "INVALID_REQUEST"
    assert api("GET", "/v1/memories/?user_id=alice", key=key).json()["count"] == 1
