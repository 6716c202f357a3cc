"""Hybrid retrieval: full-text keyword ranking fused with vector similarity, the local rerank,
``explain``, recency decay, and which facts in time a search sees (``as_of``,
``include_superseded``, ``show_expired``), through the selector and the search routes."""

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from django.utils import timezone

from memories.inputs import Scope
from memories.models import Memory
from memories.search import memory_search
from tests.conftest import error_of

ALICE = Scope(user_id="alice")
TARGET = "The dishwasher warranty claim was filed under reference XK-4471-B"
ORDERS = [
    "User is waiting for the status of an order of printer ink",
    "User asked for the delivery status of the new sofa order",
    "User tracks every online order in a spreadsheet",
    "User ordered replacement parts for the coffee machine",
    "User placed an order for running shoes last week",
    "User wants to know when the order of garden chairs ships",
    "User cancelled the order for a standing desk",
]
CODE_QUERY = "When does order XK-4471-B arrive?"


def _texts(results):
    return [m.memory for m in results]


def test_an_exact_rare_keyword_that_vector_search_misses_is_found_by_hybrid_search(project, add):
    add(project, TARGET, *ORDERS, user_id="alice")

    vector_only = memory_search(project=project, query=CODE_QUERY, scope=ALICE, top_k=3, keyword_search=False)
    hybrid = memory_search(project=project, query=CODE_QUERY, scope=ALICE, top_k=3, explain=True)

    # By meaning, the question is about orders arriving: the memory holding the code is not in the top 3.
    assert len(vector_only) == 3 and TARGET not in _texts(vector_only)
    # The product code is the query's rarest term: hybrid search puts its memory first.
    assert _texts(hybrid)[0] == TARGET
    best = hybrid[0].score_breakdown
    assert best["keyword"] > 0.5 > max(m.score_breakdown["keyword"] for m in hybrid[1:])
    assert all(0.0 <= m.score <= 1.0 for m in hybrid)
    assert [m.score for m in hybrid] == sorted((m.score for m in hybrid), reverse=True)


def test_keyword_search_off_is_the_semantic_similarity_alone(project, add):
    add(project, TARGET, *ORDERS, user_id="alice")

    plain = memory_search(project=project, query=CODE_QUERY, scope=ALICE, top_k=8, keyword_search=False, explain=True)
    hybrid = memory_search(project=project, query=CODE_QUERY, scope=ALICE, top_k=8, explain=True)

    assert len(plain) == len(hybrid) == 8
    for memory in plain:
        assert memory.score_breakdown["keyword"] == 0.0
        assert memory.score == pytest.approx(memory.score_breakdown["semantic"], abs=1e-6)
    assert [m.score for m in plain] == sorted((m.score for m in plain), reverse=True)
    # The semantic part does not depend on the mode; the fused score is its mean with the keyword one.
    semantic = {m.id: m.score_breakdown["semantic"] for m in plain}
    for memory in hybrid:
        breakdown = memory.score_breakdown
        assert breakdown["semantic"] == pytest.approx(semantic[memory.id], abs=1e-6)
        assert memory.score == pytest.approx((breakdown["semantic"] + breakdown["keyword"]) / 2, abs=1e-6)
    assert _texts(plain) != _texts(hybrid)


def test_a_query_whose_words_occur_nowhere_scores_by_meaning_alone(project, add):
    add(project, *ORDERS, user_id="alice")
    query = "parcels arriving late"  # no lexeme in common with any memory
    hybrid = memory_search(project=project, query=query, scope=ALICE, explain=True)
    plain = memory_search(project=project, query=query, scope=ALICE, keyword_search=False)
    assert [(m.id, round(m.score, 6)) for m in hybrid] == [(m.id, round(m.score, 6)) for m in plain]


def test_the_threshold_gates_the_semantic_similarity(project, add):
    add(project, TARGET, *ORDERS, user_id="alice")
    everything = memory_search(project=project, query=CODE_QUERY, scope=ALICE, top_k=8, explain=True)
    cut = sorted(m.score_breakdown["semantic"] for m in everything)[4]

    kept = memory_search(project=project, query=CODE_QUERY, scope=ALICE, top_k=8, threshold=cut, explain=True)

    assert len(kept) == 4
    assert all(m.score_breakdown["semantic"] >= cut for m in kept)


NAMED = [
    "Alice Kowalski's favorite cuisine is Thai",
    "Alice Kowalski ordered ramen last night and loved it",
    "Alice Kowalski is allergic to peanuts",
    "Alice Kowalski started yoga to help with back pain",
    "Alice Kowalski lives in Lisbon and has been there since 2015",
    "Alice Kowalski works as a nurse at the city hospital",
    "Alice Kowalski has a cat named Luna",
    "Alice Kowalski enjoys pottery on weekends",
    "Alice Kowalski drinks green tea every morning",
    "Alice Kowalski wants to run a marathon by 2027",
    "Alice Kowalski's sister Maya is visiting in June",
    "Alice Kowalski is currently reading Dune",
    "The allergy clinic moved to a new building",
]


