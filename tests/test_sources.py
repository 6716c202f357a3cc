"""Sources and decision traces (issue 13, items 4-6): every message an add receives is kept and
linked to the facts that came of it; every fact's decision is traced; both follow their scope's
retention; ``include_sources`` searches the messages too."""

from datetime import UTC, datetime, timedelta

import pytest

from memories.models import DecisionTrace, Memory, MemoryHistory, MemorySource, MemorySourceLink
from tests.test_ingest_pipeline import DIALECTS, LISBON, PORTO

T0 = datetime(2025, 1, 10, 9, 0, tzinfo=UTC)


@pytest.fixture
def key(project, make_key):
    return make_key(project)


def provenance_of(user: str) -> dict:
    """The sources and traces the adds wrote for one user, without ids and clocks."""
    sources = MemorySource.objects.filter(user_id=user).prefetch_related("memories").order_by("created_at", "position")
    traces = DecisionTrace.objects.filter(user_id=user).select_related("memory").order_by("created_at", "position")
    by_id = {str(s.pk): s.content for s in sources}
    return {
        "sources": [
            (s.position, s.role, s.name, s.content, sorted(m.memory for m in s.memories.all())) for s in sources
        ],
        "traces": [
            (
                t.fact,
                t.extractor,
                t.decision,
                t.reason.get("rule"),
                [c["text"] for c in t.candidates],
                t.memory.memory if t.memory else None,
                [by_id[i] for i in t.source_ids],
            )
            for t in traces
        ],
        "untraced_history": MemoryHistory.objects.filter(user_id=user, trace__isnull=True).count(),
    }


def test_every_dialect_and_async_mode_end_in_the_same_sources_and_traces(api, key):
    snapshots = {}
    for name, send in DIALECTS.items():
        user = f"user-{name}"
        send(api, key, user, LISBON)
        send(api, key, user, PORTO)
        snapshots[name] = provenance_of(user)
    expected = snapshots.pop("v1")
    assert expected["sources"] == [
        (0, "user", None, "I live in Lisbon. I love jazz.", ["User lives in Lisbon", "User loves jazz"]),
        (0, "user", None, "I live in Porto.", ["User lives in Porto"]),
    ]
    lisbon, jazz, porto = expected["traces"]
    assert lisbon == (
        "User lives in Lisbon",
        "rules:biography",
        "ADD",
        "new",
        [],
        "User lives in Lisbon",
        [LISBON[0]["content"]],
    )
    assert jazz[2:4] == ("ADD", "new")
    assert porto[:4] == ("User lives in Porto", "rules:biography", "SUPERSEDE", "slot-change")
    assert "User lives in Lisbon" in porto[4] and porto[5:] == ("User lives in Porto", ["I live in Porto."])
    assert expected["untraced_history"] == 0
    for name, snapshot in snapshots.items():
        assert snapshot == expected, name


def test_verbatim_adds_keep_each_message_as_the_source_of_its_memory(api, key):
    text = "Alice's flight lands at 18:40"
    messages = [{"role": "user", "content": text}]
    api("POST", "/v3/memories/add/", key=key, data={"messages": messages, "user_id": "v3", "infer": False})
    api("POST", "/memories", key=key, header="x-api-key", data={"messages": messages, "user_id": "oss", "infer": False})
    api("POST", "/v1/memories/", key=key, data={"content": text, "user_id": "layer"})
    shapes = {}
    for user in ("v3", "oss", "layer"):
        [source] = MemorySource.objects.filter(user_id=user)
        [trace] = DecisionTrace.objects.filter(user_id=user)
        shapes[user] = (source.role, source.content, tuple(m.memory for m in source.memories.all()), trace.extractor)
        assert trace.decision == "ADD" and trace.source_ids == [str(source.pk)]
    assert set(shapes.values()) == {("user", text, (text,), "verbatim")}


