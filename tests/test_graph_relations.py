"""Entity relations (Mem0's graph memory): the rule-based extractor, storing triples per scope with
validity, and ``relations`` in the add and search answers (``enable_graph`` or a graph category)."""

from datetime import UTC, datetime, timedelta

import pytest

from graph.extraction import extract_relations
from graph.models import EntityRelation
from graph.selectors import relations_list, relations_search
from graph.services import _clean_triple, relations_extractor, relations_record
from memories.inputs import Scope
from memories.models import Memory
from memories.services import memories_delete, memory_delete
from tests.conftest import error_of

T0 = datetime(2025, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)
ALICE = Scope(user_id="alice")

# --- the rule-based extractor ---------------------------------------------------------------

EXTRACTED = [
    ("User lives in Berlin", [("user", "lives_in", "berlin")]),
    ("User's sister Anna is a doctor", [("anna", "sister_of", "user"), ("anna", "is_a", "doctor")]),
    ("User lives in Berlin and works at Acme", [("user", "lives_in", "berlin"), ("user", "works_at", "acme")]),
    ("I live in Paris", [("user", "lives_in", "paris")]),
    ("I'm a nurse", [("user", "is_a", "nurse")]),
    ("I work at Acme and live in Rome", [("user", "works_at", "acme"), ("user", "lives_in", "rome")]),
    (
        "User likes jazz, blues and techno",
        [("user", "likes", "jazz"), ("user", "likes", "blues"), ("user", "likes", "techno")],
    ),
    ("The user works as a software engineer at Google", [("user", "works_as", "software_engineer")]),
    (
        "User is allergic to peanuts and shellfish",
        [("user", "allergic_to", "peanuts"), ("user", "allergic_to", "shellfish")],
    ),
    ("User's favorite color is blue", [("user", "favorite_color", "blue")]),
    ("User is 34 years old", [("user", "has_age", "34")]),
    ("User has a dog named Rex", [("rex", "dog_of", "user")]),
    ("Anna is User's sister", [("anna", "sister_of", "user")]),
    ("User's name is Sam", [("user", "has_name", "sam")]),
    ("Anna works at Acme in Berlin", [("anna", "works_at", "acme")]),
    ("User moved to Lisbon last year", [("user", "moved_to", "lisbon")]),
    ("User prefers green tea over coffee", [("user", "prefers", "green_tea")]),
    ("User is from New York City", [("user", "from", "new_york_city")]),
    ("My friend Tom lives in Oslo", [("tom", "friend_of", "user"), ("tom", "lives_in", "oslo")]),
    ("User studied economics at Harvard", [("user", "studies", "economics")]),
    ("User loves hiking. User works at a bank.", [("user", "loves", "hiking"), ("user", "works_at", "bank")]),
    ("User is married to Sam", [("user", "married_to", "sam")]),
    ("User lives in Berlin. User lives in Berlin.", [("user", "lives_in", "berlin")]),
    # Nothing: negations, questions, wishes and hedges, adjectives, pronouns, small talk, no verb.
    ("User does not live in Berlin", []),
    ("User doesn't like olives", []),
    ("User no longer works at Acme", []),
    ("Where does the user live?", []),
    ("Is user a doctor?", []),
    ("User might move to Tokyo", []),
    ("User wants to live in Tokyo", []),
    ("If user moves to Rome, they will learn Italian", []),
    ("User is happy", []),
    ("User likes it", []),
    ("Hello there", []),
    ("Paris is beautiful", []),
    ("User met Anna in Berlin", []),
    ("user's brother works at Acme", []),
    ("", []),
]


@pytest.mark.parametrize("text, triples", EXTRACTED, ids=[text or "empty" for text, _ in EXTRACTED])
def test_the_rule_based_extractor(text, triples):
    assert extract_relations([text]) == [triples]


def test_the_extractor_answers_one_list_per_text_and_lower_snake_names():
    found = extract_relations(["User lives in Buenos Aires", "Hello", "User works at The Old Bakery"])
    assert found == [[("user", "lives_in", "buenos_aires")], [], [("user", "works_at", "old_bakery")]]
    for source, relationship, destination in (triple for triples in found for triple in triples):
        assert all(part == part.lower() and " " not in part for part in (source, relationship, destination))


