"""The add pipeline's decisions: NONE, UPDATE, SUPERSEDE, ADD — the built-in rules and the API.

A changed fact is closed and linked to its successor, never lost: ``as_of`` reads it back for the
time it held.
"""

from datetime import UTC, datetime, timedelta

import pytest

from graph.models import Relationship
from memories.decisions import Candidate, decide, fact_slots
from memories.models import Memory, MemoryHistory

# (existing memory, similarity, new fact, expected event). The similarity is what the embedding
# model gives such pairs roughly; the slot rules decide most of them whatever it is.
TABLE = [
    # where someone lives
    ("User lives in Paris", 0.70, "User moved to Berlin in April 2026", "SUPERSEDE"),
    ("User lives in Paris", 0.72, "User now lives in Berlin", "SUPERSEDE"),
    ("User lives in Paris", 0.96, "User now lives in Paris", "NONE"),
    ("User lives in Paris", 0.88, "User lives in Paris with their wife", "UPDATE"),
    ("User lives in Paris", 0.40, "User works at Google", "ADD"),
    # work and job
    ("User works at Google as a software engineer", 0.66, "User now works at Microsoft", "SUPERSEDE"),
    ("User works at Google", 0.93, "User works at Google as a data engineer", "UPDATE"),
    ("User is a teacher", 0.60, "User is now a nurse", "SUPERSEDE"),
    ("User works as a nurse", 0.62, "User works as a midwife", "SUPERSEDE"),
    ("User is a big fan of jazz", 0.20, "User is a teacher", "ADD"),
    # name, age, partner
    ("User's name is Alex", 0.55, "User prefers to be called Sam", "SUPERSEDE"),
    ("User is 34 years old", 0.90, "User is 35 years old", "SUPERSEDE"),
    ("User is 34 years old", 0.60, "User just turned 35", "SUPERSEDE"),
    ("User's wife is Maria", 1.00, "User's wife is Maria", "NONE"),
    ("User's girlfriend is Jane", 0.70, "User is married to Kate", "SUPERSEDE"),
    # favourites and preferences (and their negations)
    ("User's favourite colour is blue", 0.80, "User's favorite color is green now", "SUPERSEDE"),
    ("User's favourite colour is blue", 0.35, "User's favourite food is sushi", "ADD"),
    ("User loves coffee", 0.62, "User no longer drinks coffee", "SUPERSEDE"),
    ("User loves coffee", 0.70, "User does not like coffee anymore", "SUPERSEDE"),
    ("User loves coffee", 0.85, "User likes coffee", "NONE"),
    ("User loves Python", 0.85, "User loves Python, especially for data science", "UPDATE"),
    ("User loves Python", 0.65, "User loves Java", "ADD"),
    ("User hates running", 0.55, "User started running every morning", "SUPERSEDE"),
    ("User likes hiking", 0.80, "User enjoys hiking in the Alps", "UPDATE"),
    ("User is vegetarian", 0.75, "User is not vegetarian anymore", "SUPERSEDE"),
    ("User is vegetarian", 0.70, "User is vegan", "SUPERSEDE"),
    # allergies and possessions hold several values at once
    ("User is allergic to peanuts", 0.80, "User is allergic to shellfish", "ADD"),
    ("User is allergic to peanuts", 0.85, "User is no longer allergic to peanuts", "SUPERSEDE"),
    ("User has a car", 0.60, "User sold their car", "SUPERSEDE"),
    ("User has a dog named Rex", 0.50, "User has two cats", "ADD"),
    ("User has two cats", 0.90, "User has three cats", "SUPERSEDE"),
    # no slot: similarity alone
    ("User went to Japan in 2019", 0.99, "User went to Japan in 2019", "NONE"),
    ("User went to Japan in 2019", 0.84, "User went to Japan in 2019 with their sister", "UPDATE"),
    ("User went to Japan in 2019", 0.60, "User went to Peru in 2021", "ADD"),
    ("User loves the colour number 12", 0.97, "User loves the colour number 21", "ADD"),
    ("User visited the museum on Friday", 0.96, "User visited the museum", "NONE"),
    ("User is training for a marathon", 0.97, "User is training for a marathon", "NONE"),
    # a negated fact about a different value does not close the old one
    ("User lives in Paris", 0.70, "User no longer lives in Rome", "ADD"),
]


@pytest.mark.parametrize(("old", "score", "new", "expected"), TABLE)
def test_decision_table(old, score, new, expected):
    decision = decide(new, [Candidate(id="m1", text=old, score=score)])
    assert decision.event == expected, (old, new, fact_slots(old), fact_slots(new))
    assert decision.text == new
    assert decision.target_id == (None if expected == "ADD" else "m1")


