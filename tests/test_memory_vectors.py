"""One HNSW entry per distinct vector of a project's memories (``Memory.vector_memory``): a memory
repeating the text and vector of an older memory of its project names it (its canonical) and is found
through the canonical's entry; the search over a large scope walks both sides and ranks as the exact
scan; deletes and embedding changes keep every memory and message findable."""

import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from memories.inputs import Scope
from memories.models import Memory, MemorySource

# Said word for word by every user (as "Is vegetarian" is in real deployments), then each user's own.
REPEATED = [
    "Is saving up for a trip around Asia",
    "Is vegetarian",
    "Plays the cello in an amateur orchestra",
    "Has a dog called Biscuit",
    "Works night shifts at the hospital",
]
OWN = {
    "alice": ["Grows heirloom tomatoes in a greenhouse", "Reads a crime novel every week", "Lives in Gdansk"],
    "bob": ["Collects vintage vinyl records", "Is training for the Berlin marathon"],
    "carol": ["Keeps bees in the back garden", "Learns Japanese with a tutor"],
    "dave": ["Drives an old blue pickup truck"],
}
USERS = list(OWN)
QUERIES = ("what does the user eat", "music and instruments", "travel plans", "pets", "gardening", "sports")


def said(project, user: str, texts: list[str]):
    """An add of ``texts`` as verbatim messages (infer=False): a memory and a message each, in the add's
    one round trip of INSERTs."""
    from memories.services import add_ingest

    messages = [{"role": "user", "content": text} for text in texts]
    return add_ingest(project=project, messages=messages, scope=Scope(user_id=user), infer=False).memories


def reindex() -> None:
    """The test database's HNSW graphs keep the entries of every rolled-back test before this one,
    and a walk through them is approximate (see tests/test_sources.py, ``said_around``): built again
    from what this test holds, the graphs are whole, and what is checked is the walks' logic."""
    with connection.cursor() as cursor:
        cursor.execute("REINDEX INDEX memory_embedding_hnsw; REINDEX INDEX source_embedding_hnsw")


@pytest.fixture
def repeated(project, other_project, settings):
    """Every user says REPEATED, alice first, then their own texts; another project says the same.
    Each user's memories by text."""
    held = {}
    for user in USERS:
        held[user] = {m.memory: m for m in said(project, user, REPEATED + OWN[user])}
    said(other_project, "alice", REPEATED)
    settings.SEARCH_EXACT_MAX_ROWS = 1  # every scope of more than one memory is large: walked
    reindex()
    return held


@pytest.fixture
def shortfalls(monkeypatch):
    """Each HNSW walk's verdict: True when it came back short and the exact scan answered instead."""
    from memories import ranking

    found = []
    whole = ranking._came_back_short

    def recorded(rows, candidates, limit):
        found.append(whole(rows, candidates, limit))
        return found[-1]

    monkeypatch.setattr(ranking, "_came_back_short", recorded)
    return found


def ranked(project, settings, *, exact: bool, **arguments) -> list:
    """``memory_search``'s ids and semantic scores (the vector side alone: the keyword side weighs
    words against the scope's counted size, which the two paths count differently), by the HNSW
    path or the exact scan."""
    from django.core.cache import cache

    from memories.search import memory_search

    limit = settings.SEARCH_EXACT_MAX_ROWS
    settings.SEARCH_EXACT_MAX_ROWS = 10_000 if exact else limit
    try:
        found = memory_search(project=project, keyword_search=False, **arguments)
    finally:
        settings.SEARCH_EXACT_MAX_ROWS = limit
        cache.clear()  # the scope sizes counted under the other limit
    assert all(m.project_id == project.pk for m in found)
    return [(m.pk, round(m.score, 9)) for m in found]


def alike(walked: list, exact: list) -> bool:
    """The same scores in the same order, and the same rows but for ties at the last score: rows of
    equal vectors (two canonicals of one vector, after an embedding change) tie, and the walk's
    LIMIT keeps any of them, where the exact scan keeps the lowest ids."""
    if [score for _, score in walked] != [score for _, score in exact]:
        return False
    last = exact[-1][1] if exact else None
    return [row for row in walked if row[1] != last] == [row for row in exact if row[1] != last]


