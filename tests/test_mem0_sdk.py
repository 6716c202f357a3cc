"""The official Mem0 Python SDK (mem0ai 2.2.1), unchanged, against a live mem0g: the whole
sequence of the drop-in contract (MEM0_API.md §E), sync and async, failures included."""

import asyncio
import importlib
import uuid

import pytest

from accounts import leases
from accounts.models import ApiKey, Counter
from accounts.services import apikey_create, apikey_revoke
from memories.models import Memory, MemoryFeedback

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def mem0(tmp_path, monkeypatch):
    """The SDK, imported with telemetry off and a throw-away HOME (it writes ~/.mem0 on import)."""
    monkeypatch.setenv("MEM0_TELEMETRY", "false")
    monkeypatch.setenv("HOME", str(tmp_path))
    client = importlib.import_module("mem0.client.main")
    exceptions = importlib.import_module("mem0.exceptions")
    return client, exceptions


@pytest.fixture
def key(project):
    return apikey_create(project=project, name="sdk", scopes="read,write,admin")[1]


@pytest.fixture
def client(mem0, live_server, key):
    return mem0[0].MemoryClient(api_key=key, host=live_server.url)


def test_a_bad_key_fails_at_construction(mem0, live_server, db):
    with pytest.raises(ValueError, match="Invalid API key"):
        mem0[0].MemoryClient(api_key="mem0_wrong-key-0000000000000000", host=live_server.url)


def test_construction_reads_org_and_project(client, project):
    assert client.org_id == str(project.organization_id)
    assert client.project_id == str(project.id)
    assert client.user_email


def test_add_inferred_and_raw_then_list_and_page(client):
    inferred = client.add([{"role": "user", "content": "I love tea"}], user_id="alice")
    assert [(r["memory"], r["event"]) for r in inferred["results"]] == [("User loves tea", "ADD")]

    by_filters = client.add("I have a cat named Miso", filters={"user_id": "alice"})
    assert by_filters["results"][0]["memory"] == "User has a cat named Miso"

    raw = client.add("raw fact: prefers window seats", user_id="alice", infer=False, metadata={"src": "t"})
    raw_id = raw["results"][0]["id"]
    stored = client.get(raw_id)
    assert stored["memory"] == "raw fact: prefers window seats"
    assert stored["metadata"] == {"src": "t"} and stored["user_id"] == "alice"

    everything = client.get_all(filters={"user_id": "alice"})
    assert everything["count"] == 3 and len(everything["results"]) == 3
    assert {"id", "memory", "user_id", "metadata", "created_at"} <= set(everything["results"][0])

    page = client.get_all(filters={"user_id": "alice"}, page=1, page_size=1)
    assert page["count"] == 3 and len(page["results"]) == 1 and page["next"] and page["previous"] is None


def test_search_with_filter_grammar(client, mem0):
    client.add("I drink green tea every morning", user_id="alice")
    client.add("I drive a red car", user_id="alice")
    client.add("I drink coffee at work", user_id="bob")

    found = client.search("what does alice drink?", filters={"user_id": "alice"}, top_k=5)
    assert found["results"][0]["memory"] == "User drinks green tea every morning"
    assert all(0 <= r["score"] <= 1 for r in found["results"])
    assert {r["user_id"] for r in found["results"]} == {"alice"}

    recent = client.search("drink", filters={"AND": [{"user_id": "alice"}, {"created_at": {"gte": "2000-01-01"}}]})
    assert recent["results"] and {r["user_id"] for r in recent["results"]} == {"alice"}
    either = client.search("drink", filters={"OR": [{"user_id": "alice"}, {"user_id": "bob"}]}, top_k=10)
    assert {r["user_id"] for r in either["results"]} == {"alice", "bob"}

    with pytest.raises(ValueError):
        client.search("q", user_id="alice")  # refused by the SDK itself
    with pytest.raises(mem0[1].ValidationError):
        client.search("drink", filters={})


def test_get_update_history_and_not_found(client, mem0):
    mid = client.add("I love tea", user_id="alice", infer=False)["results"][0]["id"]
    updated = client.update(mid, text="I love green tea")
    assert updated["memory"] == "I love green tea"
    assert client.get(mid)["memory"] == "I love green tea"
    client.update(mid, metadata={"k": 1}, expiration_date=None)
    assert client.get(mid)["metadata"] == {"k": 1}

    history = client.history(mid)
    assert isinstance(history, list)
    assert [row["event"] for row in history] == ["ADD", "UPDATE", "UPDATE"]
    assert (history[1]["old_memory"], history[1]["new_memory"]) == ("I love tea", "I love green tea")

    with pytest.raises(mem0[1].MemoryNotFoundError):
        client.get(str(uuid.uuid4()))