@pytest.mark.parametrize("threshold", [None, 0.1, 0.3])
@pytest.mark.parametrize("top_k", [1, 3, 10])
@pytest.mark.parametrize("path", ["one-statement", "hnsw"])
def test_the_statement_cut_to_the_top_k_ranks_as_the_whole_fusion_would(project, add, settings, threshold, top_k, path):
    """The default search cuts its statement to the top_k of the linear fusion (in SQL), for small
    scopes (one statement) and large ones (the keyword side around the HNSW walk's rows alike: the
    same rows, scores and order as fusing every candidate in Python, also when every memory shares
    the query's words (a name) and the keyword side proposes them all."""
    from memories import ranking
    from memories.embedding import embed_query
    from memories.search_candidates import _search_candidates

    if path == "hnsw":
        settings.SEARCH_EXACT_MAX_ROWS = 0
    add(project, *NAMED, user_id="alice")
    for query in ("Does Alice Kowalski have any allergies?", "What does Alice drink?", "allergy", "jazz concerts"):
        found = memory_search(project=project, query=query, scope=ALICE, top_k=top_k, threshold=threshold)

        candidates = _search_candidates(
            project, ALICE, None, as_of=None, include_expired=False, include_superseded=False
        )
        vector = np.asarray(embed_query(query), dtype=np.float32)
        if path == "hnsw":
            semantic = ranking.vector_ranking(candidates, vector, top_k, exact=False)
            also = [m.pk for m in semantic]
            keyword = ranking.keyword_ranking(candidates, query, vector, 50, 1, also)
        else:
            statement = ranking.hybrid_exact_sql(candidates, query, ranking.vector_text(vector), top_k, 50, len(NAMED))
            semantic, keyword, active = ranking.hybrid_rows(*statement)
            assert active == bool(keyword)
        active = bool(keyword)
        everything = [m for _, m in ranking.fuse(semantic, keyword, "linear")]
        for memory in everything:
            memory.score = (memory.semantic + memory.keyword) / 2 if active else memory.semantic
        expected = sorted(
            (m for m in everything if threshold is None or m.semantic >= threshold),
            key=lambda m: (-m.score, -m.semantic, str(m.pk)),
        )[:top_k]

        assert [(m.pk, round(m.score, 12)) for m in found] == [(m.pk, round(m.score, 12)) for m in expected]


def test_rerank_raises_memories_holding_the_query_word_pairs(project, add):
    together = "User joined a support group for new parents"
    apart = "User's group of friends offered support to new parents"
    add(project, together, apart, *ORDERS, user_id="alice")
    query = "which support group did I join"

    plain = {m.memory: m for m in memory_search(project=project, query=query, scope=ALICE, explain=True)}
    reranked = memory_search(project=project, query=query, scope=ALICE, rerank=True, explain=True)
    by_text = {m.memory: m for m in reranked}

    assert by_text[together].score_breakdown["rerank"] > 0
    assert by_text[apart].score_breakdown["rerank"] == 0
    assert by_text[together].score > plain[together].score
    assert by_text[apart].score == pytest.approx(plain[apart].score, abs=1e-6)
    assert _texts(reranked)[0] == together
    # Deterministic: the same call gives the same answer.
    again = memory_search(project=project, query=query, scope=ALICE, rerank=True)
    assert [(m.id, m.score) for m in again] == [(m.id, m.score) for m in reranked]


def test_recency_decay_orders_newer_facts_first(project, add):
    now = datetime(2026, 6, 1, tzinfo=UTC)
    old = add(project, "User's favourite tea is jasmine tea", user_id="alice", valid_from=now - timedelta(days=400))
    new = add(project, "User has mostly been drinking rooibos lately", user_id="alice", valid_from=now)
    query = "what is my favourite tea?"

    plain = memory_search(project=project, query=query, scope=ALICE, now=now, explain=True)
    decayed = memory_search(project=project, query=query, scope=ALICE, now=now, decay_half_life_days=30, explain=True)

    assert [m.id for m in plain] == [old.id, new.id]
    assert all(m.score_breakdown["recency"] == 1.0 for m in plain)
    assert [m.id for m in decayed] == [new.id, old.id]
    recency = {m.id: m.score_breakdown["recency"] for m in decayed}
    assert recency[new.id] == pytest.approx(1.0)
    assert recency[old.id] == pytest.approx(0.5 ** (400 / 30), abs=1e-6)


