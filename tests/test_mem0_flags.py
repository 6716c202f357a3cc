"""Mem0's current read flags and memory kinds (issue 17, item 3): ``latest_only`` / ``include_merged``
and the superseded markers (``lifecycle_state``, ``replaced_by``), ``memory_type="procedural_memory"``,
and multimodal message parts stored as references and never fetched; over HTTP and through the
official Python SDK against a live server."""

import importlib
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from accounts.services import apikey_create
from memories.models import PROCEDURAL, AddEvent, Memory
from tests.conftest import error_of

T0 = datetime(2025, 3, 1, tzinfo=UTC)
T1 = datetime(2025, 6, 1, tzinfo=UTC)


@pytest.fixture
def key(make_key, project):
    return make_key(project, scopes="read,write,admin")


def _add(api, key, content, *, at=None, **extra):
    data = {"messages": [{"role": "user", "content": content}], "user_id": "alice", **extra}
    if at is not None:
        data["timestamp"] = int(at.timestamp())
    response = api("POST", "/v3/memories/add/", key=key, data=data)
    assert response.status_code == 200, response.content
    return response.json()["results"]


@pytest.fixture
def moved(api, key):
    """Alice lived in Lisbon, then moved to Porto: (the superseded memory's id, its successor's id)."""
    [lisbon] = _add(api, key, "I live in Lisbon.", at=T0)
    [porto] = _add(api, key, "I live in Porto.", at=T1)
    assert porto["event"] == "SUPERSEDE" and porto["supersedes"] == lisbon["id"]
    return lisbon["id"], porto["id"]


def _marks(results):
    return {r["memory"]: (r["lifecycle_state"], r["replaced_by"]) for r in results}


# --- latest_only, include_merged, the markers ----------------------------------------------------


def test_reads_show_superseded_memories_marked_unless_latest_only(api, key, moved):
    lisbon, porto = moved
    marked = {"User lives in Lisbon": ("superseded", porto), "User lives in Porto": ("active", None)}
    search = {"query": "where does alice live", "filters": {"user_id": "alice"}, "threshold": 0}
    listing = {"filters": {"user_id": "alice"}}

    for path, body in (
        ("/v3/memories/search/", search),
        ("/v2/memories/search/", search),
        ("/v1/memories/search/", search),
    ):
        assert _marks(api("POST", path, key=key, data=body).json()["results"]) == marked, path
        latest = api("POST", path, key=key, data={**body, "latest_only": True}).json()["results"]
        assert _marks(latest) == {"User lives in Porto": ("active", None)}, path
    for path in ("/v3/memories/", "/v2/memories/"):
        everything = api("POST", path, key=key, data=listing).json()
        assert everything["count"] == 2 and _marks(everything["results"]) == marked
        latest = api("POST", path, key=key, data={**listing, "latest_only": True}).json()
        assert latest["count"] == 1 and _marks(latest["results"]) == {"User lives in Porto": ("active", None)}
    assert _marks(api("GET", "/v1/memories/?user_id=alice", key=key).json()["results"]) == marked
    latest = api("GET", "/v1/memories/?user_id=alice&latest_only=true", key=key).json()["results"]
    assert [r["id"] for r in latest] == [porto]

    # include_merged widens nothing (mem0g keeps no merged duplicates) and is checked.
    merged = api("POST", "/v3/memories/", key=key, data={**listing, "include_merged": True}).json()
    assert _marks(merged["results"]) == marked
    # One memory read by id carries its markers too.
    old = api("GET", f"/v1/memories/{lisbon}/", key=key).json()
    assert (old["lifecycle_state"], old["replaced_by"], old["valid_to"]) == (
        "superseded",
        porto,
        "2025-06-01T00:00:00Z",
    )
    assert api("GET", f"/v1/memories/{porto}/", key=key).json()["lifecycle_state"] == "active"