def test_batch_feedback_entities_and_deletes(client, project):
    first = client.add("fact one", user_id="alice", infer=False)["results"][0]["id"]
    second = client.add("fact two", user_id="alice", infer=False)["results"][0]["id"]
    client.add("fact of bob", user_id="bob", infer=False)
    client.add("fact of carol", user_id="carol", infer=False)

    assert client.batch_update([{"memory_id": first, "text": "fact one, edited"}]) == {
        "message": "Successfully updated 1 memories"
    }
    assert Memory.objects.get(pk=first).memory == "fact one, edited"
    assert client.batch_delete([{"memory_id": second}])["message"] == "Successfully deleted 1 memories"
    assert not Memory.objects.filter(pk=second).exists()

    feedback = client.feedback(first, "positive", "ok")
    assert feedback["feedback"] == "POSITIVE"
    assert MemoryFeedback.objects.get(memory_id=first).feedback_reason == "ok"

    users = client.users()
    assert {(e["type"], e["name"]) for e in users["results"]} == {("user", "alice"), ("user", "bob"), ("user", "carol")}

    assert client.delete(first) == {"message": "Memory deleted successfully!"}
    client.add("fact three", user_id="alice", infer=False)
    client.delete_all(user_id="alice")
    assert not Memory.objects.filter(user_id="alice").exists()
    client.delete_all(filters={"user_id": "carol"})  # arrives as a Python repr in the query string
    assert not Memory.objects.filter(user_id="carol").exists()
    client.delete_users(user_id="bob")
    assert Memory.objects.count() == 0


def test_reset_empties_the_project(client):
    client.add("fact", user_id="alice", infer=False)
    client.add("fact", agent_id="helper", infer=False)
    assert client.reset()["message"].startswith("Client reset successful")
    assert client.users()["results"] == []
    with pytest.raises(ValueError, match="No entities to delete"):
        client.reset()


def test_exports_summary_and_project(client, project):
    client.add("I love tea", user_id="alice")
    client.add("I live in Lisbon", user_id="alice")
    export = client.create_memory_export(schema='{"type": "object"}', filters={"user_id": "alice"})
    assert export["id"]
    fetched = client.get_memory_export(memory_export_id=export["id"])
    assert {item["memory"] for item in fetched["results"]} == {"User loves tea", "User lives in Lisbon"}
    summary = client.get_summary(filters={"user_id": "alice"})
    assert summary["total_memories"] == 2 and "User lives in Lisbon" in summary["summary"]
    assert client.project.get()["id"] == str(project.id)
    client.project.update(custom_instructions="Only food facts")
    assert client.project.get(fields=["custom_instructions"])["custom_instructions"] == "Only food facts"


def test_errors_map_to_the_sdk_exceptions(client, mem0, settings, key):
    with pytest.raises(mem0[1].ValidationError):
        client.get_all(filters={})
    settings.RATE_LIMIT_BURST = 0
    settings.RATE_LIMIT_REQUESTS = 3
    Counter.objects.all().delete()  # the rate-limit counters (accounts/counters.py)
    leases.forget()  # and this process's leases of their slots (accounts/leases.py)
    client.get_all(filters={"user_id": "alice"})
    client.get_all(filters={"user_id": "alice"})
    client.get_all(filters={"user_id": "alice"})
    with pytest.raises(mem0[1].RateLimitError):
        client.get_all(filters={"user_id": "alice"})
    settings.RATE_LIMIT_REQUESTS = 100
    Counter.objects.all().delete()
    apikey_revoke(api_key=ApiKey.objects.get(prefix=key[:12]))
    with pytest.raises(mem0[1].AuthenticationError):
        client.get_all(filters={"user_id": "alice"})


def test_the_async_client(mem0, live_server, key):
    async def run():
        client = mem0[0].AsyncMemoryClient(api_key=key, host=live_server.url)
        added = await client.add([{"role": "user", "content": "I love tea"}], user_id="alice")
        mid = added["results"][0]["id"]
        listed = await client.get_all(filters={"user_id": "alice"})
        found = await client.search("tea", filters={"user_id": "alice"})
        deleted = await client.delete(mid)
        return client, listed, found, deleted

    client, listed, found, deleted = asyncio.run(run())
    assert client.org_id and client.project_id
    assert listed["count"] == 1 and found["results"][0]["memory"] == "User loves tea"
    assert deleted == {"message": "Memory deleted successfully!"}
    assert Memory.objects.count() == 0


