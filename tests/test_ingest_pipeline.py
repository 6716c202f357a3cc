"""The one add pipeline (memories.services.add_ingest): every dialect ends in the same rows, facts are
placed in time order rather than arrival order, a retried add is applied once."""

import threading
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tasks_db.models import DBTaskResult
from pgvector import Vector

from graph.models import SUPERSEDES, EntityRelation, Relationship
from memories.embedding import embed_texts
from memories.inputs import Scope
from memories.models import AddEvent, DecisionTrace, Memory, MemoryHistory, MemorySource
from memories.services import add_ingest, scope_lock_key
from memories.services.records import sql_vector
from memories.tasks import add_event_run, add_event_run_task
from memories.vectors import SqlVector

T0 = datetime(2025, 1, 10, 9, 0, tzinfo=UTC)


@pytest.fixture
def key(project, make_key):
    return make_key(project)


# --- every dialect, the same rows --------------------------------------------------------------

LISBON = [{"role": "user", "content": "I live in Lisbon. I love jazz."}]
PORTO = [{"role": "user", "content": "I live in Porto."}]


def _run_queued(event_id: str) -> None:
    """Run the queued add's job by calling the job function, as the worker does."""
    job = DBTaskResult.objects.get(task_path=add_event_run_task.module_path, args_kwargs__kwargs__event_id=event_id)
    assert add_event_run(**job.args_kwargs["kwargs"]) == "SUCCEEDED"


def _platform_v1(api, key, user, messages, **extra):
    response = api("POST", "/v1/memories/", key=key, data={"messages": messages, "user_id": user, **extra})
    assert response.status_code == 200, response.content
    return response.json()


def _platform_v3(api, key, user, messages, **extra):
    response = api("POST", "/v3/memories/add/", key=key, data={"messages": messages, "user_id": user, **extra})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "SUCCEEDED"
    return body


def _platform_v3_async(api, key, user, messages, **extra):
    data = {"messages": messages, "user_id": user, "async_mode": True, **extra}
    response = api("POST", "/v3/memories/add/", key=key, data=data)
    assert response.status_code == 200 and response.json()["status"] == "PENDING", response.content
    _run_queued(response.json()["event_id"])
    return response.json()


def _oss(api, key, user, messages, **extra):
    response = api(
        "POST", "/memories", key=key, header="x-api-key", data={"messages": messages, "user_id": user, **extra}
    )
    assert response.status_code == 200, response.content
    body = response.json()
    # Mem0's OSS answer: the events (and Mem0's relations with enable_graph), no event id.
    assert set(body) == ({"results", "relations"} if extra.get("enable_graph") else {"results"})
    return body


DIALECTS = {"v1": _platform_v1, "v3": _platform_v3, "v3-async": _platform_v3_async, "oss": _oss}


def rows_of(user: str) -> dict:
    """Everything the adds wrote for one user, without ids and clocks. The clocks are checked to be
    the adds' own: a memory is written when its add is applied (the event's last update) and holds
    from the add's observation time (the request's, for a queued add, or the moment it was applied)."""
    memories = list(Memory.objects.filter(user_id=user).order_by("valid_from", "memory"))
    events = list(AddEvent.objects.filter(user_id=user).order_by("created_at"))
    applied = {event.updated_at for event in events}
    observed = applied | {event.created_at for event in events}
    for memory in memories:
        assert memory.created_at in applied and memory.valid_from in observed
    return {
        "memories": [(m.memory, m.role, m.is_current) for m in memories],
        "history": sorted(
            (h.event, h.old_memory or "", h.new_memory or "") for h in MemoryHistory.objects.filter(user_id=user)
        ),
        "links": sorted(
            (r.source.memory, r.relation, r.target.memory, r.origin)
            for r in Relationship.objects.filter(source__user_id=user).select_related("source", "target")
        ),
        "relations": sorted(
            (r.source, r.relationship, r.destination, r.valid_to is None, r.memory.memory)
            for r in EntityRelation.objects.filter(user_id=user).select_related("memory")
        ),
        "events": [(e.status, sorted((r["memory"], r["event"]) for r in e.results)) for e in events],
    }


