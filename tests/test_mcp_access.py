"""Who may reach what through the MCP server: every tool, called through the official MCP client by
each caller kind of the REST access matrix (tests/test_access_matrix.py, which points here for
``/mcp``).

Callers: ``owner`` (a key of the project), ``org`` (an organisation key made in a sibling project),
``sibling`` (a key of a sibling project), ``other_org`` (a key of another organisation's project),
``user_self`` (restricted to alice, whose data the calls name), ``user_other`` (restricted to bob),
``read_only`` (the read scope only), ``none`` (no key: HTTP 401).

Outcomes: ``ok`` (a result), ``err`` (a tool error: missing, out of reach, or a missing scope),
``401``. Besides the outcome, each call is checked to show the caller nothing it may not see (the
other user's or the project's memory texts and ids), and refused or outside callers to change
nothing of the project.
"""

import httpx2
import pytest
from django.db import transaction

from accounts.models import Organization, Project
from accounts.services import apikey_create
from memories.inputs import NewMemory, Scope
from memories.models import AddEvent, Memory
from memories.services import memories_add
from tests.mcp_client import TLS, call

pytestmark = pytest.mark.django_db(transaction=True)

CALLERS = ("owner", "org", "sibling", "other_org", "user_self", "user_other", "read_only", "none")
ALICE_TEXT = "User loves zanzibar oolong tea"
BOB_TEXT = "User plays the contrabassoon"

# (tool, arguments ({m1}: alice's memory, {m2}: alice's other one, {event}: alice's add), outcomes)
MATRIX = [
    ("search_memories", {"query": "tea and music"}, "ok ok ok ok ok ok ok 401"),
    ("search_memories", {"query": "tea", "user_id": "alice"}, "ok ok ok ok ok err ok 401"),
    ("get_memories", {}, "ok ok ok ok ok ok ok 401"),
    ("get_memories", {"filters": {"user_id": "alice"}}, "ok ok ok ok ok ok ok 401"),
    ("get_memories", {"user_id": "alice"}, "ok ok ok ok ok err ok 401"),
    ("get_memory", {"memory_id": "{m1}"}, "ok err err err ok err ok 401"),
    ("memory_history", {"memory_id": "{m1}"}, "ok err err err ok err ok 401"),
    ("related_memories", {"memory_id": "{m1}"}, "ok err err err ok err ok 401"),
    ("memory_timeline", {"memory_id": "{m1}"}, "ok err err err ok err ok 401"),
    ("list_entities", {}, "ok ok ok ok ok ok ok 401"),
    ("list_events", {}, "ok ok ok ok ok ok ok 401"),
    ("get_event_status", {"event_id": "{event}"}, "ok err err err ok err ok 401"),
    ("add_memory", {"text": "I adopted a greyhound", "user_id": "alice", "infer": False}, "ok ok ok ok ok err err 401"),
    ("update_memory", {"memory_id": "{m1}", "text": "User loves rooibos"}, "ok err err err ok err err 401"),
    ("delete_memory", {"memory_id": "{m2}"}, "ok err err err ok err err 401"),
    ("delete_all_memories", {"user_id": "alice"}, "ok ok ok ok ok err err 401"),
    ("delete_entities", {"user_id": "alice"}, "ok err err err ok err err 401"),
]
WRITES = {"add_memory", "update_memory", "delete_memory", "delete_all_memories", "delete_entities"}


@pytest.fixture(autouse=True)
def _roomy_rate_limits(settings):
    settings.RATE_LIMIT_REQUESTS = 10_000
    settings.RATE_LIMIT_BURST = 0


@pytest.fixture
def world(db):
    # In one transaction: these tests commit (the live server reads through its own connection), and
    # a commit per row (about 25) cost more than making them.
    with transaction.atomic():
        return _make_world()


def _make_world() -> dict:
    organization = Organization.objects.create(name="Tenant A", slug="tenant-a")
    project = Project.objects.create(organization=organization, name="A", slug="a")
    sibling = Project.objects.create(organization=organization, name="A2", slug="a2")
    other = Project.objects.create(
        organization=Organization.objects.create(name="Tenant B", slug="tenant-b"), name="B", slug="b"
    )
    m1, m2, m3 = memories_add(
        project=project,
        items=[
            NewMemory(text=ALICE_TEXT, scope=Scope(user_id="alice")),
            NewMemory(text="User lives in Lisbon", scope=Scope(user_id="alice")),
            NewMemory(text=BOB_TEXT, scope=Scope(user_id="bob")),
        ],
    )
    event = AddEvent.objects.create(
        project=project, status=AddEvent.Status.SUCCEEDED, payload={"user_id": "alice"}, user_id="alice"
    )

    def key(project_, scopes="read,write,admin", user_id=None, org=False):
        return apikey_create(project=project_, name="k", scopes=scopes, user_id=user_id, organization_key=org)[1]

    return {
        "project": project,
        "keys": {
            "owner": key(project),
            "org": key(sibling, org=True),
            "sibling": key(sibling),
            "other_org": key(other),
            "user_self": key(project, user_id="alice"),
            "user_other": key(project, user_id="bob"),
            "read_only": key(project, scopes="read"),
            "none": None,
        },
        "ids": {"m1": str(m1.id), "m2": str(m2.id), "m3": str(m3.id), "event": str(event.id)},
    }


def fill(arguments: dict, ids: dict) -> dict:
    return {name: ids[value[1:-1]] if isinstance(value, str) and value[1:-1] in ids else value
            for name, value in arguments.items()}  # fmt: skip


def snapshot(project) -> list:
    return sorted(Memory.objects.filter(project=project).values_list("id", "memory", "user_id"))


def forbidden(caller: str, ids: dict) -> list[str]:
    """What must never appear in this caller's answers."""
    if caller in ("org", "sibling", "other_org"):
        return [ALICE_TEXT, BOB_TEXT, ids["m1"], ids["m2"], ids["m3"]]
    if caller == "user_self":
        return [BOB_TEXT, ids["m3"], "bob"]
    if caller == "user_other":
        return [ALICE_TEXT, ids["m1"], ids["m2"]]
    return []


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("tool, arguments, outcomes", MATRIX, ids=[f"{m[0]}-{i}" for i, m in enumerate(MATRIX)])
def test_mcp_access(live_server, world, tool, arguments, outcomes, caller):
    expected = outcomes.split()[CALLERS.index(caller)]
    key = world["keys"][caller]
    arguments = fill(arguments, world["ids"])
    before = snapshot(world["project"])
    if caller == "none":
        body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": tool, "arguments": arguments}}
        response = httpx2.post(
            f"{live_server.url}/mcp",
            json=body,
            headers={"Accept": "application/json, text/event-stream"},
            timeout=30,
            verify=TLS,
        )
        assert response.status_code == 401
        assert snapshot(world["project"]) == before
        return

    answer = call(live_server.url, key, tool, **arguments)
    assert ("err" if answer.is_error else "ok") == expected, answer
    if caller == "read_only" and tool in WRITES:
        assert "lacks the 'write' scope" in answer.error
    shown = str(answer.data)
    for marker in forbidden(caller, world["ids"]):
        assert marker not in shown, (marker, shown)
    if answer.is_error or caller in ("org", "sibling", "other_org") or caller == "user_other":
        assert snapshot(world["project"]) == before