def test_projects_and_members(client, mem0, project, live_server):
    from django.contrib.auth import get_user_model

    from accounts.models import Membership, Project

    ana = get_user_model().objects.create_user("ana", email="ana@example.com", password="x")
    Membership.objects.create(user=ana, organization=project.organization)
    # Only an organisation key creates projects; the SDK reports the 403 as an AuthenticationError.
    with pytest.raises(mem0[1].AuthenticationError):
        client.project.create(name="Support bot", description="tickets")
    org_key = apikey_create(project=project, name="org", scopes="read", organization_key=True)[1]
    org_client = mem0[0].MemoryClient(api_key=org_key, host=live_server.url)
    created = org_client.project.create(name="Support bot", description="tickets")
    assert created["name"] == "Support bot" and created["org_id"] == client.org_id

    client.project.add_member("ana@example.com")
    assert [(m["email"], m["role"]) for m in client.project.get_members()["members"]] == [("ana@example.com", "READER")]
    client.project.update_member("ana@example.com", "OWNER")
    assert client.project.get_members()["members"][0]["role"] == "OWNER"
    with pytest.raises(mem0[1].ValidationError):
        client.project.add_member("nobody@example.com")
    client.project.remove_member("ana@example.com")
    assert client.project.get_members()["members"] == []

    # project.delete() acts on the project it names: point one at the new project.
    other = importlib.import_module("mem0.client.project").Project(
        org_client.client, org_id=client.org_id, project_id=created["project_id"]
    )
    assert other.get()["name"] == "Support bot"
    assert other.delete() == {"message": "Project deleted successfully."}
    assert not Project.objects.filter(pk=created["project_id"]).exists()
    with pytest.raises(mem0[1].MemoryNotFoundError):
        other.get()
    assert Project.objects.filter(pk=project.pk).exists()


def test_webhooks(client, mem0):
    hook = client.create_webhook(
        url="https://example.com/hooks/mem0", name="Logger", project_id=client.project_id, event_types=["memory_add"]
    )
    assert hook["event_types"] == ["memory_add"]
    assert [h["webhook_id"] for h in client.get_webhooks(project_id=client.project_id)] == [hook["webhook_id"]]
    updated = client.update_webhook(hook["webhook_id"], name="Renamed", event_types=["memory_update"])
    assert (updated["name"], updated["event_types"]) == ("Renamed", ["memory_update"])
    with pytest.raises(mem0[1].ValidationError):
        client.create_webhook(url="https://e.com", name="x", project_id=client.project_id, event_types=["nope"])
    assert client.delete_webhook(hook["webhook_id"])["message"] == "Webhook deleted successfully"
    assert client.get_webhooks(project_id=client.project_id) == []
    with pytest.raises(mem0[1].MemoryNotFoundError):
        client.delete_webhook(hook["webhook_id"])


def test_profiles(client, mem0):
    client.add("I am vegetarian", user_id="alice")
    client.add("I live in Lisbon", user_id="alice")
    assert client.get_profile("alice")["status"] == "pending"
    with pytest.raises(mem0[1].MemoryNotFoundError):
        client.get_profile("nobody")

    schema = {"type": "object", "properties": {"home": {"type": "string", "description": "Where the user lives"}}}
    settings = client.update_profile_settings(schema=schema)
    assert settings["entities"]["user"]["schema"] == schema and client.get_profile_settings()["enabled"] is True

    job = client.generate_profile("alice", idempotency_key="once")
    again = client.generate_profile("alice", idempotency_key="once")
    assert again["job_id"] == job["job_id"] and again["replayed"] is True
    assert client.get_profile_job(job["status_url"])["job"]["succeeded"] == 1
    assert client.get_profile_job(job["job_id"])["job"]["status"] == "succeeded"

    profile = client.get_profile("alice")
    assert profile["status"] == "succeeded" and profile["generation_count"] == 1
    assert profile["profile"]["fields"]["home"][0] == "User lives in Lisbon"
    assert client.sample_profiles(limit=1)["entity_ids"] == ["alice"]

    client.update_profile_settings(enabled=False)
    assert client.get_profile("alice")["status"] == "not_enabled"
    with pytest.raises(mem0[1].ValidationError):
        client.generate_profile("alice")
