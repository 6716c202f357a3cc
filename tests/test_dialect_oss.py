"""Mem0's OSS server routes at the root, called with X-API-Key as its clients do."""

from datetime import UTC, datetime, timedelta

import pytest

from memories.inputs import NewMemory, Scope
from memories.models import Memory
from memories.selectors import memory_list
from memories.services import memories_add
from tests.conftest import error_of


@pytest.fixture
def key(project, make_key):
    return make_key(project, scopes="read,write,admin")


@pytest.fixture
def call(api, key):
    def _call(method, path, data=None, **extra):
        return api(method, path, key=key, header="x-api-key", data=data, **extra)

    return _call


def _add(call, text, user_id="alice", **metadata):
    response = call(
        "POST",
        "/memories",
        {"messages": [{"role": "user", "content": text}], "user_id": user_id, "infer": False, "metadata": metadata},
    )
    assert response.status_code == 200, response.content
    return response.json()["results"][0]["id"]


def test_add_get_update_history_delete(call):
    mid = _add(call, "User likes tea", project_id="proj123")
    assert call("GET", f"/memories/{mid}").json()["metadata"] == {"project_id": "proj123"}
    assert call("PUT", f"/memories/{mid}", {"text": "User likes green tea"}).json() == {
        "message": "Memory updated successfully!"
    }
    assert [row["event"] for row in call("GET", f"/memories/{mid}/history").json()] == ["ADD", "UPDATE"]
    assert call("DELETE", f"/memories/{mid}").json() == {"message": "Memory deleted successfully"}
    error_of(call("GET", f"/memories/{mid}"), 404, "MEMORY_NOT_FOUND")  # not "200 null"


def test_add_needs_an_identifier(call):
    response = call("POST", "/memories", {"messages": [{"role": "user", "content": "x"}]})
    body = error_of(response, 400, "INVALID_REQUEST")
    assert "identifier" in body["detail"]


def test_list_filters_on_each_metadata_field(call):
    _add(
        call,
        "fact a",
        project_id="p1",
        memory_lifespan="long_term",
        memory_category="informational",
        domain_tags=["food", "travel"],
    )
    _add(
        call,
        "fact b",
        project_id="p2",
        memory_lifespan="long_term",
        memory_category="skill_procedural",
        domain_tags=["code"],
    )
    _add(call, "fact c", project_id="p1", memory_category="skill_procedural", domain_tags=["travel"])

    def texts(query):
        return sorted(m["memory"] for m in call("GET", f"/memories?user_id=alice&{query}").json()["results"])

    assert texts("project_id=p1") == ["fact a", "fact c"]
    assert texts("memory_lifespan=long_term") == ["fact a", "fact b"]
    assert texts("memory_category=skill_procedural") == ["fact b", "fact c"]
    assert texts("domain_tags=travel") == ["fact a", "fact c"]
    assert texts("domain_tags=travel,food") == ["fact a"]
    assert texts("project_id=p1&memory_category=informational") == ["fact a"]


def test_listing_everything_needs_an_admin_key(api, project, make_key, call):
    _add(call, "fact")
    assert len(call("GET", "/memories").json()["results"]) == 1
    reader = make_key(project, scopes="read")
    error_of(api("GET", "/memories", key=reader, header="x-api-key"), 403, "FORBIDDEN")


def test_search_with_dotted_metadata_filters(call):
    _add(call, "User prefers Python for scripting", project_id="proj123")
    _add(call, "User prefers Perl for scripting", project_id="other")
    response = call("POST", "/search", {"query": "scripting language", "filters": {"metadata.project_id": "proj123"}})
    assert [m["memory"] for m in response.json()["results"]] == ["User prefers Python for scripting"]
    merged = call(
        "POST",
        "/search",
        {"query": "scripting", "user_id": "alice", "filters": {"AND": [{"metadata": {"project_id": "other"}}]}},
    )
    assert [m["memory"] for m in merged.json()["results"]] == ["User prefers Perl for scripting"]


def test_entities_delete_all_and_reset(call):
    _add(call, "a", user_id="alice")
    _add(call, "b", user_id="bob")
    entities = call("GET", "/entities").json()
    assert isinstance(entities, list)
    assert {(e["type"], e["id"], e["total_memories"]) for e in entities} == {("user", "alice", 1), ("user", "bob", 1)}
    assert call("DELETE", "/entities/user/bob").json()["message"] == "Entity deleted"
    error_of(call("DELETE", "/entities/planet/earth"), 400, "INVALID_REQUEST")
    error_of(call("DELETE", "/memories"), 400, "INVALID_REQUEST")
    assert call("DELETE", "/memories?user_id=alice").json()["message"] == "All relevant memories deleted"
    _add(call, "c", user_id="carol")
    assert call("POST", "/reset").json()["message"] == "All memories reset"
    assert Memory.objects.count() == 0


def test_root_redirects_to_the_docs(client, db):
    response = client.get("/")
    assert response.status_code == 302 and response["Location"] == "/docs"


def test_short_term_memories_expire_after_the_ttl(project, settings):
    settings.MEM0_DEFAULT_SHORT_TERM_TTL_SECONDS = 3600
    t0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    short, long_ = memories_add(
        project=project,
        now=t0,
        items=[
            NewMemory(
                text="User is at the airport", scope=Scope(user_id="alice"), metadata={"memory_lifespan": "short_term"}
            ),
            NewMemory(
                text="User lives in Lisbon", scope=Scope(user_id="alice"), metadata={"memory_lifespan": "long_term"}
            ),
        ],
    )
    assert short.expiration_date == t0 + timedelta(seconds=3600) and long_.expiration_date is None

    def visible(moment):
        return sorted(
            m.memory for m in memory_list(project=project, scope=Scope(user_id="alice"), as_of=moment).results
        )

    assert visible(t0 + timedelta(minutes=59)) == ["User is at the airport", "User lives in Lisbon"]
    assert visible(t0 + timedelta(minutes=61)) == ["User lives in Lisbon"]
