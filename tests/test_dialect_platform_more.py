"""The other Platform paths: events, stats, single entities, entity filters, per-entity lists and
the project-wide change feed."""

import pytest

from tests.conftest import error_of


@pytest.fixture
def key(project, make_key):
    return make_key(project)


@pytest.fixture
def seeded(project, add):
    add(project, "User likes tea", "User likes jazz", user_id="alice", agent_id="helper")
    add(project, "Agent note", agent_id="helper", run_id="r1")
    add(project, "User likes chess", user_id="bob", app_id="games")
    return project


def test_add_records_an_event_that_can_be_fetched(api, key, db):
    added = api("POST", "/v3/memories/add/", key=key, data={"messages": "I love tea", "user_id": "alice"}).json()
    assert added["status"] == "SUCCEEDED" and added["event_id"]
    event = api("GET", f"/v1/event/{added['event_id']}/", key=key).json()
    assert event["status"] == "SUCCEEDED"
    assert [r["memory"] for r in event["results"]] == ["User loves tea"]
    assert event["latency"] >= 0 and event["payload"]["user_id"] == "alice"
    listed = api("GET", "/v1/events/", key=key).json()
    assert listed["count"] == 1 and listed["results"][0]["id"] == added["event_id"]
    error_of(api("GET", "/v1/event/00000000-0000-0000-0000-000000000000/", key=key), 404, "NOT_FOUND")


def test_events_of_other_projects_are_not_found(api, project, other_project, make_key):
    added = api("POST", "/v3/memories/add/", key=make_key(project), data={"messages": "I love tea", "user_id": "a"})
    event_id = added.json()["event_id"]
    error_of(api("GET", f"/v1/event/{event_id}/", key=make_key(other_project)), 404, "NOT_FOUND")


def test_stats(api, key, seeded):
    stats = api("GET", "/v1/stats/", key=key).json()
    assert stats["total_memories"] == 4
    assert (stats["total_users"], stats["total_agents"], stats["total_apps"], stats["total_runs"]) == (2, 1, 1, 1)


def test_one_entity_and_entity_filters(api, key, seeded):
    alice = api("GET", "/v2/entities/user/alice/", key=key).json()
    assert (alice["type"], alice["name"], alice["total_memories"]) == ("user", "alice", 2)
    error_of(api("GET", "/v2/entities/user/nobody/", key=key), 404, "NOT_FOUND")
    error_of(api("GET", "/v2/entities/planet/earth/", key=key), 400, "INVALID_REQUEST")
    filters = api("GET", "/v1/entities/filters/", key=key).json()
    assert filters == {"users": ["alice", "bob"], "agents": ["helper"], "apps": ["games"], "runs": ["r1"]}


def test_memories_of_any_entity(api, key, seeded):
    helper = api("GET", "/v1/memories/agent/helper/", key=key).json()
    assert helper["count"] == 3
    runs = api("GET", "/v1/memories/run/r1/", key=key).json()
    assert [m["memory"] for m in runs["results"]] == ["Agent note"]


def test_the_change_feed(api, key, project, add):
    from memories.services import memory_update

    memory = add(project, "User likes tea", user_id="alice")
    memory_update(project=project, memory_id=memory.id, text="User likes green tea")
    feed = api("GET", "/v1/memories/events/", key=key).json()
    assert feed["count"] == 2
    assert [row["event"] for row in feed["results"]] == ["UPDATE", "ADD"]


def test_delete_all_honours_the_whole_filter(api, key, project, add):
    add(project, "User likes tea", user_id="alice", categories=["food"])
    add(project, "User likes jazz", user_id="alice", categories=["music"])
    add(project, "User likes cake", user_id="bob", categories=["food"])
    filters = "{'user_id': 'alice', 'categories': {'in': ['food']}}"
    response = api("DELETE", "/v1/memories/", key=key, QUERY_STRING=f"filters={filters}")
    assert response.status_code == 200 and response.json()["deleted"] == 1
    from memories.models import Memory

    assert sorted(Memory.objects.values_list("memory", flat=True)) == ["User likes cake", "User likes jazz"]
    error_of(api("DELETE", "/v1/memories/?categories=food", key=key), 400, "INVALID_REQUEST")
    error_of(
        api("DELETE", "/v1/memories/", key=key, QUERY_STRING="filters={'categories': 'food'}"), 400, "INVALID_REQUEST"
    )


def test_batch_delete_is_all_or_nothing_and_does_not_query_per_id(
    api, key, project, add, django_assert_max_num_queries
):
    import uuid

    from memories.models import Memory, MemoryHistory

    memories = add(project, *[f"fact {i}" for i in range(30)], user_id="alice")
    ids = [str(m.id) for m in memories]
    error_of(
        api(
            "DELETE",
            "/v1/batch/",
            key=key,
            data={"memories": [{"memory_id": i} for i in [*ids[:5], str(uuid.uuid4())]]},
        ),
        404,
        "MEMORY_NOT_FOUND",
    )
    assert Memory.objects.count() == 30
    with django_assert_max_num_queries(20):
        response = api("DELETE", "/v1/batch/", key=key, data={"memories": [{"memory_id": i} for i in ids]})
    assert response.json() == {"message": "Successfully deleted 30 memories"}
    assert Memory.objects.count() == 0 and MemoryHistory.objects.filter(event="DELETE").count() == 30


def test_batch_update_is_all_or_nothing(api, key, project, add):
    from memories.models import Memory

    first, second = add(project, "fact one", "fact two", user_id="alice")
    body = {
        "memories": [{"memory_id": str(first.id), "text": "edited"}, {"memory_id": str(second.id), "metadata": "x"}]
    }
    error_of(api("PUT", "/v1/batch/", key=key, data=body), 422, "VALIDATION_ERROR")
    assert Memory.objects.get(pk=first.id).memory == "fact one"
