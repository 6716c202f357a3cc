"""The memory-layer routes of our specification, driven by the tutorial client code verbatim."""

import httpx
import pytest

from accounts.services import apikey_create

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_tutorial_client_code_works_verbatim(live_server, project, capsys):
    KEY = apikey_create(project=project, name="tutorial", scopes="read,write")[1]  # noqa: N806

    client = httpx.Client(base_url=live_server.url, headers={"Authorization": f"Bearer {KEY}"})
    m = client.post(
        "/v1/memories",
        json={
            "content": "User prefers Python for scripting",
            "user_id": "user_123",
            "metadata": {"category": "language_preference", "confidence": 0.9},
        },
    ).json()
    # m has id, content, created_at, ...
    r = client.post(
        "/v1/memories/search", json={"query": "programming language preferences", "user_id": "user_123", "limit": 5}
    ).json()
    for mem in r["memories"]:
        print(f"[{mem['score']:.2f}] {mem['content']}")
    client.put(f"/v1/memories/{m['id']}", json={"content": "...", "metadata": {"category": "edited"}})
    listed = client.get("/v1/memories", params={"user_id": "user_123"})

    assert {"id", "content", "created_at", "memory", "metadata"} <= set(m)
    assert m["content"] == "User prefers Python for scripting" and m["user_id"] == "user_123"
    assert m["metadata"] == {"category": "language_preference", "confidence": 0.9}
    printed = capsys.readouterr().out.strip().splitlines()
    assert len(printed) == 1 and printed[0].endswith("] User prefers Python for scripting")
    assert r["results"] == r["memories"]
    body = listed.json()
    assert listed.status_code == 200 and body["results"] == body["memories"]
    assert [(x["id"], x["content"], x["metadata"]) for x in body["memories"]] == [
        (m["id"], "...", {"category": "edited"})
    ]


def test_create_returns_201_and_get_routes(live_server, project):
    key = apikey_create(project=project, name="t", scopes="read,write")[1]
    client = httpx.Client(base_url=live_server.url, headers={"Authorization": f"Bearer {key}"})
    created = client.post("/v1/memories", json={"content": "User owns a kayak", "user_id": "u1", "session_id": "s1"})
    assert created.status_code == 201
    memory = created.json()
    assert memory["run_id"] == memory["session_id"] == "s1"
    for text in ("User likes rowing", "User lives near a lake"):
        client.post("/v1/memories", json={"content": text, "user_id": "u1"})

    found = client.get("/v1/memories/search", params={"query": "boats", "user_id": "u1", "limit": 2, "threshold": 0})
    assert found.status_code == 200 and len(found.json()["memories"]) == 2
    page = client.get("/v1/memories/user/u1", params={"limit": 2, "offset": 2}).json()
    assert page["count"] == 3 and [x["content"] for x in page["memories"]] == ["User owns a kayak"]
    assert client.get(f"/v1/memories/{memory['id']}").json()["content"] == "User owns a kayak"
    assert client.get("/v1/memories/user/u1", params={"limit": 2, "offset": 1}).status_code == 422