def test_each_fact_links_to_the_messages_it_came_from(project):
    from memories.inputs import Scope
    from memories.services import add_ingest

    messages = [
        {"role": "system", "content": "You are a travel assistant."},
        {"role": "user", "content": "I live in Porto.", "name": "Caroline"},
        {"role": "assistant", "content": "Nice!"},
        {"role": "user", "content": "No, I meant Lisbon, not Porto. I have a dog named Rex.", "name": "Caroline"},
    ]
    outcome = add_ingest(project=project, messages=messages, scope=Scope(user_id="caroline"), observed_at=T0)
    sources = {s.position: s for s in MemorySource.objects.filter(add_event=outcome.event)}
    assert sorted(sources) == [0, 1, 2, 3]  # every message, the system's and the assistant's too
    assert sources[1].name == "Caroline" and sources[1].observed_at == T0
    linked = {m.memory: sorted(s.position for s in m.sources.all()) for m in Memory.objects.filter(user_id="caroline")}
    # The corrected fact came from both the message it corrects and the correction.
    assert linked == {"Caroline lives in Lisbon": [1, 3], "Caroline has a dog named Rex": [3]}
    assert not sources[0].memories.exists() and not sources[2].memories.exists()


def test_a_retried_add_keeps_its_messages_once(project):
    from memories.inputs import Scope
    from memories.services import add_ingest

    for _ in range(2):
        add_ingest(project=project, messages=LISBON, scope=Scope(user_id="alice"), observed_at=T0)
    [source] = MemorySource.objects.filter(user_id="alice")
    assert source.memories.count() == 2
    assert [t.decision for t in DecisionTrace.objects.order_by("created_at", "position")] == [
        "ADD",
        "ADD",
        "NONE",
        "NONE",
    ]


def test_memory_detail_event_and_history_serve_sources_and_traces(api, key):
    first = api(
        "POST",
        "/v3/memories/add/",
        key=key,
        data={
            "messages": [{"role": "user", "content": "I live in Lisbon.", "name": "Caroline"}],
            "user_id": "c",
            "timestamp": "2023-05-08T13:56:00Z",
        },
    ).json()
    second = api(
        "POST",
        "/v3/memories/add/",
        key=key,
        data={"messages": [{"role": "user", "content": "I live in Berlin now.", "name": "Caroline"}], "user_id": "c"},
    ).json()
    lisbon_id = first["results"][0]["id"]
    detail = api("GET", f"/v1/memories/{lisbon_id}/", key=key).json()
    [source] = detail["sources"]
    assert source["content"] == "I live in Lisbon." and source["name"] == "Caroline" and source["role"] == "user"
    assert source["observed_at"].startswith("2023-05-08T13:56:00")
    assert set(source) == {"id", "role", "name", "content", "observed_at"}

    event = api("GET", f"/v1/event/{second['event_id']}/", key=key).json()
    [trace] = event["traces"]
    assert trace["decision"] == "SUPERSEDE" and trace["target_id"] == lisbon_id
    assert trace["reason"]["rule"] == "slot-change" and trace["reason"]["slot"].startswith("residence")
    assert trace["candidates"][0]["id"] == lisbon_id and 0 < trace["candidates"][0]["score"] <= 1
    history = api("GET", f"/v1/memories/{lisbon_id}/history/", key=key).json()
    assert [(row["event"], row["trace"] is not None) for row in history] == [("ADD", True), ("SUPERSEDE", True)]
    assert history[1]["trace"] == trace["id"]
    # Lists keep Mem0's shapes: no sources on listed memories, no traces on listed events.
    listed = api("GET", "/v1/memories/?user_id=c", key=key).json()["results"]
    assert all("sources" not in m for m in listed)
    assert all("traces" not in e for e in api("GET", "/v1/events/", key=key).json()["results"])