def test_a_moment_or_our_own_flag_decides_over_the_default(api, key, moved):
    lisbon, porto = moved
    search = {"query": "where does alice live", "filters": {"user_id": "alice"}}
    # What held then: Lisbon only (the default widening does not apply to another moment).
    then = api("POST", "/v3/memories/search/", key=key, data={**search, "reference_date": "2025-04-01"}).json()
    assert [r["id"] for r in then["results"]] == [lisbon]
    listed = api("POST", "/v3/memories/", key=key, data={"filters": {"user_id": "alice"}, "as_of": "2025-04-01"})
    assert [r["id"] for r in listed.json()["results"]] == [lisbon]
    # include_superseded: false is our way to say latest only.
    narrow = api("POST", "/v3/memories/search/", key=key, data={**search, "include_superseded": False}).json()
    assert [r["id"] for r in narrow["results"]] == [porto]
    # The OSS server has no such flags: its reads stay current only.
    oss = api("POST", "/search", key=key, data={"query": "where does alice live", "user_id": "alice"}).json()
    assert [r["id"] for r in oss["results"]] == [porto]


def test_delete_linked_deletes_the_chain_a_memory_superseded(api, key, moved):
    lisbon, porto = moved
    [madrid] = _add(api, key, "I live in Madrid.")
    assert madrid["supersedes"] == porto
    [cat] = _add(api, key, "I have a cat.")
    error_of(api("DELETE", f"/v1/memories/{madrid['id']}/?delete_linked=maybe", key=key), 422, "VALIDATION_ERROR")
    response = api("DELETE", f"/v1/memories/{madrid['id']}/?delete_linked=true", key=key)
    assert response.json() == {"message": "Memory deleted successfully!", "cascade_count": 2}
    assert list(Memory.objects.values_list("memory", flat=True)) == [cat["memory"]]
    assert [r["event"] for r in api("GET", f"/v1/memories/{lisbon}/history/", key=key).json()][-1] == "DELETE"
    # Without it, only the memory goes (and the answer is Mem0's plain one).
    assert api("DELETE", f"/v1/memories/{cat['id']}/", key=key).json() == {"message": "Memory deleted successfully!"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"latest_only": "perhaps"}, "latest_only"),
        ({"include_merged": 3}, "include_merged"),
        ({"latest_only": True, "include_superseded": True}, "latest_only"),
    ],
)
def test_bad_read_flags_are_refused(api, key, db, body, field):
    for path, extra in (("/v3/memories/search/", {"query": "x"}), ("/v3/memories/", {})):
        response = api("POST", path, key=key, data={"filters": {"user_id": "alice"}, **extra, **body})
        assert error_of(response, 422, "VALIDATION_ERROR")["error"]["details"]["field"] == field
    assert "X-Mem0g-Ignored-Fields" not in response


# --- memory_type="procedural_memory" -----------------------------------------------------------

STEPS = [
    {"role": "system", "content": "You are a travel agent."},
    {"role": "user", "content": "Book a flight from SFO to JFK on May 3."},
    {"role": "assistant", "content": "Searched flights: UA 512 at 08:10 is the cheapest at $231."},
    {"role": "assistant", "content": "Booked UA 512, confirmation K7Q2ZD."},
]