def same_as_exact(project, settings, scopes, *, top_ks=(3, 50)) -> None:
    for scope in scopes:
        for query in QUERIES:
            for top_k in top_ks:
                arguments = {"query": query, "scope": scope, "top_k": top_k}
                walked = ranked(project, settings, exact=False, **arguments)
                exact = ranked(project, settings, exact=True, **arguments)
                assert alike(walked, exact), (scope, query, top_k, walked, exact)
                if top_k == 50:  # everything: no cut among ties
                    assert walked == exact, (scope, query)
                expected = Memory.objects.filter(project=project, **(scope.as_filter() if scope else {})).count()
                assert len(walked) == min(top_k, expected), (scope, query, top_k)


def test_a_repeated_text_names_the_oldest_canonical_and_a_new_text_nothing(project, other_project, repeated):
    alice = repeated["alice"]
    for user in USERS[1:]:
        for text in REPEATED:
            assert Memory.objects.get(pk=repeated[user][text].pk).vector_memory_id == alice[text].pk, (user, text)
        for text in OWN[user]:
            assert Memory.objects.get(pk=repeated[user][text].pk).vector_memory_id is None, (user, text)
    assert not Memory.objects.filter(user_id="alice", vector_memory__isnull=False).exists()
    # Another project's same words are its own canonicals.
    assert not Memory.objects.filter(project=other_project, vector_memory__isnull=False).exists()
    # One HNSW entry per distinct vector of the project: the canonicals.
    canonicals = Memory.objects.filter(project=project, vector_memory__isnull=True)
    assert canonicals.count() == len(REPEATED) + sum(len(texts) for texts in OWN.values())
    # Each verbatim message names the canonical of its memory (the very same vector).
    for source in MemorySource.objects.filter(project=project).prefetch_related("memories"):
        [memory] = source.memories.all()
        assert source.vector_memory_id == (memory.vector_memory_id or memory.pk), source.content
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM memories_memory m JOIN memories_memory c ON c.id = m.vector_memory_id "
            "WHERE m.embedding = c.embedding AND m.hash = c.hash AND c.vector_memory_id IS NULL"
        )
        assert cursor.fetchone()[0] == len(REPEATED) * (len(USERS) - 1)
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'memory_embedding_hnsw'")
        assert cursor.fetchone()[0].endswith(
            "USING hnsw (embedding vector_cosine_ops) WITH (m='16', "
            "ef_construction='64') WHERE (vector_memory_id IS NULL)"
        )


def test_a_canonical_keeps_its_entry_whatever_its_state(project, repeated):
    from memories.services import memory_expire

    vegetarian = repeated["alice"]["Is vegetarian"]
    memory_expire(project=project, memory_id=vegetarian.pk)
    # A batch, as alice's was: a lone text is embedded in float32 by ONNX Runtime, a batch in
    # bfloat16 where the CPU has it, and the two vectors differ in the last bits (not shared).
    erin, _ = said(project, "erin", ["Is vegetarian", "Has a dog called Biscuit"])
    assert Memory.objects.get(pk=erin.pk).vector_memory_id == vegetarian.pk


def test_memory_search_on_the_hnsw_path_ranks_as_the_exact_scan_without_falling_back(
    project, repeated, walks, settings, shortfalls
):
    scopes = [Scope(user_id=user) for user in USERS] + [None]
    same_as_exact(project, settings, scopes)
    assert shortfalls and not any(shortfalls)


def test_memory_search_walks_the_canonicals_index_once_for_both_kinds(project, repeated, walks, settings):
    from memories.search import memory_search

    def plan(user: str) -> str:
        with CaptureQueriesContext(connection) as captured:
            memory_search(project=project, query="pets", scope=Scope(user_id=user), keyword_search=False)
        [walk] = [q["sql"] for q in captured.captured_queries if "UNION ALL" in q["sql"]]
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN " + walk)
            return "\n".join(row[0] for row in cursor.fetchall())

    # Bob's memories of both kinds (his own, and the repeats naming alice's): one walk of
    # memory_embedding_hnsw reaches both (PostgreSQL uses the partial index only for a statement
    # carrying its condition), then his rows by id and by the canonical they name.
    for user in ("bob", "alice"):
        walk = plan(user)
        assert walk.count("Index Scan using memory_embedding_hnsw") == 1, walk
        assert "CTE Scan on walked" in walk, walk