def test_sources_and_traces_survive_a_supersession_and_go_with_their_user(api, key, project):
    from memories.inputs import Scope
    from memories.services import add_ingest

    for user in ("alice", "bob"):
        add_ingest(project=project, messages=LISBON, scope=Scope(user_id=user), observed_at=T0)
        add_ingest(project=project, messages=PORTO, scope=Scope(user_id=user), observed_at=T0 + timedelta(days=1))
        add_ingest(project=project, messages="Hello there!", scope=Scope(user_id=user), observed_at=T0)
    closed = Memory.objects.get(user_id="alice", memory="User lives in Lisbon")
    assert closed.valid_to is not None and [s.content for s in closed.sources.all()] == [LISBON[0]["content"]]
    assert MemorySource.objects.filter(user_id="alice").count() == 3
    assert DecisionTrace.objects.filter(user_id="alice").count() == 3

    response = api("DELETE", "/v1/memories/?user_id=alice", key=key)
    assert response.status_code == 200
    assert not MemorySource.objects.filter(user_id="alice").exists()  # the fact-less greeting too
    assert not DecisionTrace.objects.filter(user_id="alice").exists()
    assert MemorySource.objects.filter(user_id="bob").count() == 3
    assert DecisionTrace.objects.filter(user_id="bob").count() == 3
    assert MemoryHistory.objects.filter(user_id="alice").exists()  # history is kept, as Mem0 keeps it

    api("DELETE", "/v1/users/bob/memories", key=key)
    assert not MemorySource.objects.exists() and not DecisionTrace.objects.exists()


def test_deleting_a_memory_deletes_the_messages_it_came_from(api, key, project):
    from memories.inputs import Scope
    from memories.services import add_ingest

    outcome = add_ingest(project=project, messages=LISBON, scope=Scope(user_id="alice"))
    add_ingest(project=project, messages="Good morning!", scope=Scope(user_id="alice"))
    lisbon = next(m for m in outcome.memories if m.memory == "User lives in Lisbon")
    assert api("DELETE", f"/v1/memories/{lisbon.id}/", key=key).status_code == 200
    assert [s.content for s in MemorySource.objects.filter(user_id="alice")] == ["Good morning!"]
    jazz = Memory.objects.get(memory="User loves jazz")  # the other fact of that message stays, unlinked
    assert not jazz.sources.exists() and not MemorySourceLink.objects.exists()
    assert list(DecisionTrace.objects.values_list("fact", flat=True)) == ["User loves jazz"]


def test_a_restricted_key_never_sees_another_users_sources(api, project, make_key):
    from memories.inputs import Scope
    from memories.services import add_ingest

    add_ingest(project=project, messages="I collect zanzibar stamps.", scope=Scope(user_id="alice"))
    bob = add_ingest(project=project, messages="I collect zanzibar coins.", scope=Scope(user_id="bob"))
    add_ingest(project=project, messages="Zanzibar was hot, the beach was wonderful.", scope=Scope(user_id="bob"))
    alice_key = make_key(project, user_id="alice")

    assert api("GET", "/v1/sources/?user_id=bob", key=alice_key).status_code == 404
    for path in ("/v1/sources/", "/v1/sources/?query=zanzibar", "/v1/sources/?user_id=alice&query=zanzibar"):
        body = api("GET", path, key=alice_key).json()
        assert [s["content"] for s in body["results"]] == ["I collect zanzibar stamps."], path
    assert api("GET", f"/v1/memories/{bob.memories[0].id}/", key=alice_key).status_code == 404
    found = api(
        "POST", "/v1/memories/search/", key=alice_key, data={"query": "zanzibar beach", "include_sources": True}
    ).json()["results"]
    assert found and all("stamps" in r["memory"] for r in found)


def test_the_sources_route_lists_newest_first_and_searches(api, key, project):
    from memories.inputs import Scope
    from memories.services import add_ingest

    for day, text in enumerate(["I play the cello.", "The festival in Gdansk was rainy.", "Good night!"]):
        add_ingest(project=project, messages=text, scope=Scope(user_id="alice"), observed_at=T0 + timedelta(days=day))
    listed = api("GET", "/v1/sources/?user_id=alice&page_size=2", key=key).json()
    assert listed["count"] == 3 and listed["next"] and len(listed["results"]) == 2
    assert [s["content"] for s in listed["results"]] == ["Good night!", "The festival in Gdansk was rainy."]
    assert listed["results"][1]["memory_ids"] == [] and listed["results"][0]["event_id"]
    cello = api("GET", "/v1/sources/?user_id=alice&page=2&page_size=2", key=key).json()["results"][0]
    assert cello["content"] == "I play the cello." and len(cello["memory_ids"]) == 1
    searched = api("GET", "/v1/sources/?user_id=alice&query=Gdansk weather", key=key).json()["results"]
    assert searched[0]["content"] == "The festival in Gdansk was rainy." and 0 < searched[0]["score"] <= 1
    assert api("GET", "/v1/sources/?user_id=alice&query=", key=key).status_code in (400, 422)
    assert api("GET", "/v1/sources/?user_id=alice&page=0", key=key).status_code in (400, 422)