def test_the_same_adds_through_every_dialect_end_in_the_same_rows(api, key):
    snapshots = {}
    for name, send in DIALECTS.items():
        user = f"user-{name}"
        send(api, key, user, LISBON, enable_graph=True)
        send(api, key, user, PORTO, enable_graph=True)
        snapshots[name] = rows_of(user)
    expected = snapshots.pop("v1")
    assert sorted(expected["memories"]) == [
        ("User lives in Lisbon", "user", False),
        ("User lives in Porto", "user", True),
        ("User loves jazz", "user", True),
    ]
    assert ("SUPERSEDE", "User lives in Lisbon", "User lives in Porto") in expected["history"]
    assert ("User lives in Porto", SUPERSEDES, "User lives in Lisbon", "inference") in expected["links"]
    assert ("user", "lives_in", "lisbon", False, "User lives in Lisbon") in expected["relations"]
    assert [status for status, _ in expected["events"]] == ["SUCCEEDED", "SUCCEEDED"]
    for name, snapshot in snapshots.items():
        assert snapshot == expected, name


def test_a_verbatim_add_is_the_same_through_every_dialect_and_the_memory_layer(api, key):
    text = "Alice's flight lands at 18:40"
    snapshots = {}
    for name, send in DIALECTS.items():
        if name == "v3-async":
            continue  # infer: false is never queued
        user = f"verbatim-{name}"
        send(api, key, user, [{"role": "user", "content": text}], infer=False)
        snapshots[name] = rows_of(user)
    created = api("POST", "/v1/memories/", key=key, data={"content": text, "user_id": "verbatim-layer"})
    assert created.status_code == 201 and created.json()["memory"] == text
    layer = rows_of("verbatim-layer")
    for name, snapshot in snapshots.items():
        assert snapshot["memories"] == [(text, "user", True)], name
        assert snapshot == snapshots["v1"], name
    # The memory layer stores the text itself (no message, so no role), with the same history and event.
    assert layer["memories"] == [(text, None, True)]
    assert {k: v for k, v in layer.items() if k != "memories"} == {
        k: v for k, v in snapshots["v1"].items() if k != "memories"
    }


def test_the_ui_and_admin_adds_record_an_event_too(project):
    outcome = add_ingest(
        project=project, payload={"via": "test"}, items=[_item("User likes tea", Scope(user_id="carol"))]
    )
    assert [m.memory for m in outcome.memories] == ["User likes tea"]
    event = AddEvent.objects.get(user_id="carol")
    assert event == outcome.event and event.status == "SUCCEEDED" and event.payload == {"via": "test"}
    assert event.results == [{"id": str(outcome.memories[0].id), "memory": "User likes tea", "event": "ADD"}]


def _item(text, scope, **fields):
    from memories.inputs import NewMemory

    return NewMemory(text=text, scope=scope, **fields)


# --- time order, not arrival order ---------------------------------------------------------------

ALICE = Scope(user_id="alice")


def say(project, text, at, **extra):
    return add_ingest(project=project, messages=text, scope=ALICE, observed_at=at, **extra).results


def chain(user="alice"):
    """(text, valid_from, valid_to) of the user's memories in valid-time order."""
    return list(
        Memory.objects.filter(user_id=user).order_by("valid_from").values_list("memory", "valid_from", "valid_to")
    )


def open_links():
    return sorted(
        (r.source.memory, r.target.memory)
        for r in Relationship.objects.not_retracted().filter(relation=SUPERSEDES).select_related("source", "target")
    )


def test_an_older_observation_after_a_newer_one_is_stored_as_history(project):
    t1, t2 = T0, T0 + timedelta(days=30)
    [berlin] = say(project, "I live in Berlin.", t2)
    [paris] = say(project, "I live in Paris.", t1)  # arrives later, was true earlier
    assert paris["event"] == "ADD" and paris["superseded_by"] == berlin["id"] and "supersedes" not in paris
    assert chain() == [("User lives in Paris", t1, t2), ("User lives in Berlin", t2, None)]
    assert open_links() == [("User lives in Berlin", "User lives in Paris")]
    current = Memory.objects.filter(user_id="alice").current()
    assert [m.memory for m in current] == ["User lives in Berlin"]
    # The closing is in the history of the older fact: closed by Berlin.
    assert MemoryHistory.objects.filter(memory_id=paris["id"]).values_list("event", flat=True).count() == 2
    assert MemoryHistory.objects.get(memory_id=paris["id"], event="SUPERSEDE").new_memory == "User lives in Berlin"