def test_a_slot_match_wins_over_a_more_similar_unrelated_memory():
    candidates = [
        Candidate(id="near", text="User loves Paris in the spring", score=0.81),
        Candidate(id="home", text="User lives in Paris", score=0.70),
    ]
    decision = decide("User moved to Lyon", candidates)
    assert (decision.event, decision.target_id) == ("SUPERSEDE", "home")


def test_immutable_memories_are_never_updated_or_superseded():
    pairs = [
        ("User lives in Paris", "User moved to Berlin"),
        ("User loves Python", "User loves Python for data science"),
    ]
    for old, new in pairs:
        decision = decide(new, [Candidate(id="m1", text=old, score=0.8, immutable=True)])
        assert (decision.event, decision.target_id) == ("ADD", None)
    assert decide("User lives in Paris", [Candidate("m1", "User lives in Paris", 1.0, immutable=True)]).event == "NONE"


def test_no_candidates_means_add():
    assert decide("User lives in Paris", []).event == "ADD"


# --------------------------------------------------------------------------------------------------
# Through the API (POST /v3/memories/add/, the official SDK's add)

T0 = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)


def _add(api, key, text, when, **extra):
    response = api(
        "POST",
        "/v3/memories/add/",
        key=key,
        data={"messages": [{"role": "user", "content": text}], "user_id": "alice", "timestamp": int(when.timestamp())}
        | extra,
    )
    assert response.status_code == 200, response.content
    return response.json()["results"]


def _current(api, key, **body):
    response = api("POST", "/v3/memories/", key=key, data={"filters": {"user_id": "alice"}, "latest_only": True} | body)
    assert response.status_code == 200, response.content
    return sorted(item["memory"] for item in response.json()["results"])


@pytest.fixture
def key(project, make_key):
    return make_key(project)


def test_none_same_fact_again_writes_nothing(api, key, project):
    [first] = _add(api, key, "I live in Paris.", T0)
    assert first["event"] == "ADD" and first["memory"] == "User lives in Paris"
    assert _add(api, key, "I live in Paris now.", T0 + timedelta(days=1)) == []
    assert Memory.objects.filter(project=project).count() == 1
    assert MemoryHistory.objects.filter(project=project).count() == 1


def test_update_richer_fact_keeps_the_id_and_records_history(api, key, project):
    [first] = _add(api, key, "I love Python.", T0)
    [event] = _add(api, key, "I love Python, especially for data science.", T0 + timedelta(days=1))
    assert event == {
        "id": first["id"],
        "memory": "User loves Python, especially for data science",
        "event": "UPDATE",
        "previous_memory": "User loves Python",
    }
    history = api("GET", f"/v1/memories/{first['id']}/history/", key=key).json()
    assert [row["event"] for row in history] == ["ADD", "UPDATE"]
    assert Memory.objects.filter(project=project).count() == 1


def test_supersede_closes_the_old_fact_links_it_and_as_of_reads_both_times(api, key, project):
    t1 = T0 + timedelta(days=30)
    [old] = _add(api, key, "I live in Paris.", T0)
    [event] = _add(api, key, "I moved to Berlin.", t1)
    assert event["event"] == "SUPERSEDE"
    assert event["supersedes"] == old["id"] and event["previous_memory"] == "User lives in Paris"
    assert event["id"] != old["id"] and event["memory"] == "User moved to Berlin"

    closed = Memory.objects.get(pk=old["id"])
    assert closed.valid_to == t1  # the observation time, not the time of the request
    assert Memory.objects.get(pk=event["id"]).valid_from == t1
    edge = Relationship.objects.get(relation="supersedes")
    assert (str(edge.source_id), str(edge.target_id), edge.origin) == (event["id"], old["id"], "inference")

    assert _current(api, key) == ["User moved to Berlin"]
    assert _current(api, key, as_of=(t1 - timedelta(days=1)).isoformat()) == ["User lives in Paris"]
    assert _current(api, key, as_of=(t1 + timedelta(days=1)).isoformat()) == ["User moved to Berlin"]
    assert _current(api, key, as_of=(T0 - timedelta(days=1)).isoformat()) == []

    # The closed fact is still a memory: get, history, and search as of then.
    assert api("GET", f"/v1/memories/{old['id']}/", key=key).json()["valid_to"] is not None
    history = api("GET", f"/v1/memories/{old['id']}/history/", key=key).json()
    assert [row["event"] for row in history] == ["ADD", "SUPERSEDE"]
    found = api(
        "POST",
        "/v3/memories/search/",
        key=key,
        data={"query": "Where does the user live?", "filters": {"user_id": "alice"}, "as_of": T0.isoformat()},
    ).json()["results"]
    assert [item["memory"] for item in found] == ["User lives in Paris"]