def test_include_sources_finds_what_extraction_missed_and_never_brings_back_a_superseded_fact(api, key, project):
    from memories.inputs import Scope
    from memories.services import add_ingest

    add_ingest(project=project, messages=LISBON, scope=Scope(user_id="alice"), observed_at=T0)
    add_ingest(project=project, messages=PORTO, scope=Scope(user_id="alice"), observed_at=T0 + timedelta(days=1))
    add_ingest(project=project, messages="The festival in Gdansk was rainy.", scope=Scope(user_id="alice"))

    def search(path, **extra):
        response = api("POST", path, key=key, data={"query": "rain at the Gdansk festival", **extra})
        assert response.status_code == 200, response.content
        return response.json()["results"]

    plain = search("/v3/memories/search/", filters={"user_id": "alice"})
    assert all(r["memory"] != "The festival in Gdansk was rainy." for r in plain)
    assert all("memory_type" not in r for r in plain)
    for path, scope in (
        ("/v3/memories/search/", {"filters": {"user_id": "alice"}}),
        ("/v1/memories/search/", {"user_id": "alice"}),
    ):
        found = search(path, include_sources=True, **scope)
        [hit] = [r for r in found if r.get("memory_type") == "source"]
        assert hit["memory"] == "The festival in Gdansk was rainy." and hit["user_id"] == "alice" and hit["score"] > 0
    # The message that said "Lisbon" brings its current fact (jazz), never the closed residence.
    lisbon = api(
        "POST",
        "/v3/memories/search/",
        key=key,
        data={
            "query": "Lisbon",
            "filters": {"user_id": "alice"},
            "include_sources": True,
            "top_k": 20,
            "latest_only": True,  # a current search (Mem0's Platform default also shows superseded facts, marked)
        },
    ).json()["results"]
    texts = [r["memory"] for r in lisbon]
    assert "User loves jazz" in texts and "User lives in Lisbon" not in texts
    assert not any("Lisbon" in t for t in texts)
    # Without latest_only the closed residence is shown, but marked as superseded, with its successor.
    marked = api(
        "POST",
        "/v3/memories/search/",
        key=key,
        data={"query": "Lisbon", "filters": {"user_id": "alice"}, "include_sources": True, "top_k": 20},
    ).json()["results"]
    [closed] = [r for r in marked if r["memory"] == "User lives in Lisbon"]
    assert closed["lifecycle_state"] == "superseded" and closed["replaced_by"]
    # The OSS search takes the option too.
    oss = api(
        "POST",
        "/search",
        key=key,
        header="x-api-key",
        data={"query": "rain at the Gdansk festival", "user_id": "alice", "include_sources": True},
    ).json()["results"]
    assert any(r.get("memory_type") == "source" for r in oss)


def test_the_ui_memory_page_and_the_admin_show_sources_and_the_decision(
    client, admin_client, project, django_user_model
):
    from accounts.models import ProjectMember
    from memories.inputs import Scope
    from memories.services import add_ingest

    said = [{"role": "user", "content": "I live in Lisbon.", "name": "Caroline"}]
    add_ingest(
        project=project, messages=said, scope=Scope(user_id="caroline"), observed_at=datetime(2023, 5, 8, tzinfo=UTC)
    )
    moved = [{"role": "user", "content": "I live in Berlin now.", "name": "Caroline"}]
    add_ingest(
        project=project, messages=moved, scope=Scope(user_id="caroline"), observed_at=datetime(2023, 6, 1, tzinfo=UTC)
    )
    lisbon = Memory.objects.get(memory="Caroline lives in Lisbon")
    person = django_user_model.objects.create_user("pat", password="pw-pat-123")
    ProjectMember.objects.create(project=project, user=person, role=ProjectMember.Role.OWNER)
    client.force_login(person)
    page = client.get(f"/ui/p/{project.pk}/m/{lisbon.pk}/").content.decode()
    assert "said by Caroline on 8 May 2023:" in page and "<q>I live in Lisbon.</q>" in page
    assert "Why: SUPERSEDE (slot-change)" in page and "Why: ADD (new)" in page

    admin_page = admin_client.get(f"/admin/memories/memory/{lisbon.pk}/change/").content.decode()
    assert "source messages (what was said)" in admin_page.lower() and "I live in Lisbon." in admin_page
    assert "decision traces (why)" in admin_page.lower() and "rules:biography" in admin_page