def test_deleting_a_canonical_makes_the_rows_naming_it_canonical_and_keeps_them_found(
    project, repeated, walks, settings, shortfalls
):
    from memories.services import memory_delete

    alice = repeated["alice"]
    memory_delete(project=project, memory_id=alice["Is vegetarian"].pk)
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the keys hold, as at commit
    vegetarians = Memory.objects.filter(project=project, memory="Is vegetarian")
    assert vegetarians.count() == len(USERS) - 1
    assert not vegetarians.filter(vector_memory__isnull=False).exists()  # the database's SET NULL
    # The other repeats still name alice's.
    assert Memory.objects.filter(vector_memory=alice["Has a dog called Biscuit"].pk).count() == len(USERS) - 1
    same_as_exact(project, settings, [Scope(user_id=user) for user in USERS[1:]])
    assert not any(shortfalls)


def test_a_canonical_whose_words_change_rehomes_the_rows_naming_it(project, repeated, walks, settings, shortfalls):
    from memories.search import memory_search, source_search
    from memories.services import memory_update

    alice, bob = repeated["alice"], repeated["bob"]
    trip = "Is saving up for a trip around Asia"
    memory_update(project=project, memory_id=alice[trip].pk, text="Is saving up for a new bicycle")
    # Bob's, the oldest of the rest, holds the entry now; the others name it.
    assert Memory.objects.get(pk=alice[trip].pk).vector_memory_id is None
    assert Memory.objects.get(pk=bob[trip].pk).vector_memory_id is None
    for user in USERS[2:]:
        assert Memory.objects.get(pk=repeated[user][trip].pk).vector_memory_id == bob[trip].pk, user
    # The messages that named alice's memory (hers, and the repeats') name bob's: the same vector.
    messages = MemorySource.objects.filter(project=project, content=trip)
    assert set(messages.values_list("vector_memory_id", flat=True)) == {bob[trip].pk}
    reindex()
    same_as_exact(project, settings, [Scope(user_id=user) for user in USERS] + [None])
    # Alice's ranks by its new vector; the others' by the old one.
    [best] = memory_search(project=project, query="a new bicycle", scope=Scope(user_id="alice"), top_k=1)
    assert best.pk == alice[trip].pk
    for user in USERS[1:]:
        [best] = memory_search(project=project, query="a trip around Asia", scope=Scope(user_id=user), top_k=1)
        assert best.pk == repeated[user][trip].pk, user
        [message] = source_search(project=project, query="a trip around Asia", scope=Scope(user_id=user), top_k=1)
        assert message.content == trip, user
    assert not any(shortfalls)


def test_a_reembedded_memory_names_nothing_and_the_rows_naming_it_are_rehomed(
    project, repeated, walks, settings, shortfalls
):
    from memories.services import memories_reembed

    alice = repeated["alice"]
    memories_reembed(project=project, memory_ids=[m.pk for m in alice.values()])
    assert not Memory.objects.filter(user_id="alice", vector_memory__isnull=False).exists()
    for text in REPEATED:
        dependents = Memory.objects.filter(project=project, memory=text).exclude(user_id="alice")
        oldest = dependents.order_by("created_at", "id").first()
        assert oldest.pk == repeated["bob"][text].pk
        assert set(dependents.values_list("vector_memory_id", flat=True)) == {None, oldest.pk}, text
    reindex()
    same_as_exact(project, settings, [Scope(user_id=user) for user in USERS] + [None])
    assert not any(shortfalls)