# --- storing relations ----------------------------------------------------------------------


def record(project, memories, **kwargs):
    return relations_record(project=project, memories=memories, **kwargs)


def triples(rows) -> set[tuple[str, str, str]]:
    return {(row.source, row.relationship, row.destination) for row in rows}


def test_nothing_is_extracted_unless_asked_or_in_a_graph_category(project, add, settings):
    settings.MEM0_USE_GRAPH_FOR_CATEGORIES = ["people"]
    plain = add(project, "User lives in Berlin", user_id="alice")
    assert record(project, [plain]) is None
    assert not EntityRelation.objects.exists()

    tagged = add(project, "User's sister Anna is a doctor", user_id="alice", metadata={"memory_category": "people"})
    other = add(project, "User works at Acme", user_id="alice", metadata={"memory_category": "work"})
    result = record(project, [tagged, other])
    assert result == {
        "deleted_entities": [],
        "added_entities": [
            [{"source": "anna", "relationship": "sister_of", "target": "user"}],
            [{"source": "anna", "relationship": "is_a", "target": "doctor"}],
        ],
    }
    assert triples(EntityRelation.objects.all()) == {("anna", "sister_of", "user"), ("anna", "is_a", "doctor")}
    relation = EntityRelation.objects.first()
    assert (relation.project_id, relation.user_id, relation.memory_id) == (project.pk, "alice", tagged.pk)

    # enable_graph: every memory, ids accepted; nothing to extract still answers the empty shape.
    assert record(project, [str(plain.id)], enable_graph=True)["added_entities"] == [
        [{"source": "user", "relationship": "lives_in", "target": "berlin"}]
    ]
    assert record(project, [add(project, "Hello", user_id="alice")], enable_graph=True) == {
        "deleted_entities": [],
        "added_entities": [],
    }


def test_an_open_triple_is_stored_once_per_scope(project, add):
    first = add(project, "User likes jazz", user_id="alice")
    again = add(project, "User likes jazz and blues", user_id="alice")
    bob = add(project, "User likes jazz", user_id="bob")
    record(project, [first], enable_graph=True)
    result = record(project, [again, bob], enable_graph=True)
    assert result["added_entities"] == [
        [{"source": "user", "relationship": "likes", "target": "blues"}],
        [{"source": "user", "relationship": "likes", "target": "jazz"}],
    ]
    assert EntityRelation.objects.filter(user_id="alice").count() == 2


def test_a_new_value_of_a_single_valued_relationship_closes_the_old_one(project, add):
    porto = add(project, "User lives in Porto", user_id="alice", now=T0)
    likes = add(project, "User likes jazz", user_id="alice", now=T0)
    record(project, [porto, likes], enable_graph=True, now=T0)
    berlin = add(project, "User lives in Berlin and likes techno", user_id="alice", now=T0 + 10 * DAY)
    result = record(project, [berlin], enable_graph=True, now=T0 + 10 * DAY)
    assert result["deleted_entities"] == [[{"source": "user", "relationship": "lives_in", "target": "porto"}]]
    assert {r[0]["target"] for r in result["added_entities"]} == {"berlin", "techno"}
    old = EntityRelation.objects.get(destination="porto")
    assert old.valid_to == T0 + 10 * DAY  # likes is many-valued: jazz stays open

    def listed(**times):
        return {(r["relationship"], r["target"]) for r in relations_list(project=project, scope=ALICE, **times)}

    assert listed() == {("lives_in", "berlin"), ("likes", "jazz"), ("likes", "techno")}
    assert listed(as_of=T0 + 5 * DAY) == {("lives_in", "porto"), ("likes", "jazz")}
    assert listed(as_of=T0 - DAY) == set()


def test_relations_record_is_a_fixed_number_of_queries(project, add, django_assert_max_num_queries):
    memories = add(project, *[f"User likes topic{i} and lives in City{i}" for i in range(20)], user_id="alice")
    # The memories, the open triples they could repeat or replace, the insert, the update (+ savepoints).
    with django_assert_max_num_queries(6):
        result = record(project, memories, enable_graph=True)
    # Stored at the same moment, no lives_in is newer than another: none closes another.
    assert len(result["added_entities"]) == 40 and result["deleted_entities"] == []