def test_a_users_messages_are_searched_through_the_scope_keyed_index(project, other_project, monkeypatch):
    # Like memories (tests/test_memory_search.py), a user's messages holding a query word are read
    # from the scope-keyed index, and rank exactly as through the plain full-text index.
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from memories import search
    from memories.inputs import Scope
    from memories.search import source_search
    from memories.services import add_ingest

    said = {
        (project, "alice"): ["My cello teacher lives in Gdansk.", "The cello case is blue.", "Good night!"],
        (project, "bob"): ["I sold my cello in Gdansk.", "Cello strings are expensive."],
        (other_project, "alice"): ["Cello lessons in Gdansk again."],
    }
    for (where, user), texts in said.items():
        for day, text in enumerate(texts):
            add_ingest(project=where, messages=text, scope=Scope(user_id=user), observed_at=T0 + timedelta(days=day))

    def found():
        with CaptureQueriesContext(connection) as captured:
            results = source_search(project=project, query="cello Gdansk", scope=Scope(user_id="alice"), threshold=0)
        return [(s.content, round(s.score, 9), s.keyword) for s in results], captured.captured_queries

    monkeypatch.setattr(search, "SCOPE_KEY_MIN_ROWS", 0)  # a handful of messages stands for many
    keyed, queries = found()
    (sql,) = [q["sql"] for q in queries if "terms AS" in q["sql"]]
    with connection.cursor() as cursor:
        # A handful of rows: PostgreSQL would rather read them all than any index.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + sql)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("RESET enable_seqscan")
    monkeypatch.setattr(search, "_scope_key", lambda project, scope, where: None)
    plain, _ = found()

    assert "memory_source_scope_terms_gin" in plan
    assert keyed == plain
    assert {content for content, _, _ in keyed} == set(said[(project, "alice")])
    assert [content for content, _, keyword in keyed if keyword == 1.0] == ["My cello teacher lives in Gdansk."]


# --- A message stored verbatim shares its memory's vector (MemorySource.vector_memory) -------------

SAID = [
    "My cello teacher lives in Gdansk.",
    "The cello case is blue.",
    "We watched the sunset over the Baltic.",
    "Pierogi with cherries are my favourite.",
    "The train to Warsaw was two hours late.",
    "I am learning to sail this summer.",
]


def said_verbatim(project, texts, **scope):
    from memories.inputs import Scope
    from memories.services import add_ingest

    messages = [{"role": "user", "content": text} for text in texts]
    return add_ingest(project=project, messages=messages, scope=Scope(**scope), infer=False)


def test_a_verbatim_adds_messages_share_their_memories_vectors_and_no_other_message_does(project):
    from django.db import connection

    from memories.inputs import NewMemory, Scope
    from memories.services import add_ingest

    alice = Scope(user_id="alice")
    messages = [{"role": "system", "content": "Be brief."}, *({"role": "user", "content": t} for t in SAID[:2])]
    for _ in range(2):  # the second is a retry: its messages are kept already, and stay as they were
        add_ingest(project=project, messages=messages, scope=alice, infer=False, observed_at=T0)
    add_ingest(project=project, items=[NewMemory(text=SAID[2], scope=alice)])  # the memory layer's verbatim add
    add_ingest(project=project, messages=LISBON, scope=alice)  # facts inferred from the message
    add_ingest(
        project=project,
        messages=[{"role": "user", "content": SAID[3]}, {"role": "assistant", "content": SAID[4]}],
        scope=Scope(agent_id="helper"),
        memory_type="procedural_memory",  # one memory summing up several messages
    )

    sources = {s.content: s for s in MemorySource.objects.prefetch_related("memories")}
    assert len(sources) == MemorySource.objects.count()  # each message kept once
    for text in SAID[:3]:
        [memory] = sources[text].memories.all()
        assert memory.memory == text and sources[text].vector_memory_id == memory.pk
    for text in ("Be brief.", LISBON[0]["content"], SAID[3], SAID[4]):
        assert sources[text].vector_memory_id is None, text
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM memories_memorysource s JOIN memories_memory m ON m.id = s.vector_memory_id "
            "WHERE s.embedding = m.embedding"
        )
        assert cursor.fetchone()[0] == 3  # the very same vector
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'source_embedding_hnsw'")
        # The messages' own HNSW index holds none of them: it is partial.
        assert cursor.fetchone()[0].endswith(
            "USING hnsw (embedding vector_cosine_ops) WITH (m='16', "
            "ef_construction='64') WHERE (vector_memory_id IS NULL)"
        )