def test_messages_whose_memory_names_a_canonical_are_found_through_its_entry(
    project, repeated, walks, settings, shortfalls, monkeypatch
):
    from memories import search

    def sources(scope, *, exact: bool) -> list:
        with monkeypatch.context() as patched:
            if exact:
                patched.setattr(
                    search,
                    "shared_vector_ranking",
                    lambda candidates, vector, limit, **_: search.vector_ranking(candidates, vector, limit, exact=True),
                )
            found = search.source_search(project=project, query=query, scope=scope, top_k=top_k)
        return [(s.pk, round(s.score, 9)) for s in found]

    carol = MemorySource.objects.filter(project=project, user_id="carol")
    # Carol's messages of the repeats name alice's memories (their memories' canonicals).
    assert set(carol.filter(content__in=REPEATED).values_list("vector_memory_id", flat=True)) == {
        repeated["alice"][text].pk for text in REPEATED
    }
    for scope in (Scope(user_id="carol"), Scope(user_id="bob"), None):
        for query in QUERIES:
            for top_k in (2, 50):
                walked, exact = sources(scope, exact=False), sources(scope, exact=True)
                assert alike(walked, exact) and (top_k == 2 or walked == exact), (scope, query, top_k)
    assert shortfalls and not any(shortfalls)


@pytest.mark.django_db(transaction=True)
def test_the_migration_links_existing_repeats_to_their_oldest_and_their_messages_to_it(project, other_project):
    from datetime import UTC, datetime, timedelta

    from django.db.migrations.executor import MigrationExecutor

    from memories.embedding import embed_texts
    from memories.models import memory_hash

    executor = MigrationExecutor(connection)
    before, after = [("memories", "0015_source_embedding_hnsw_partial")], executor.loader.graph.leaf_nodes()
    executor.migrate(before)
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    try:
        old = MigrationExecutor(connection).loader.project_state(before[0]).apps
        OldMemory, OldSource = old.get_model("memories", "Memory"), old.get_model("memories", "MemorySource")
        vegetarian, cello = embed_texts(["Is vegetarian", "Plays the cello"])
        other_vector = vegetarian.copy()
        other_vector[0] += 0.5  # the same words embedded by another model

        def memory(project_, user, text, vector, minutes):
            moment = t0 + timedelta(minutes=minutes)
            return OldMemory.objects.create(
                project_id=project_.pk, user_id=user, memory=text, hash=memory_hash(text), embedding=vector,
                created_at=moment, updated_at=moment, valid_from=moment,
            )  # fmt: skip

        rows = {
            "bob": memory(project, "bob", "Is vegetarian", vegetarian, 2),
            "alice": memory(project, "alice", "Is vegetarian", vegetarian, 1),  # the oldest
            "carol": memory(project, "carol", "Is vegetarian", vegetarian, 3),
            "dave": memory(project, "dave", "Is vegetarian", other_vector, 4),  # another vector
            "cello": memory(project, "bob", "Plays the cello", cello, 5),
            "elsewhere": memory(other_project, "alice", "Is vegetarian", vegetarian, 0),
        }
        message = OldSource.objects.create(
            project_id=project.pk, user_id="carol", role="user", content="Is vegetarian", observed_at=t0,
            embedding=vegetarian, vector_memory_id=rows["carol"].pk,
        )  # fmt: skip
    finally:
        MigrationExecutor(connection).migrate(after)
    names = dict(Memory.objects.values_list("pk", "vector_memory_id"))
    alice = rows["alice"].pk
    assert names[alice] is None and names[rows["bob"].pk] == alice and names[rows["carol"].pk] == alice
    assert names[rows["dave"].pk] is None and names[rows["cello"].pk] is None
    assert names[rows["elsewhere"].pk] is None  # another project's
    assert MemorySource.objects.get(pk=message.pk).vector_memory_id == alice
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE indexdef LIKE '%vector_memory_id%' "
            "AND tablename IN ('memories_memory', 'memories_memorysource')"
        )
        indexes = dict(cursor.fetchall())
    # The messages' one-column index of their key is gone, for the partial (key, user) one.
    assert set(indexes) == {
        "memory_embedding_hnsw",
        "source_embedding_hnsw",
        "memory_canonical_hash",
        "memory_vector_memory_user",
        "source_vector_memory_user",
    }
    assert indexes["memory_embedding_hnsw"].endswith("WHERE (vector_memory_id IS NULL)")