def _time_travel_memories(project, add):
    t0, t1 = datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)
    porto = add(project, "User lives in Porto", user_id="alice", now=t0, valid_from=t0)
    lisbon = add(project, "User lives in Lisbon", user_id="alice", now=t1, valid_from=t1)
    Memory.objects.filter(pk=porto.id).update(valid_to=t1)  # closed by the newer fact
    yesterday = (timezone.now() - timedelta(days=1)).date()
    trip = add(
        project, "User is living in a rented flat in Madrid this month", user_id="alice", expiration_date=yesterday
    )
    return porto, lisbon, trip


def test_current_facts_by_default_and_the_past_on_request(project, add):
    porto, lisbon, trip = _time_travel_memories(project, add)
    query = "where does the user live?"

    def ids(**kwargs):
        return {m.id for m in memory_search(project=project, query=query, scope=ALICE, **kwargs)}

    assert ids() == {lisbon.id}
    assert ids(as_of=datetime(2025, 6, 1, tzinfo=UTC)) == {porto.id}
    assert ids(include_superseded=True) == {porto.id, lisbon.id}
    assert ids(include_expired=True) == {lisbon.id, trip.id}
    assert ids(include_superseded=True, include_expired=True) == {porto.id, lisbon.id, trip.id}
    # As of a moment before anything was recorded, nothing held yet, superseded or not.
    assert ids(as_of=datetime(2024, 1, 1, tzinfo=UTC), include_superseded=True) == set()


def test_every_search_route_takes_the_search_options(project, add, make_key, api):
    porto, lisbon, trip = _time_travel_memories(project, add)
    key = make_key(project, scopes="read")
    options = {"include_superseded": True, "show_expired": True, "explain": True, "threshold": 0}
    calls = [
        ("POST", "/v3/memories/search/", {"query": "where do I live", "filters": {"user_id": "alice"}, **options}),
        ("POST", "/v2/memories/search/", {"query": "where do I live", "filters": {"user_id": "alice"}, **options}),
        ("POST", "/v1/memories/search/", {"query": "where do I live", "user_id": "alice", **options}),
        ("POST", "/search", {"query": "where do I live", "user_id": "alice", **options}),
        (
            "GET",
            "/v1/memories/search/?query=where+do+I+live&user_id=alice&include_superseded=true&show_expired=true"
            "&explain=true&threshold=0&keyword_search=false&rerank=true&decay_half_life_days=3650",
            None,
        ),
    ]
    for method, path, body in calls:
        response = api(method, path, key, data=body)
        assert response.status_code == 200, (path, response.content[:300])
        results = response.json()["results"]
        assert {r["id"] for r in results} == {str(porto.id), str(lisbon.id), str(trip.id)}, path
        for result in results:
            assert set(result["score_breakdown"]) >= {"semantic", "keyword", "recency"}, path
            assert 0.0 <= result["score"] <= 1.0

    # Without the options: no breakdown, and (Mem0's default) the superseded fact shown marked;
    # latest_only: current facts only.
    body = {"query": "where do I live", "filters": {"user_id": "alice"}}
    results = api("POST", "/v3/memories/search/", key, data=body).json()["results"]
    assert {r["id"]: r["lifecycle_state"] for r in results} == {str(lisbon.id): "active", str(porto.id): "superseded"}
    assert "score_breakdown" not in results[0]
    results = api("POST", "/v3/memories/search/", key, data={**body, "latest_only": True}).json()["results"]
    assert [r["id"] for r in results] == [str(lisbon.id)]
    # keyword_search=false over the query string: the breakdown's keyword part is zero.
    response = api("GET", "/v1/memories/search/?query=Lisbon&user_id=alice&explain=true&keyword_search=false", key)
    assert response.status_code == 200
    assert all(r["score_breakdown"]["keyword"] == 0 for r in response.json()["results"])


@pytest.mark.parametrize(
    "body, field",
    [
        ({"decay_half_life_days": 0}, "decay_half_life_days"),
        ({"decay_half_life_days": "soon"}, "decay_half_life_days"),
        ({"keyword_search": "maybe"}, "keyword_search"),
        ({"rerank": 3}, "rerank"),
        ({"include_superseded": "perhaps"}, "include_superseded"),
        ({"explain": []}, "explain"),
    ],
)
def test_bad_search_options_are_refused_with_the_field_named(project, make_key, api, body, field):
    key = make_key(project, scopes="read")
    response = api("POST", "/v3/memories/search/", key, data={"query": "tea", "filters": {"user_id": "a"}, **body})
    error = error_of(response, 422, "VALIDATION_ERROR")
    assert field in str(error["error"]["details"])