def test_an_observation_between_two_facts_goes_between_them(project):
    t1, t2, t3 = T0, T0 + timedelta(days=10), T0 + timedelta(days=20)
    say(project, "I live in Paris.", t1)
    say(project, "I live in Rome.", t3)
    [london] = say(project, "I live in London.", t2)
    assert london["supersedes"] and london["superseded_by"]
    assert chain() == [
        ("User lives in Paris", t1, t2),
        ("User lives in London", t2, t3),
        ("User lives in Rome", t3, None),
    ]
    # Rome no longer supersedes Paris directly (that link is retracted, and kept).
    assert open_links() == [
        ("User lives in London", "User lives in Paris"),
        ("User lives in Rome", "User lives in London"),
    ]
    assert Relationship.objects.filter(relation=SUPERSEDES, invalidated_at__isnull=False).count() == 1
    # No entity relation is opened for a fact that no longer holds.


def test_an_observation_before_the_whole_chain_goes_first(project):
    t1, t2, t3 = T0, T0 + timedelta(days=10), T0 + timedelta(days=20)
    say(project, "I live in Rome.", t2)
    say(project, "I live in Oslo.", t3)
    say(project, "I live in Paris.", t1)
    assert chain() == [
        ("User lives in Paris", t1, t2),
        ("User lives in Rome", t2, t3),
        ("User lives in Oslo", t3, None),
    ]
    assert open_links() == [("User lives in Oslo", "User lives in Rome"), ("User lives in Rome", "User lives in Paris")]


def test_a_retried_add_is_applied_once(project):
    t1, t2 = T0, T0 + timedelta(days=30)
    first = say(project, "I live in Paris. I love jazz.", t1)
    assert [e["event"] for e in first] == ["ADD", "ADD"]
    assert say(project, "I live in Paris. I love jazz.", t1) == []
    say(project, "I live in Berlin.", t2)
    before = (Memory.objects.count(), MemoryHistory.objects.count(), Relationship.objects.count())
    # The Paris observation again, now that it is history: still nothing to do.
    assert say(project, "I live in Paris.", t1) == []
    assert (Memory.objects.count(), MemoryHistory.objects.count(), Relationship.objects.count()) == before
    assert AddEvent.objects.count() == 4  # every add is recorded, the retries with no results
    assert [e.results for e in AddEvent.objects.order_by("created_at")][-1] == []


def test_a_retried_verbatim_add_with_its_time_is_applied_once(project):
    for _ in range(2):
        say(project, [{"role": "user", "content": "Flight lands at 18:40"}], T0, infer=False, metadata={"k": 1})
    assert Memory.objects.count() == 1
    # Another time, or other metadata, is another observation.
    say(project, [{"role": "user", "content": "Flight lands at 18:40"}], T0, infer=False, metadata={"k": 2})
    say(project, [{"role": "user", "content": "Flight lands at 18:40"}], T0 + timedelta(days=1), infer=False)
    assert Memory.objects.count() == 3


def test_graph_relations_follow_valid_time_and_skip_history(project):
    t1, t2 = T0, T0 + timedelta(days=30)
    say(project, "I live in Berlin.", t2, enable_graph=True)
    outcome = add_ingest(project=project, messages="I live in Paris.", scope=ALICE, observed_at=t1, enable_graph=True)
    assert outcome.relations == {"deleted_entities": [], "added_entities": []}
    assert list(EntityRelation.objects.current().values_list("destination", flat=True)) == ["berlin"]


# --- the lock key ----------------------------------------------------------------------------------


def test_the_scope_lock_key_is_a_stable_64_bit_hash_of_project_and_scope(project, other_project):
    key = scope_lock_key(project.pk, Scope(user_id="alice"))
    assert key == scope_lock_key(project.pk, Scope(user_id="alice"))
    assert -(2**63) <= key < 2**63
    others = {
        scope_lock_key(project.pk, Scope(user_id="bob")),
        scope_lock_key(project.pk, Scope(agent_id="alice")),
        scope_lock_key(project.pk, Scope(user_id="alice", run_id="r1")),
        scope_lock_key(project.pk, Scope(user_id="alice", run_id="")),
        scope_lock_key(other_project.pk, Scope(user_id="alice")),
    }
    assert key not in others and len(others) == 5


# --- what an add costs in statements ------------------------------------------------------------------


def _statements(project, count: int, scope: Scope, **add) -> list[str]:
    """The round trips of one verbatim add of ``count`` messages, each statement reduced to its verb
    and table; statements sent together (mem0g_site/deferred.py) joined by " + "."""
    messages = [{"role": "user", "content": f"Line {n} of the itinerary: gate {n * 3}"} for n in range(count)]
    with CaptureQueriesContext(connection) as context:
        outcome = add_ingest(project=project, messages=messages, scope=scope, infer=False, **add)
    assert len(outcome.results) == count
    trips = []
    # (A deferred INSERT is logged with no SQL where it was queued: nothing was sent then.)
    for query in [q for q in context.captured_queries if q["sql"] is not None]:
        kinds = []
        for statement in query["sql"].split(";\n"):
            words = statement.replace('"', "").split()
            after = [w for before, w in zip(words, words[1:], strict=False) if before in ("INTO", "FROM", "UPDATE")]
            table = after[0] if after else ""
            kinds.append(f"{words[0]} {table.split('(')[0]}".strip())
        trips.append(" + ".join(kinds))
    return trips