def test_a_large_scope_reaching_few_canonicals_is_scored_not_walked(project, repeated, settings, monkeypatch):
    from django.core.cache import cache

    from memories.search import memory_search

    for _ in range(3):  # said again and again: more rows, no more canonicals
        said(project, "erin", REPEATED[:2])
    erin = Memory.objects.filter(project=project, user_id="erin")
    assert erin.count() == 6 and set(erin.values_list("vector_memory_id", flat=True)) == {
        repeated["alice"][text].pk for text in REPEATED[:2]
    }
    settings.SEARCH_EXACT_MAX_ROWS = 3  # six rows: a large scope, reaching two canonicals
    cache.clear()
    from memories import search_candidates

    kept = []
    whole = search_candidates.cache.set
    monkeypatch.setattr(
        search_candidates.cache, "set", lambda key, *rest: kept.append((key, *rest)) or whole(key, *rest)
    )
    for query in QUERIES:
        with CaptureQueriesContext(connection) as captured:
            found = memory_search(project=project, query=query, scope=Scope(user_id="erin"), keyword_search=False)
        # A walk over two entries of the graph would run on to hnsw.max_scan_tuples: scored instead.
        assert not any("iterative_scan" in q["sql"] for q in captured.captured_queries), query
        assert [(m.pk, round(m.score, 9)) for m in found] == ranked(
            project, settings, exact=True, query=query, scope=Scope(user_id="erin"), top_k=10
        )
    # That verdict is counted again sooner than a walked scope's: adds can make it walked.
    sides = [rest for key, *rest in kept if key.endswith(":sides")]
    assert sides and all(entry == [(0, 2), search_candidates.SCOPE_FEW_ENTRIES_CACHE_SECONDS] for entry in sides)
    assert search_candidates.SCOPE_FEW_ENTRIES_CACHE_SECONDS < search_candidates.SCOPE_SIZE_LARGE_CACHE_SECONDS


def test_a_large_scope_reaching_more_canonicals_than_a_walk_needs_is_walked(project, repeated, settings, monkeypatch):
    """Over the exact path's limit, "few canonicals" ends at ``WALK_ENTRIES_MIN`` when that is lower:
    erin's six rows (over a limit of 5) reach two canonicals, more than a walk's floor of 1."""
    from django.core.cache import cache

    from memories import search_candidates
    from memories.search import memory_search

    for _ in range(3):
        said(project, "erin", REPEATED[:2])
    settings.SEARCH_EXACT_MAX_ROWS = 5
    monkeypatch.setattr(search_candidates, "WALK_ENTRIES_MIN", 1)
    cache.clear()
    for query in QUERIES:
        with CaptureQueriesContext(connection) as captured:
            found = memory_search(project=project, query=query, scope=Scope(user_id="erin"), keyword_search=False)
        assert any("iterative_scan" in q["sql"] for q in captured.captured_queries), query
        assert [(m.pk, round(m.score, 9)) for m in found] == ranked(
            project, settings, exact=True, query=query, scope=Scope(user_id="erin"), top_k=10
        )