def test_other_projects_memories_are_ignored(project, other_project, add):
    theirs = add(other_project, "User lives in Oslo", user_id="alice")
    assert record(project, [theirs], enable_graph=True) == {"deleted_entities": [], "added_entities": []}
    assert not EntityRelation.objects.exists()


def test_deleting_a_memory_removes_its_relations_and_a_users_memories_their_graph(project, add):
    berlin, jazz = add(project, "User lives in Berlin", "User likes jazz", user_id="alice")
    bobs = add(project, "User lives in Rome", user_id="bob")
    record(project, [berlin, jazz, bobs], enable_graph=True)
    memory_delete(project=project, memory_id=berlin.id)
    assert triples(EntityRelation.objects.filter(user_id="alice")) == {("user", "likes", "jazz")}
    memories_delete(project=project, scope=ALICE)
    assert not EntityRelation.objects.filter(user_id="alice").exists()
    assert triples(EntityRelation.objects.all()) == {("user", "lives_in", "rome")}


def test_relations_search_ranks_by_the_entities_and_words_the_query_names(project, add):
    memories = add(
        project,
        "User lives in Berlin",
        "User's sister Anna is a doctor",
        "User likes jazz",
        "Anna lives in Oslo",
        user_id="alice",
    )
    record(project, memories, enable_graph=True)
    record(project, [add(project, "User lives in Rome", user_id="bob")], enable_graph=True)

    def search(query, **kwargs):
        return relations_search(project=project, scope=ALICE, query=query, **kwargs)

    assert search("Where does Anna live?")[0] == {"source": "anna", "relationship": "lives_in", "destination": "oslo"}
    # Anna's triples first; "me" (the user) also names the user's, after them.
    assert {tuple(r.values()) for r in search("Tell me about Anna")[:3]} == {
        ("anna", "sister_of", "user"),
        ("anna", "is_a", "doctor"),
        ("anna", "lives_in", "oslo"),
    }
    assert search("where do I live")[0]["destination"] == "berlin"
    assert all(r["destination"] != "rome" for r in search("where do I live", limit=100))
    assert len(search("what about me", limit=2)) == 2
    assert search("quantum chromodynamics") == []


# --- through the API ------------------------------------------------------------------------


@pytest.fixture
def key(project, make_key):
    return make_key(project)


def add_v3(api, key, content, **body):
    return api("POST", "/v3/memories/add/", key=key, data={"messages": content, "user_id": "alice", **body})


def test_add_answers_relations_with_enable_graph_and_not_without(api, key, db):
    plain = add_v3(api, key, "I live in Porto")
    assert plain.status_code == 200 and "relations" not in plain.json()
    assert not EntityRelation.objects.exists()

    response = add_v3(api, key, "I live in Berlin and my sister Anna is a doctor.", enable_graph=True)
    assert response.status_code == 200, response.content
    body = response.json()
    assert {event["memory"] for event in body["results"]} == {"User lives in Berlin", "User's sister Anna is a doctor"}
    added = [item for query in body["relations"]["added_entities"] for item in query]
    assert {tuple(item.values()) for item in added} == {
        ("user", "lives_in", "berlin"),
        ("anna", "sister_of", "user"),
        ("anna", "is_a", "doctor"),
    }
    assert body["relations"]["deleted_entities"] == []  # Porto was never graph-processed

    moved = add_v3(api, key, "I live in Madrid", enable_graph=True).json()["relations"]
    assert moved["deleted_entities"] == [[{"source": "user", "relationship": "lives_in", "target": "berlin"}]]


def test_the_legacy_and_oss_add_answer_relations_too(api, key, db):
    body = {"messages": "I like tea", "user_id": "alice", "enable_graph": True, "output_format": "v1.1"}
    v1 = api("POST", "/v1/memories/", key=key, data=body)
    assert v1.json()["relations"]["added_entities"] == [[{"source": "user", "relationship": "likes", "target": "tea"}]]
    oss = api("POST", "/memories", key=key,
              data={"messages": [{"role": "user", "content": "I like chess"}], "user_id": "alice",
                    "enable_graph": True})  # fmt: skip
    assert oss.status_code == 200, oss.content
    assert oss.json()["relations"]["added_entities"] == [
        [{"source": "user", "relationship": "likes", "target": "chess"}]
    ]