def test_a_message_shares_only_the_very_vector_of_the_memory_written_from_it_alone():
    import numpy as np

    from memories.services.add import _vectors_share
    from memories.services.add_plan import FactOutcome

    vector = np.linspace(-1, 1, 384, dtype=np.float32)
    nudged = vector.copy()
    nudged[7] = np.nextafter(nudged[7], np.float32(2))  # one float32 step away

    def shared(*, extractor="verbatim", sources=(0,), written=True, embedding=vector) -> bool:
        memory = Memory(memory="x", embedding=vector)
        outcome = FactOutcome(position=0, fact="x", extractor=extractor, sources=sources, decision="ADD", reason={})
        outcome.memory, outcome.entry = memory, {"id": str(memory.pk)} if written else None
        fresh = {0: MemorySource(content="x", embedding=embedding), 1: MemorySource(content="y", embedding=vector)}
        # The memory's canonical, or itself: found by the message's INSERT, from the memory named here.
        holders = _vectors_share([outcome], fresh)
        assert set(holders) <= {0}
        return holders.get(0) == memory.pk

    assert shared()
    assert not shared(embedding=nudged)
    assert not shared(extractor="rules:biography")  # inferred
    assert not shared(extractor="procedural", sources=(0, 1))  # summed up from several messages
    assert not shared(written=False)  # found again (a retry): nothing written
    assert not shared(sources=(2,))  # its message was kept already: not a fresh row