@pytest.mark.parametrize("exact_max, walk_floor, walked", [(5, 1, True), (3, 2000, False)])
def test_a_large_scope_s_first_search_takes_the_walk_verdict_from_the_rows_it_counted(
    project, repeated, settings, monkeypatch, exact_max, walk_floor, walked
):
    """A hybrid search of a scope of unknown size counts it in its statement, reading up to the
    exact path's limit of its rows; over the limit, those rows also say how many entries of the graph
    the scope reaches at least. More than a walk needs: walked, and the scope's two sides are not
    counted again (``shared_sizes``). Fewer decide nothing: they are counted (here two canonicals,
    too few to walk: scored). Either way, the answers of a search that knew it all."""
    from django.core.cache import cache

    from memories import search_candidates
    from memories.search import memory_search

    for _ in range(3):
        said(project, "erin", REPEATED[:2])  # six rows naming two canonicals
    settings.SEARCH_EXACT_MAX_ROWS = exact_max
    monkeypatch.setattr(search_candidates, "WALK_ENTRIES_MIN", walk_floor)
    kept = []
    whole = search_candidates.cache.set
    monkeypatch.setattr(
        search_candidates.cache, "set", lambda key, *rest: kept.append((key, *rest)) or whole(key, *rest)
    )
    for query in QUERIES:
        cache.clear()
        kept.clear()
        with CaptureQueriesContext(connection) as first:
            found = memory_search(project=project, query=query, scope=Scope(user_id="erin"), threshold=0, explain=True)
        with CaptureQueriesContext(connection) as again:
            known = memory_search(project=project, query=query, scope=Scope(user_id="erin"), threshold=0, explain=True)
        statements = [q["sql"] for q in first.captured_queries]
        assert sum("scope_size AS" in sql for sql in statements) == 1, query  # counted in its statement
        assert any("AS sizes" in sql for sql in statements) == (not walked), query  # the sides' count
        assert any("iterative_scan" in sql for sql in statements) == walked, query
        assert not any("AS sizes" in q["sql"] or "scope_size AS" in q["sql"] for q in again.captured_queries)
        answers = [[(m.pk, m.score, m.score_breakdown) for m in results] for results in (found, known)]
        assert answers[0] == answers[1], query
        sides = [rest for key, *rest in kept if key.endswith(":sides")]
        if walked:  # from the statement: the rows it read name two canonicals, kept as long as a count
            assert sides == [[(0, 2), search_candidates.SCOPE_SIZE_LARGE_CACHE_SECONDS]], query
        else:
            assert sides == [[(0, 2), search_candidates.SCOPE_FEW_ENTRIES_CACHE_SECONDS]], query


def test_the_side_count_reads_each_side_once(project, repeated):
    """The count of a scope's two sides names its first count twice (the second side is counted
    only when the first is short): run once, not once for each mention."""
    from memories.ranking import shared_sizes

    candidates = Memory.objects.filter(project=project, user_id="bob")
    with CaptureQueriesContext(connection) as captured:
        sides = shared_sizes(candidates, "vector_memory", 2, named=True)
    assert sides == (2, 0)  # bob's own two texts, counted up to 2: the second side is not counted
    [statement] = [q["sql"] for q in captured.captured_queries]
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) " + statement)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    counted = [line for line in plan.splitlines() if "Aggregate" in line and "never executed" not in line]
    assert len(counted) == 1, plan


def test_a_batch_takes_the_vectors_its_project_holds_and_embeds_the_rest(project, repeated, embedded):
    frank = {
        m.memory: m for m in said(project, "frank", ["Is vegetarian", "Has a dog called Biscuit", "Paints seascapes"])
    }
    assert embedded == [["Paints seascapes"]]
    for text in ("Is vegetarian", "Has a dog called Biscuit"):
        canonical = Memory.objects.get(pk=repeated["alice"][text].pk)
        mine = Memory.objects.get(pk=frank[text].pk)
        assert np.array_equal(mine.embedding, canonical.embedding)
        assert mine.vector_memory_id == canonical.pk
    assert Memory.objects.get(pk=frank["Paints seascapes"].pk).vector_memory_id is None


def test_held_vectors_come_from_the_same_project_and_model_only(project, other_project, embedded):
    said(other_project, "alice", REPEATED)  # another project holds these texts
    embedded.clear()
    said(project, "bob", REPEATED[:2])
    assert embedded == [REPEATED[:2]]
    # Held here now, but made by another model (as after a model change, before re-embedding).
    Memory.objects.filter(project=project).update(embedding_model="another-model")
    embedded.clear()
    said(project, "carol", REPEATED[:2])
    assert embedded == [REPEATED[:2]]
    # A lone text is embedded without looking (one round trip fewer on the one-memory add).
    embedded.clear()
    said(project, "dave", [REPEATED[0]])
    assert embedded == [[REPEATED[0]]]