def test_a_graph_category_triggers_extraction_without_enable_graph(api, key, settings, db):
    settings.MEM0_USE_GRAPH_FOR_CATEGORIES = ["preferences"]
    other = add_v3(api, key, "I like tea", infer=False, metadata={"memory_category": "chat"}).json()
    assert "relations" not in other
    body = add_v3(api, key, "I like coffee", infer=False, metadata={"memory_category": "preferences"}).json()
    assert body["relations"]["added_entities"] == [[{"source": "user", "relationship": "likes", "target": "coffee"}]]


def test_a_bad_enable_graph_is_refused_before_anything_is_written(api, key, db):
    error_of(add_v3(api, key, "I live in Berlin", enable_graph="sometimes"), 422, "VALIDATION_ERROR")
    assert not Memory.objects.exists()
    search = api("POST", "/v3/memories/search/", key=key,
                 data={"query": "x", "filters": {"user_id": "alice"}, "enable_graph": "maybe"})  # fmt: skip
    error_of(search, 422, "VALIDATION_ERROR")


def test_search_answers_relations_of_its_scope_with_enable_graph(api, project, other_project, make_key, db):
    key = make_key(project)
    add_v3(api, key, "I live in Berlin and my sister Anna lives in Oslo.", enable_graph=True)
    api("POST", "/v3/memories/add/", key=key,
        data={"messages": "I live in Rome", "user_id": "bob", "enable_graph": True})  # fmt: skip
    theirs = make_key(other_project)
    api("POST", "/v3/memories/add/", key=theirs,
        data={"messages": "I live in Lima", "user_id": "alice", "enable_graph": True})  # fmt: skip

    def search(key, query, **body):
        data = {"query": query, "filters": {"user_id": "alice"}, **body}
        response = api("POST", "/v3/memories/search/", key=key, data=data)
        assert response.status_code == 200, response.content
        return response.json()

    assert "relations" not in search(key, "where do I live")
    relations = search(key, "where do I live", enable_graph=True)["relations"]
    assert relations[0] == {"source": "user", "relationship": "lives_in", "destination": "berlin"}
    destinations = {r["destination"] for r in relations}
    assert "rome" not in destinations and "lima" not in destinations
    # The other project's alice sees only her own graph; a key restricted to bob only bob's.
    assert [r["destination"] for r in search(theirs, "where do I live", enable_graph=True)["relations"]] == ["lima"]
    bobs_key = make_key(project, user_id="bob")
    response = api("POST", "/v3/memories/search/", key=bobs_key,
                   data={"query": "where do I live", "enable_graph": True, "filters": {"user_id": "bob"}})  # fmt: skip
    assert [r["destination"] for r in response.json()["relations"]] == ["rome"]


def test_deleting_a_users_memories_through_the_api_removes_their_graph(api, key, db):
    add_v3(api, key, "I live in Berlin", enable_graph=True)
    assert EntityRelation.objects.filter(user_id="alice").exists()
    assert api("DELETE", "/v1/memories/?user_id=alice", key=key).status_code == 200
    assert not EntityRelation.objects.exists()


# --- the seam for an LLM extractor ----------------------------------------------------------


def test_the_extractor_is_the_rule_based_one_unless_an_llm_provides_one(settings):
    settings.LLM_BASE_URL = ""
    assert relations_extractor() is extract_relations
    settings.LLM_BASE_URL = "http://127.0.0.1:9/v1"
    try:
        from memories.llm import llm_extract_relations
    except ImportError:
        assert relations_extractor() is extract_relations
    else:
        assert relations_extractor() is llm_extract_relations


@pytest.mark.parametrize(
    "triple, cleaned",
    [
        (("User", "Lives In", "New York"), ("user", "lives_in", "new_york")),
        (("user", "likes", "jazz"), ("user", "likes", "jazz")),
        (("user", "9lives", "x"), None),
        (("", "likes", "x"), None),
        (("user", "likes"), None),
        (("user", None, "x"), None),
        ("user likes jazz", None),
    ],
)
def test_whatever_an_extractor_answers_only_clean_triples_are_stored(triple, cleaned):
    assert _clean_triple(triple) == cleaned