def test_a_verbatim_add_runs_the_same_few_statements_for_one_message_or_twenty(project):
    """One statement per table written, whatever the number of messages, and all of them in one
    round trip with the scope's lock: no per-message round trips, no history UPDATE after the traces (the rows carry
    theirs from the INSERT), no savepoint inside the add's transaction, no read-back of the rows in
    hand. (The test's transaction turns the add's own into a savepoint: SAVEPOINT .. RELEASE stand
    for BEGIN .. COMMIT.) A batch reads once before it: the vectors its project holds for its texts
    (``held_vectors``), outside the transaction, with nothing locked."""
    one = _statements(project, 1, Scope(user_id="alice"))
    twenty = _statements(project, 20, Scope(user_id="bob"), metadata={"source": "itinerary"})
    rows = [
        "INSERT memories_memory",
        "INSERT memories_memoryhistory",
        "INSERT memories_addevent",
        "INSERT memories_memorysource",
        "INSERT memories_memorysourcelink",
        "INSERT memories_decisiontrace",
    ]
    # The scope's lock(s) go out with the rows.
    assert one == ["SAVEPOINT", " + ".join(["SELECT unnest", *rows]), "RELEASE"]
    assert twenty == ["SELECT memories_memory", *one]
    # A scope naming several ids takes all its locks in that one statement.
    assert _statements(project, 3, Scope(user_id="carol", agent_id="bot", run_id="r1")) == twenty


def test_the_history_rows_an_add_writes_point_to_its_decision_traces(project):
    """Verbatim, inferred and reference adds: each ADD history row carries its memory's trace."""
    add_ingest(project=project, messages=["Flight lands at 18:40", "Hotel is near the port"], scope=ALICE, infer=False)
    add_ingest(project=project, messages="I live in Lisbon. I love jazz.", scope=ALICE)
    add_ingest(
        project=project,
        messages=[{"role": "user", "content": {"type": "image_url", "image_url": {"url": "https://e.x/a.png"}}}],
        scope=ALICE,
    )
    rows = MemoryHistory.objects.filter(project=project, event=MemoryHistory.Event.ADD)
    assert rows.count() == Memory.objects.count() >= 5
    traces = dict(DecisionTrace.objects.filter(project=project).values_list("memory_id", "id"))
    assert {row.memory_id: row.trace_id for row in rows} == {pk: traces[pk] for pk in traces}


def test_vectors_are_sent_in_nine_digits_and_stored_to_the_bit(project):
    """The add sends each vector's text once, in 9 significant digits: the database keeps exactly
    the float32 the model computed, as with pgvector's own (longer) text."""
    rng = np.random.default_rng(7)
    vectors = rng.standard_normal((40, 384)).astype(np.float32)
    vectors[0, :4] = [1e-8, -0.0, 0.5, -3.4e38]
    for vector in vectors:
        text = sql_vector(vector).to_text()
        assert np.array_equal(np.array(text[1:-1].split(","), dtype=np.float32), vector)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT bool_and(a::vector = b::vector) FROM unnest(%s::text[], %s::text[]) AS pairs(a, b)",
            [[sql_vector(v).to_text() for v in vectors], [Vector._to_db(v) for v in vectors]],
        )
        assert cursor.fetchone() == (True,)
    assert sql_vector([0.5, 0.25]) == [0.5, 0.25]  # lists keep pgvector's conversion

    text = "The ferry leaves at 07:15 from pier 3"
    outcome = add_ingest(project=project, messages=text, scope=ALICE, infer=False)
    expected = np.asarray(embed_texts([text])[0], dtype=np.float32)
    assert isinstance(outcome.memories[0].embedding, np.ndarray)  # the rows in hand hold the model's array
    stored = Memory.objects.get(pk=outcome.memories[0].pk).embedding
    source = MemorySource.objects.get(project=project).embedding
    assert np.array_equal(np.array(stored, dtype=np.float32), expected)
    assert np.array_equal(np.array(source, dtype=np.float32), expected)