def test_a_three_step_change_is_a_chain_read_back_through_timeline_and_as_of(api, key):
    times = [T0, T0 + timedelta(days=40), T0 + timedelta(days=80)]
    [first] = _add(api, key, "I work at Google.", times[0])
    [second] = _add(api, key, "I now work at Microsoft.", times[1])
    [third] = _add(api, key, "I work at OpenAI now.", times[2])
    assert [second["event"], third["event"]] == ["SUPERSEDE", "SUPERSEDE"]
    assert (second["supersedes"], third["supersedes"]) == (first["id"], second["id"])

    texts = ["User works at Google", "User now works at Microsoft", "User works at OpenAI now"]
    for moment, expected in zip(times, texts, strict=True):
        assert _current(api, key, as_of=(moment + timedelta(hours=1)).isoformat()) == [expected]

    timeline = api("GET", f"/v1/memories/{second['id']}/timeline", key=key).json()
    chain = [item["id"] for item in timeline["chain"]]
    assert chain == [first["id"], second["id"], third["id"]]


def test_immutable_memories_are_left_alone(api, key, project):
    [old] = _add(api, key, "I live in Paris.", T0, immutable=True)
    [event] = _add(api, key, "I moved to Berlin.", T0 + timedelta(days=3))
    assert event["event"] == "ADD"
    kept = Memory.objects.get(pk=old["id"])
    assert kept.valid_to is None and kept.memory == "User lives in Paris"
    assert not Relationship.objects.filter(project=project).exists()


def test_add_with_nothing_new_among_several_facts(api, key, project):
    _add(api, key, "I live in Paris. I love coffee.", T0)
    events = _add(api, key, "I live in Paris. I don't like coffee anymore. I have a dog.", T0 + timedelta(days=5))
    assert sorted(event["event"] for event in events) == ["ADD", "SUPERSEDE"]
    assert _current(api, key) == ["User does not like coffee anymore", "User has a dog", "User lives in Paris"]
    assert Memory.objects.filter(project=project).count() == 4  # the coffee fact is closed, not gone


def test_an_out_of_order_observation_closes_at_the_newer_fact(api, key):
    """Two adds observed at the same moment: the later request still wins, the interval stays valid."""
    [old] = _add(api, key, "I live in Paris.", T0)
    [event] = _add(api, key, "I live in Rome.", T0)
    assert event["event"] == "SUPERSEDE"
    assert _current(api, key) == ["User lives in Rome"]
    closed = Memory.objects.get(pk=old["id"])
    assert closed.valid_to > closed.valid_from


def test_infer_false_never_decides(api, key, project):
    for text in ["I live in Paris.", "I live in Paris."]:
        data = {"messages": text, "user_id": "alice", "infer": False}
        response = api("POST", "/v3/memories/add/", key=key, data=data)
        assert response.json()["results"][0]["event"] == "ADD"
    assert Memory.objects.filter(project=project, valid_to__isnull=True).count() == 2


def test_legacy_output_format_shows_the_update(api, key):
    _add(api, key, "I love Python.", T0)
    response = api(
        "POST",
        "/v1/memories/",
        key=key,
        data={
            "messages": [{"role": "user", "content": "I love Python, especially for data science."}],
            "user_id": "alice",
            "output_format": "v1.1",
            "version": "v2",
        },
    )
    [event] = response.json()["results"]
    assert event["event"] == "UPDATE"
    assert event["data"]["memory"] == "User loves Python, especially for data science"
    assert event["data"]["previous_memory"] == "User loves Python"


def test_facts_of_one_add_settle_among_themselves(api, key, project):
    """A correction later in the same conversation wins; a fact said twice is stored once."""
    events = _add(
        api,
        key,
        "My favourite colour is blue. I love Python. Actually, my favourite colour is green. "
        "I love Python, especially for data science.",
        T0,
    )
    assert sorted((event["event"], event["memory"]) for event in events) == [
        ("ADD", "User loves Python, especially for data science"),
        ("ADD", "User's favourite colour is green"),
    ]
    assert Memory.objects.filter(project=project).count() == 2


def test_a_superseding_memory_gets_its_entity_relations_with_enable_graph(api, key):
    """Relations are extracted for every memory an add writes: the successor of a changed fact too."""
    _add(api, key, "I live in Paris.", T0, enable_graph=True)
    response = api(
        "POST",
        "/v3/memories/add/",
        key=key,
        data={"messages": "I live in Berlin.", "user_id": "alice", "enable_graph": True},
    ).json()
    assert [event["event"] for event in response["results"]] == ["SUPERSEDE"]
    added = [(r["source"], r["relationship"], r["target"]) for r in response["relations"]["added_entities"][0]]
    assert added == [("user", "lives_in", "berlin")]