def test_a_procedural_memory_is_the_conversation_summarised_and_stored_as_such(api, key, project):
    body = {"messages": STEPS, "agent_id": "travel-agent", "memory_type": "procedural_memory"}
    [event] = api("POST", "/v3/memories/add/", key=key, data=body).json()["results"]
    assert event["event"] == "ADD"
    assert event["memory"] == (
        "Task: Book a flight from SFO to JFK on May 3.\n"
        "Steps:\n"
        "1. Agent: Searched flights: UA 512 at 08:10 is the cheapest at $231.\n"
        "2. Agent: Booked UA 512, confirmation K7Q2ZD."
    )
    stored = api("GET", f"/v1/memories/{event['id']}/", key=key).json()
    assert stored["memory_type"] == PROCEDURAL and stored["agent_id"] == "travel-agent"
    # Ordinary memories of the same agent have none, and the kind filters.
    _add(api, key, "I prefer aisle seats.", agent_id="travel-agent", infer=False)
    assert Memory.objects.filter(agent_id="travel-agent").count() == 2
    for filters, expected in (
        ({"AND": [{"agent_id": "travel-agent"}, {"memory_type": "procedural_memory"}]}, [event["id"]]),
        ({"AND": [{"agent_id": "travel-agent"}, {"memory_type": {"ne": "procedural_memory"}}]}, None),
    ):
        results = api("POST", "/v3/memories/", key=key, data={"filters": filters}).json()["results"]
        if expected is not None:
            assert [r["id"] for r in results] == expected
        else:
            assert [r["memory"] for r in results] == ["I prefer aisle seats."] and results[0]["memory_type"] is None
    found = api("POST", "/search", key=key, data={"query": "flight booking", "filters": {"memory_type": PROCEDURAL}})
    assert [r["id"] for r in found.json()["results"]] == [event["id"]]
    # The OSS server's add takes it too.
    oss = api("POST", "/memories", key=key, data={**body, "messages": STEPS[1:2]}).json()["results"]
    assert oss[0]["memory"] == "Task: Book a flight from SFO to JFK on May 3."
    assert Memory.objects.get(pk=oss[0]["id"]).memory_type == PROCEDURAL


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"memory_type": "procedural_memory", "user_id": "alice"}, "agent_id"),
        ({"memory_type": "semantic_memory", "agent_id": "bot"}, "memory_type"),
        ({"memory_type": 7, "agent_id": "bot"}, "memory_type"),
        ({"memory_type": "procedural_memory", "agent_id": "bot", "async_mode": True}, None),
    ],
)
def test_procedural_memory_refusals(api, key, db, body, field):
    for path in ("/v3/memories/add/", "/memories"):
        if path == "/memories" and "async_mode" in body:
            continue
        response = api("POST", path, key=key, data={"messages": STEPS, **body})
        if field is None:
            assert response.status_code == 200 and response.json()["status"] == "PENDING"
            continue
        assert error_of(response, 422, "VALIDATION_ERROR")["error"]["details"]["field"] == field
    assert Memory.objects.count() == 0
    assert not AddEvent.objects.exclude(status=AddEvent.Status.PENDING).exists()


def test_with_an_llm_the_procedure_is_its_summary(api, key, llm_server):
    llm_server.reply({"procedure": "Goal: book SFO-JFK on May 3.\n1. Found UA 512 ($231).\n2. Booked, K7Q2ZD."})
    body = {"messages": STEPS, "agent_id": "travel-agent", "memory_type": "procedural_memory"}
    [event] = api("POST", "/v3/memories/add/", key=key, data=body).json()["results"]
    assert event["memory"] == "Goal: book SFO-JFK on May 3.\n1. Found UA 512 ($231).\n2. Booked, K7Q2ZD."
    [request] = llm_server.requests
    assert "user: Book a flight from SFO to JFK on May 3." in request.user and "travel agent" not in request.user


# --- multimodal parts: references, never fetched ---------------------------------------------


class _Listener:
    """A local HTTP server that counts the requests it receives (it must receive none)."""

    def __init__(self):
        hits = self.hits = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                hits.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.end_headers()
                self.wfile.write(b"\x89PNG")

            do_HEAD = do_GET  # noqa: N815

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def listener():
    server = _Listener()
    yield server
    server.close()


def test_images_and_documents_are_stored_as_references_and_never_fetched(api, key, listener):
    image, pdf, notes = f"{listener.url}/pizza.png", f"{listener.url}/menu.pdf", f"{listener.url}/notes.txt"
    messages = [
        {"role": "user", "content": "I love pizza."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "My pizza tonight"},
                {"type": "image_url", "image_url": {"url": image}},
            ],
        },
        {"role": "user", "content": {"type": "pdf_url", "pdf_url": {"url": pdf}}},
        {"role": "assistant", "content": {"type": "txt_url", "txt_url": {"url": notes}, "caption": "Shopping list"}},
    ]
    results = api("POST", "/v3/memories/add/", key=key, data={"messages": messages, "user_id": "alice"}).json()[
        "results"
    ]
    # The text is extracted as usual (the image's caption is also the message's text); each part is a
    # reference memory of its own, after the facts.
    references = [
        f"User shared an image ({image}): My pizza tonight",
        f"User shared a PDF document ({pdf})",
        f"Assistant shared a document ({notes}): Shopping list",
    ]
    assert [r["memory"] for r in results][0] == "User loves pizza"
    assert [r["memory"] for r in results][-3:] == references and {r["event"] for r in results} == {"ADD"}
    stored = {m.memory: m for m in Memory.objects.filter(user_id="alice")}
    assert stored[references[0]].metadata == {
        "attachment": {"type": "image", "url": image, "caption": "My pizza tonight"}
    }
    assert stored[references[2]].role == "assistant"
    picture = next(r["id"] for r in results if r["memory"] == references[0])
    # Verbatim adds store the text and the reference; one already held is not stored again.
    again = api(
        "POST",
        "/v3/memories/add/",
        key=key,
        data={"messages": messages[1:2], "user_id": "alice", "infer": False, "metadata": {"src": "chat"}},
    ).json()["results"]
    assert [r["memory"] for r in again] == ["My pizza tonight"]
    # The reference is searchable by its caption, and the OSS dialect takes the parts too.
    found = api("POST", "/v3/memories/search/", key=key, data={"query": "pizza photo", "filters": {"user_id": "alice"}})
    assert picture in [r["id"] for r in found.json()["results"]]
    oss = api(
        "POST",
        "/memories",
        key=key,
        data={
            "messages": [{"role": "user", "content": [{"type": "input_image", "image_url": f"{listener.url}/b.png"}]}],
            "user_id": "bob",
        },
    )
    assert [r["memory"] for r in oss.json()["results"]] == [f"User shared an image ({listener.url}/b.png)"]
    assert listener.hits == []