def test_a_text_said_twice_in_one_add_is_embedded_once(project, embedded):
    outcome = add_ingest(project=project, messages=["ok", "The ferry leaves at 07:15", "ok"], scope=ALICE, infer=False)
    assert embedded == [["ok", "The ferry leaves at 07:15"]]
    assert [entry["memory"] for entry in outcome.results] == ["ok", "The ferry leaves at 07:15", "ok"]
    first, _, third = (Memory.objects.get(pk=m.pk).embedding for m in outcome.memories)
    assert np.array_equal(first, third)
    assert MemorySource.objects.filter(project=project).count() == 3


@pytest.mark.django_db
def test_a_pending_vector_is_waited_for_once_when_its_statement_goes_out():
    vector = np.random.default_rng(3).standard_normal(384).astype(np.float32)
    waited = []
    pending = SqlVector(later=lambda: waited.append(1) or vector)
    assert pending.pending and waited == []
    assert Memory._meta.get_field("embedding").get_prep_value(pending) is pending  # reaches the driver as is
    with connection.cursor() as cursor:
        cursor.execute("SELECT %s::vector = %s::vector", [pending, Vector._to_db(vector)])
        assert cursor.fetchone() == (True,)
    assert waited == [1] and not pending.pending
    assert pending.to_text() == sql_vector(vector).to_text() and np.array_equal(pending.to_list(), vector)
    assert waited == [1]
    with pytest.raises(TypeError):
        SqlVector(vector, later=lambda: vector)


@pytest.fixture
def held_model(monkeypatch):
    """``hold(batch=...)``: the runner an add's texts go to (one text: ONNX Runtime; a batch:
    bfloat16 where the CPU has it), its runs held until ``release`` is set, or failing with
    ``error``; returns the threads the runs came from."""
    from memories.embedding import get_embedder

    embedder = get_embedder()
    if not hasattr(getattr(embedder, "_encoder", None), "start"):
        pytest.fail("the tests run the onnx backend (EMBEDDING_BACKEND=onnx, the default)")

    def hold(*, batch, release=None, error=None):
        encoder = (getattr(embedder, "_batches", None) if batch else None) or embedder._encoder
        forward, threads = encoder._forward, []

        def held(feed):
            threads.append(threading.get_ident())
            if error is not None:
                raise error
            if not release.wait(10):
                raise AssertionError("the add waited for the model before building its rows")
            return forward(feed)

        monkeypatch.setattr(encoder, "_forward", held)
        return threads

    return hold


@pytest.mark.parametrize("count", [1, 20])
def test_the_texts_are_embedded_while_the_add_builds_its_rows(project, held_model, count):
    """The model runs on other threads (a batch in parts) and the add goes on meanwhile: the runs
    are held until the add has queued its memories' INSERT (were they waited for first, they would
    wait 10 s and fail). The vectors are those ``embed_texts`` gives the same texts."""
    release = threading.Event()
    threads = held_model(batch=count > 1, release=release)

    def watch(execute, sql, params, many, context):
        if sql.startswith('INSERT INTO "memories_memory"'):
            release.set()
        return execute(sql, params, many, context)

    texts = [f"The night train {n} to Vienna leaves at 22:{n:02}" for n in range(count)]
    with connection.execute_wrapper(watch):
        outcome = add_ingest(project=project, messages=_said(texts), scope=ALICE, infer=False)
    assert threads and threading.get_ident() not in threads
    assert len(outcome.memories) == count
    assert all(isinstance(m.embedding, np.ndarray) for m in outcome.memories)  # handed over once made
    expected = dict(zip(texts, embed_texts(texts), strict=True))
    for memory in Memory.objects.filter(project=project):
        assert np.allclose(np.asarray(memory.embedding, dtype=np.float32), expected[memory.memory], atol=1e-5)
    assert MemorySource.objects.filter(project=project, vector_memory__isnull=False).count() == count


@pytest.mark.parametrize("count", [1, 12])
def test_a_model_error_beside_the_add_fails_it_whole(project, held_model, count):
    held_model(batch=count > 1, error=RuntimeError("the model broke"))
    texts = [f"The ferry {n} leaves at 07:{n:02}" for n in range(count)]
    with pytest.raises(RuntimeError, match="the model broke"):
        add_ingest(project=project, messages=_said(texts), scope=ALICE, infer=False)
    for model in (Memory, MemorySource, MemoryHistory, AddEvent, DecisionTrace):
        assert not model.objects.filter(project=project).exists(), model.__name__


def _said(texts: list[str]) -> list[dict]:
    return [{"role": "user", "content": text} for text in texts]
