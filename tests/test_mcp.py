"""The MCP server at /mcp through the official MCP client SDK (Streamable HTTP) against a live
server: the tools and their schemas, a round trip, as_of, tool errors, authentication and rate
limits. Who may reach what through each tool: tests/test_mcp_access.py."""

from datetime import UTC, datetime

import httpx2
import pytest

from accounts.services import apikey_create
from memories.models import Memory
from tests.mcp_client import call, list_tools

pytestmark = pytest.mark.django_db(transaction=True)

TOOLS = {
    # Mem0's names
    "add_memory",
    "search_memories",
    "get_memories",
    "get_memory",
    "update_memory",
    "delete_memory",
    "delete_all_memories",
    "list_entities",
    "delete_entities",
    "list_events",
    "get_event_status",
    # ours
    "memory_history",
    "related_memories",
    "memory_timeline",
}
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}


@pytest.fixture(autouse=True)
def _roomy_rate_limits(settings):
    """Each client call is three HTTP requests (initialize, initialized, the call): more than the
    default burst. test_rate_limits_apply_as_to_rest sets its own."""
    settings.RATE_LIMIT_REQUESTS = 10_000
    settings.RATE_LIMIT_BURST = 0


@pytest.fixture
def key(project):
    return apikey_create(project=project, name="mcp", scopes="read,write")[1]


@pytest.fixture
def url(live_server):
    return live_server.url


def test_the_tools_and_their_input_schemas(url, key):
    tools = {tool.name: tool for tool in list_tools(url, key)}
    assert set(tools) == TOOLS
    for tool in tools.values():
        assert tool.description and tool.input_schema["type"] == "object", tool.name
    search = tools["search_memories"].input_schema
    assert search["required"] == ["query"] and {"as_of", "filters", "user_id", "limit"} <= set(search["properties"])
    assert search["properties"]["limit"]["maximum"] == 1000
    assert tools["get_memory"].input_schema["required"] == ["memory_id"]
    assert tools["update_memory"].input_schema["required"] == ["memory_id", "text"]
    assert "api_key" not in str(tools["add_memory"].input_schema)


def test_add_search_get_update_history_delete(url, key, project):
    added = call(url, key, "add_memory", text="I love hiking in the Alps", user_id="alice", infer=False)
    assert not added.is_error, added
    memory_id = added.data["results"][0]["id"]
    assert added.data["status"] == "SUCCEEDED"
    assert Memory.objects.get(pk=memory_id, project=project).user_id == "alice"

    found = call(url, key, "search_memories", query="mountain hiking", user_id="alice").data["results"]
    assert [m["id"] for m in found] == [memory_id] and found[0]["score"] > 0
    assert call(url, key, "search_memories", query="mountain hiking", user_id="bob").data["results"] == []
    listed = call(url, key, "get_memories", filters={"user_id": "alice"}).data
    assert listed["count"] == 1 and listed["results"][0]["memory"] == "I love hiking in the Alps"

    updated = call(url, key, "update_memory", memory_id=memory_id, text="I love hiking in the Dolomites")
    assert updated.data["memory"] == "I love hiking in the Dolomites"
    assert call(url, key, "get_memory", memory_id=memory_id).data["memory"] == "I love hiking in the Dolomites"
    history = call(url, key, "memory_history", memory_id=memory_id).data["results"]
    assert [row["event"] for row in history] == ["ADD", "UPDATE"]
    timeline = call(url, key, "memory_timeline", memory_id=memory_id).data
    versions = [v["memory"] for v in timeline["versions"]]
    assert versions == ["I love hiking in the Alps", "I love hiking in the Dolomites"]
    event = call(url, key, "get_event_status", event_id=added.data["event_id"]).data
    assert event["status"] == "SUCCEEDED"
    assert call(url, key, "list_entities").data["results"][0]["name"] == "alice"

    assert not call(url, key, "delete_memory", memory_id=memory_id).is_error
    assert not Memory.objects.filter(pk=memory_id).exists()
    gone = call(url, key, "get_memory", memory_id=memory_id)
    assert gone.is_error and "Memory not found" in gone.error


def test_search_as_of_sees_the_memories_that_held_then(url, key, project, add):
    add(project, "User lives in Lisbon", user_id="alice", now=datetime(2020, 1, 1, tzinfo=UTC))
    before = call(url, key, "search_memories", query="Where does the user live?", user_id="alice", as_of="2019-06-01")
    assert before.data["results"] == []
    after = call(url, key, "search_memories", query="Where does the user live?", user_id="alice", as_of="2021-06-01")
    assert [m["memory"] for m in after.data["results"]] == ["User lives in Lisbon"]


@pytest.mark.parametrize(
    "name, arguments, message",
    [
        ("get_memory", {"memory_id": "not-an-id"}, "Memory not found"),
        ("add_memory", {"user_id": "alice"}, "Give text or messages"),
        ("search_memories", {"query": "tea", "as_of": "last tuesday"}, "as_of must be an ISO 8601"),
        ("search_memories", {"query": "tea", "filters": {"colour": "blue"}}, "colour"),
        ("delete_all_memories", {}, "Give at least one of user_id"),
        ("update_memory", {"memory_id": "00000000-0000-0000-0000-000000000000", "text": "x"}, "Memory not found"),
        ("get_event_status", {"event_id": "nope"}, "not found"),
        ("related_memories", {"memory_id": "nope"}, "Memory not found"),
    ],
)
def test_failures_are_tool_errors_with_our_messages(url, key, name, arguments, message):
    answer = call(url, key, name, **arguments)
    assert answer.is_error and message.lower() in answer.error.lower(), answer


def test_a_read_only_key_cannot_write(url, project):
    read_only = apikey_create(project=project, name="ro", scopes="read")[1]
    answer = call(url, read_only, "add_memory", text="I like jazz", user_id="alice", infer=False)
    assert answer.is_error and "lacks the 'write' scope" in answer.error
    assert not Memory.objects.exists()
    assert not call(url, read_only, "get_memories", user_id="alice").is_error


@pytest.mark.parametrize("authorization", [None, "Bearer mem0_not-a-real-key-000000000000", "Bearer", "Basic x"])
def test_no_key_or_a_bad_key_is_401(url, db, authorization):
    headers = {"Accept": "application/json, text/event-stream"}
    if authorization is not None:
        headers["Authorization"] = authorization
    response = httpx2.post(f"{url}/mcp", json=INITIALIZE, headers=headers, timeout=30)
    assert response.status_code == 401
    assert response.json()["code"] == "UNAUTHORIZED"


def test_initialize_answers_json_without_a_session(url, key):
    headers = {"Accept": "application/json, text/event-stream", "Authorization": f"Bearer {key}"}
    response = httpx2.post(f"{url}/mcp", json=INITIALIZE, headers=headers, timeout=30)
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/json")
    assert response.json()["result"]["serverInfo"]["name"] == "mem0g"
    assert "mcp-session-id" not in response.headers
    assert httpx2.get(f"{url}/mcp", headers=headers, timeout=30).status_code == 405


def test_rate_limits_apply_as_to_rest(url, key, settings):
    settings.RATE_LIMIT_REQUESTS = 2
    headers = {"Accept": "application/json, text/event-stream", "Authorization": f"Bearer {key}"}
    statuses = [httpx2.post(f"{url}/mcp", json=INITIALIZE, headers=headers, timeout=30) for _ in range(3)]
    assert [r.status_code for r in statuses] == [200, 200, 429]
    assert statuses[0].headers["X-RateLimit-Limit"] == "2"