def searched(monkeypatch, *, exact: bool = False, **arguments) -> tuple[list, list[str]]:
    """``source_search(**arguments)``'s ids and scores, its semantic side ranked by the HNSW walk (or
    by the exact scan: ``exact``), and the SQL it ran."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from memories import search

    def scored(candidates, vector, limit, **_):
        return search.vector_ranking(candidates, vector, limit, exact=True)

    with monkeypatch.context() as patched, CaptureQueriesContext(connection) as captured:
        if exact:
            patched.setattr(search, "shared_vector_ranking", scored)
        results = search.source_search(**arguments)
    assert all(s.project_id == arguments["project"].pk for s in results)
    return [(s.pk, round(s.score, 9)) for s in results], [q["sql"] for q in captured.captured_queries]


@pytest.fixture
def said_around(project, other_project, settings):
    """Messages of several scopes, most stored verbatim (sharing their memories' vectors), some
    inferred from (their own vectors), the same words in another project; every scope large enough
    for the HNSW path. Each scope with its number of messages."""
    from memories.inputs import Scope
    from memories.services import add_ingest

    said_verbatim(project, SAID[:4], user_id="alice")
    add_ingest(project=project, messages=LISBON, scope=Scope(user_id="alice"))
    add_ingest(project=project, messages="Sailing lessons start in June. I love jazz.", scope=Scope(user_id="alice"))
    said_verbatim(project, SAID[4:], user_id="alice", agent_id="guide")
    said_verbatim(project, SAID[:3], user_id="bob")
    said_verbatim(other_project, SAID, user_id="alice")  # the same vectors, in another project
    settings.SEARCH_EXACT_MAX_ROWS = 1  # a side of more than one message is walked
    # The test database's HNSW graphs keep the entries of every rolled-back test before this one,
    # and a walk through them is approximate: it can miss the nearest of a handful of rows (a fresh
    # clone's run did, twice). Built again from what this test holds, the graphs are whole, and what
    # these tests check is the walks' logic, not HNSW's recall.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("REINDEX INDEX memory_embedding_hnsw; REINDEX INDEX source_embedding_hnsw")
    return {
        Scope(user_id="alice"): 8,  # 6 verbatim, 2 inferred from
        Scope(user_id="alice", agent_id="guide"): 2,  # verbatim only
        Scope(user_id="bob"): 3,  # verbatim only
        None: 11,  # the whole project
    }


QUERIES = ("cello lessons", "boats and sailing", "where do I live", "late trains")


def fell_back(statements: list[str]) -> bool:
    """Whether a search counted a side after its walk (the walk came back short)."""
    return any(sql.startswith("SELECT COUNT(*)") for sql in statements)


def test_source_search_on_the_hnsw_path_ranks_as_the_exact_scan(project, said_around, walks, monkeypatch):
    fallbacks = []
    for scope, rows in said_around.items():
        for query in QUERIES:
            arguments = {"project": project, "query": query, "scope": scope}
            walked, statements = searched(monkeypatch, top_k=2, **arguments)
            assert walked == searched(monkeypatch, exact=True, top_k=2, **arguments)[0], (scope, query)
            assert len(walked) == 2, (scope, query)
            fallbacks.append(fell_back(statements))
            everything, _ = searched(monkeypatch, top_k=50, **arguments)
            assert everything == searched(monkeypatch, exact=True, top_k=50, **arguments)[0], (scope, query)
            assert len(everything) == rows
            kept = MemorySource.objects.filter(pk__in=[pk for pk, _ in everything])
            assert kept.filter(vector_memory__isnull=False).exists()
            if scope is not None:
                assert set(kept.values_list("user_id", flat=True)) == {scope.user_id}
    # The walks found them, mostly alone: a graph in the test database (which keeps the entries of
    # every rolled-back test) can leave a row of a handful unreachable, and the exact fallback then
    # finds it (see vector_ranking); a walk that finds nothing would fall back every time.
    assert sum(fallbacks) <= len(fallbacks) // 4, fallbacks


def test_source_search_walks_the_memories_index_and_its_own_partial_one_for_large_sides(
    project, said_around, walks, monkeypatch
):
    from django.db import connection

    from memories.inputs import Scope

    def plan(scope) -> str:
        _, statements = searched(monkeypatch, project=project, query="cello lessons", scope=scope, top_k=2)
        [walk] = [sql for sql in statements if "UNION ALL" in sql]
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN " + walk)
            return "\n".join(row[0] for row in cursor.fetchall())

    # Alice has messages of both kinds: both indexes are walked (the statement carries the
    # partial index's condition, so PostgreSQL can use it).
    both = plan(Scope(user_id="alice"))
    assert "Index Scan using source_embedding_hnsw" in both and "Index Scan using memory_embedding_hnsw" in both
    # Bob's messages all share their memories' vectors: his (empty) other side is not walked.
    shared = plan(Scope(user_id="bob"))
    assert "source_embedding_hnsw" not in shared and "Index Scan using memory_embedding_hnsw" in shared


@pytest.mark.parametrize("side", ["_walked", "_walked_through_memories"])
def test_a_walk_that_comes_back_short_is_scored_exactly_side_by_side(project, said_around, walks, side, monkeypatch):
    from memories import ranking
    from memories.inputs import Scope

    # One side's walk stops after one row, as a walk does in a poorly connected region of its graph
    # or at hnsw.max_scan_tuples; the other side's is whole.
    whole = getattr(ranking, side)
    monkeypatch.setattr(ranking, side, lambda candidates, distance, limit, **kw: whole(candidates, distance, 1, **kw))
    alice = {"project": project, "scope": Scope(user_id="alice"), "top_k": 2}  # both sides large
    for query in QUERIES:
        walked, statements = searched(monkeypatch, query=query, **alice)
        assert walked == searched(monkeypatch, exact=True, query=query, **alice)[0], query
        assert fell_back(statements), query


def test_a_message_whose_memory_changes_or_goes_keeps_its_own_vector_and_is_still_found(project, settings):
    from django.db import connection

    from memories.inputs import Scope
    from memories.search import source_search
    from memories.services import add_ingest, memories_reembed, memory_update

    settings.SEARCH_EXACT_MAX_ROWS = 2
    alice = {m.memory: m.pk for m in said_verbatim(project, SAID, user_id="alice").memories}
    bob = said_verbatim(project, SAID[:2], user_id="bob").memories

    memory_update(project=project, memory_id=alice[SAID[0]], text="The invoice number is 4471.")
    memories_reembed(project=project, memory_ids=[alice[SAID[1]]])
    # An add's inferred UPDATE of a verbatim memory: the unsharing goes out with the add's rows.
    said_verbatim(project, ["User works at Google"], user_id="carol")
    later = add_ingest(project=project, messages="I work at Google as a data engineer.", scope=Scope(user_id="carol"))
    assert [entry["event"] for entry in later.results] == ["UPDATE"]
    # Deleted past the services, which delete a memory's messages with it: by Django's collector (as
    # when a project is deleted), which leaves the messages to the database's ON DELETE SET NULL.
    Memory.objects.filter(pk__in=[alice[SAID[2]], alice[SAID[3]]]).delete()
    Memory.objects.filter(project=project, user_id="bob").delete()  # a user's memories
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the keys hold, as at commit

    shared = dict(MemorySource.objects.values_list("content", "vector_memory_id").filter(user_id="alice"))
    assert shared == {**{text: None for text in SAID[:4]}, SAID[4]: alice[SAID[4]], SAID[5]: alice[SAID[5]]}
    assert not MemorySource.objects.filter(user_id__in=["bob", "carol"], vector_memory__isnull=False).exists()
    assert len(bob) == MemorySource.objects.filter(user_id="bob").count()
    for user, texts in (("alice", SAID), ("bob", SAID[:2]), ("carol", ["User works at Google"])):
        for text in texts:
            [best] = source_search(project=project, query=text, scope=Scope(user_id=user), top_k=1)
            assert best.content == text, (user, text)


def test_a_project_whose_messages_share_vectors_is_deleted_whole(project, other_project):
    from django.db import connection

    from accounts.services import project_delete

    said_verbatim(other_project, SAID, user_id="alice")
    said_verbatim(project, SAID, user_id="alice")
    project_delete(project=other_project)
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the keys hold, as at commit
    assert set(MemorySource.objects.values_list("project_id", flat=True)) == {project.pk}
    assert MemorySource.objects.filter(vector_memory__isnull=False).count() == len(SAID)


def test_in_a_large_scope_of_messages_a_word_in_many_weighs_nothing(project, settings, monkeypatch):
    # As memory_search's large scopes (KEYWORD_COMMON_ROWS): 6 of the 12 messages say "garden", 2
    # "zebra"; over the exact path's limit (5) with the rule at 4, only "zebra" counts.
    from memories import search
    from memories.inputs import Scope

    monkeypatch.setattr(search, "KEYWORD_COMMON_ROWS", 4)
    said_verbatim(project, [f"I water the garden every morning, bed {n}" for n in range(6)], user_id="gardener")
    said_verbatim(project, ["I saw a zebra at the zoo", "The garden has a zebra statue"], user_id="gardener")
    said_verbatim(project, [f"I read a novel before bed, book {n}" for n in range(4)], user_id="gardener")

    def keyword_of(query: str, exact_max: int) -> dict[str, float]:
        settings.SEARCH_EXACT_MAX_ROWS = exact_max
        found = search.source_search(project=project, query=query, scope=Scope(user_id="gardener"), top_k=12)
        return {source.content: source.keyword for source in found}

    large = keyword_of("zebra garden", 5)
    assert large["I saw a zebra at the zoo"] == pytest.approx(1.0)
    assert large["The garden has a zebra statue"] == pytest.approx(1.0)
    assert {large[f"I water the garden every morning, bed {n}"] for n in range(6)} == {0.0}
    assert set(keyword_of("garden", 5).values()) == {0.0}
    small = keyword_of("zebra garden", 1000)
    assert 0 < small["I water the garden every morning, bed 0"] < small["The garden has a zebra statue"]