@pytest.mark.parametrize(
    ("content", "where"),
    [
        ({"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}, ".image_url.url"),
        ({"type": "image_url", "image_url": {}}, ".image_url.url"),
        ([{"type": "pdf_url", "pdf_url": {"url": "file:///etc/passwd"}}], "[0].pdf_url.url"),
        ({"type": "mdx_url", "mdx_url": "aGVsbG8="}, ".mdx_url"),
    ],
)
def test_a_part_that_is_not_an_http_url_is_refused(api, key, db, content, where):
    data = {"messages": [{"role": "user", "content": content}], "user_id": "alice"}
    body = error_of(api("POST", "/v3/memories/add/", key=key, data=data), 422, "VALIDATION_ERROR")
    assert f"messages[0].content{where}" in body["detail"]
    assert Memory.objects.count() == 0


# --- the official Python SDK against a live server ---------------------------------------------


@pytest.fixture
def sdk(tmp_path, monkeypatch, live_server, project):
    monkeypatch.setenv("MEM0_TELEMETRY", "false")
    monkeypatch.setenv("HOME", str(tmp_path))
    client = importlib.import_module("mem0.client.main")
    raw = apikey_create(project=project, name="sdk", scopes="read,write")[1]
    return client.MemoryClient(api_key=raw, host=live_server.url)


@pytest.mark.django_db(transaction=True)
def test_the_sdk_sends_and_reads_the_flags_and_kinds(sdk, listener):
    sdk.add("I live in Lisbon.", user_id="alice", timestamp=int(T0.timestamp()))
    porto = sdk.add("I live in Porto.", user_id="alice", timestamp=int(T1.timestamp()))["results"][0]
    default = sdk.search("where does alice live", filters={"user_id": "alice"})
    assert _marks(default["results"])["User lives in Lisbon"] == ("superseded", porto["id"])
    latest = sdk.search("where does alice live", filters={"user_id": "alice"}, latest_only=True, include_merged=True)
    assert [r["id"] for r in latest["results"]] == [porto["id"]]
    assert sdk.get_all(filters={"user_id": "alice"}, latest_only=True)["count"] == 1
    assert sdk.get_all(filters={"user_id": "alice"})["count"] == 2
    assert sdk.delete(porto["id"], delete_linked=True)["cascade_count"] == 1
    assert sdk.get_all(filters={"user_id": "alice"})["count"] == 0

    procedure = sdk.add(STEPS, agent_id="travel-agent", memory_type="procedural_memory")["results"][0]
    assert sdk.get(procedure["id"])["memory_type"] == PROCEDURAL
    listed = sdk.get_all(filters={"AND": [{"agent_id": "travel-agent"}, {"memory_type": PROCEDURAL}]})
    assert [m["id"] for m in listed["results"]] == [procedure["id"]]

    picture = {"type": "image_url", "image_url": {"url": f"{listener.url}/cat.jpg"}}
    shared = sdk.add([{"role": "user", "content": picture}], user_id="alice")["results"]
    assert shared[0]["memory"] == f"User shared an image ({listener.url}/cat.jpg)"
    assert listener.hits == []
