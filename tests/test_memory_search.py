import random
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from django.db import connection
from django.utils import timezone
from pgvector.django import VectorField
from pgvector.psycopg.vector import register_vector_info
from psycopg.types import TypeInfo

from accounts.models import Organization, Project
from mem0g_site.exceptions import ValidationFailed
from memories.embedding import embed_texts
from memories.inputs import Scope
from memories.models import Memory, memory_hash
from memories.search import memory_search

DISTRACTORS = [
    "User has a golden retriever named Max",
    "User lives in a flat in Berlin",
    "User is allergic to shellfish",
    "User's sister is getting married in June",
    "User enjoys hiking in the Alps",
]


def test_search_ranks_the_closest_memory_first(project, add):
    add(project, "User prefers Python for scripting", *DISTRACTORS, user_id="alice")

    results = memory_search(project=project, query="programming language preferences", scope=Scope(user_id="alice"))

    assert results[0].memory == "User prefers Python for scripting"
    scores = [m.score for m in results]
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert scores[0] > scores[1] + 0.1


def test_top_k_limits_the_results(project, add):
    add(project, "User prefers Python for scripting", *DISTRACTORS, user_id="alice")
    assert len(memory_search(project=project, query="pets", scope=Scope(user_id="alice"), top_k=2)) == 2
    assert len(memory_search(project=project, query="pets", scope=Scope(user_id="alice"), top_k=50)) == 6


def test_threshold_excludes_weak_matches(project, add):
    add(project, "User prefers Python for scripting", *DISTRACTORS, user_id="alice")
    query, scope = "what programming language do I use?", Scope(user_id="alice")
    everything = memory_search(project=project, query=query, scope=scope)
    assert len(everything) == 6
    assert everything[0].memory == "User prefers Python for scripting"
    between = (everything[0].score + everything[1].score) / 2

    strong = memory_search(project=project, query=query, scope=scope, threshold=between)

    assert [m.memory for m in strong] == ["User prefers Python for scripting"]
    assert (
        memory_search(project=project, query=query, scope=scope, threshold=min(1.0, everything[0].score + 0.01)) == []
    )
    assert len(memory_search(project=project, query=query, scope=scope, threshold=0.0)) == 6


def test_search_is_isolated_between_users(project, add):
    add(project, "User prefers Python for scripting", user_id="alice")
    add(project, "User prefers Go for services", user_id="bob")
    results = memory_search(project=project, query="programming language", scope=Scope(user_id="bob"))
    assert [m.memory for m in results] == ["User prefers Go for services"]


def test_search_is_isolated_between_projects(project, other_project, add):
    add(project, "User prefers Python for scripting", user_id="alice")
    add(other_project, "User prefers Haskell for everything", user_id="alice")
    results = memory_search(project=other_project, query="programming language", scope=Scope(user_id="alice"))
    assert [m.memory for m in results] == ["User prefers Haskell for everything"]
    assert memory_search(project=other_project, query="Python", scope=Scope(user_id="nobody")) == []


def test_expired_memories_are_hidden_by_default(project, add):
    yesterday = (timezone.now() - timedelta(days=1)).date()
    add(project, "User is visiting Rome this week", user_id="alice", expiration_date=yesterday)
    add(project, "User is visiting Paris next month", user_id="alice")

    default = memory_search(project=project, query="travel plans", scope=Scope(user_id="alice"))
    assert [m.memory for m in default] == ["User is visiting Paris next month"]
    with_expired = memory_search(
        project=project, query="travel plans", scope=Scope(user_id="alice"), include_expired=True
    )
    assert {m.memory for m in with_expired} == {"User is visiting Rome this week", "User is visiting Paris next month"}


def test_a_memory_expiring_today_is_still_served(project, add):
    add(project, "User has a dentist appointment today", user_id="alice", expiration_date=timezone.now().date())
    assert len(memory_search(project=project, query="appointments", scope=Scope(user_id="alice"))) == 1


def test_closed_memories_are_hidden_now_but_visible_as_of_their_time(project, add):
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    t1 = datetime(2026, 6, 1, tzinfo=UTC)
    old = add(project, "User lives in Porto", user_id="alice", now=t0)
    add(project, "User lives in Lisbon", user_id="alice", now=t1)
    Memory.objects.filter(pk=old.id).update(valid_to=t1)

    now_results = memory_search(project=project, query="where does the user live?", scope=Scope(user_id="alice"))
    assert [m.memory for m in now_results] == ["User lives in Lisbon"]
    march = memory_search(
        project=project,
        query="where does the user live?",
        scope=Scope(user_id="alice"),
        as_of=datetime(2026, 3, 1, tzinfo=UTC),
    )
    assert [m.memory for m in march] == ["User lives in Porto"]


def test_search_query_count_is_bounded(project, add, django_assert_max_num_queries):
    add(project, "User prefers Python for scripting", *DISTRACTORS, user_id="alice")
    memory_search(project=project, query="warm-up", scope=Scope(user_id="alice"))
    with django_assert_max_num_queries(2):
        assert len(memory_search(project=project, query="pets", scope=Scope(user_id="alice"))) == 6


def _counts(queries) -> int:
    return sum(1 for q in queries if q["sql"].lstrip().upper().startswith("SELECT COUNT"))


def _counted(queries) -> int:
    """How many of ``queries`` are search statements that counted the scope themselves."""
    return sum(1 for q in queries if "scope_size AS" in q["sql"])


def test_the_scope_count_is_cached_per_filter_as_clients_send_them(project, add):
    """Mem0 clients name the user in ``filters`` (a ``where``), not in a scope: the strategy's row
    count is cached for that read's shape too, and two filters never share a count. A hybrid search
    counts the scope in its own statement (no count first), and the next one reads the count."""
    from django.db.models import Q
    from django.test.utils import CaptureQueriesContext

    add(project, "User prefers Python for scripting", *DISTRACTORS, user_id="alice")
    add(project, "User drinks green tea", user_id="bob")
    read = {"project": project, "query": "pets", "include_superseded": True}

    with CaptureQueriesContext(connection) as first:
        alice = memory_search(**read, where=Q(user_id="alice"))
    with CaptureQueriesContext(connection) as again:
        assert [m.pk for m in memory_search(**read, where=Q(user_id="alice"))] == [m.pk for m in alice]
    with CaptureQueriesContext(connection) as other:
        bob = memory_search(**read, where=Q(user_id="bob"))
    with CaptureQueriesContext(connection) as vector_only:
        memory_search(**read, where=Q(user_id="bob"), keyword_search=False)

    assert [(_counts(q), _counted(q), len(q)) for q in (first, again, other)] == [(0, 1, 1), (0, 0, 1), (0, 1, 1)]
    assert (_counts(vector_only), _counted(vector_only)) == (0, 0)  # bob's count, cached by his search
    assert len(alice) == 6 and [m.memory for m in bob] == ["User drinks green tea"]


def test_a_filter_that_is_not_plain_is_counted_every_time(project, add):
    from django.db.models import F, Q
    from django.test.utils import CaptureQueriesContext

    from memories.search_candidates import _where_shape

    add(project, "User prefers Python for scripting", *DISTRACTORS, user_id="alice")
    expression = Q(user_id="alice") & Q(app_id=F("agent_id"))
    assert _where_shape(Q(user_id="alice") & ~Q(categories__overlap=["food"])) is not None
    assert _where_shape(expression) is None
    assert _where_shape(Q(user_id="a")) != _where_shape(Q(user_id="b")) != _where_shape(~Q(user_id="b"))

    for _ in range(2):
        with CaptureQueriesContext(connection) as queries:
            memory_search(project=project, query="pets", where=Q(user_id="alice"), as_of=timezone.now())
        assert (_counts(queries), _counted(queries)) == (0, 1)
        with CaptureQueriesContext(connection) as queries:
            memory_search(project=project, query="pets", where=expression, keyword_search=False)
        assert _counts(queries) == 1


@pytest.mark.parametrize("exact_max_rows", [100, 5], ids=["small-scope", "larger-than-the-exact-path"])
def test_a_search_that_counts_its_scope_ranks_as_one_that_knew_the_count(project, add, settings, exact_max_rows):
    """The first search of a scope counts it in its statement; the next ones read the cached count:
    the same answers, and a scope over the exact path's limit is walked through the HNSW index."""
    from django.core.cache import cache
    from django.db.models import Q
    from django.test.utils import CaptureQueriesContext

    settings.SEARCH_EXACT_MAX_ROWS = exact_max_rows
    add(project, "User prefers Python for scripting", *DISTRACTORS, user_id="alice")
    add(project, "User drinks green tea", "User owns a cat", user_id="bob")
    for query in ("pets", "What does the user drink?", "programming language", "zzz unrelated"):
        for where in (Q(user_id="alice"), Q(user_id="bob"), Q(user_id="nobody")):
            cache.clear()
            with CaptureQueriesContext(connection) as first:
                counted = memory_search(project=project, query=query, where=where, threshold=0, explain=True)
            with CaptureQueriesContext(connection) as again:
                known = memory_search(project=project, query=query, where=where, threshold=0, explain=True)
            assert _counted(first) == 1 and _counted(again) == 0
            assert [(m.pk, m.score, m.score_breakdown) for m in counted] == [
                (m.pk, m.score, m.score_breakdown) for m in known
            ]
            walked = any("hnsw.iterative_scan" in q["sql"] for q in again.captured_queries)
            assert walked == (where == Q(user_id="alice") and exact_max_rows == 5)
            if where == Q(user_id="alice"):
                assert len(counted) == 6


def test_a_scope_over_the_exact_limit_is_remembered_longer(project, add, settings, monkeypatch):
    """Counting a large scope reads its rows only to learn that it is large: that verdict is kept
    far longer (an hour) than a small scope's count, which changes with every add."""
    from django.db.models import Q

    from memories import search_candidates

    kept = []
    monkeypatch.setattr(search_candidates.cache, "set", lambda key, value, timeout: kept.append((value, timeout)))
    settings.SEARCH_EXACT_MAX_ROWS = 5
    add(project, "User prefers Python for scripting", *DISTRACTORS, user_id="alice")  # 6 rows: large
    add(project, "User drinks green tea", user_id="bob")
    for user in ("alice", "bob"):
        memory_search(project=project, query="pets", where=Q(user_id=user))  # counted in the statement
        memory_search(project=project, query="pets", where=Q(user_id=user), keyword_search=False)  # by COUNT
    large, small = search_candidates.SCOPE_SIZE_LARGE_CACHE_SECONDS, search_candidates.SCOPE_SIZE_CACHE_SECONDS
    # A large scope's walk also counts its two sides (naming a canonical or not): kept as long.
    sides = [entry for entry in kept if isinstance(entry[0], tuple)]
    assert sides and all(entry == ((6, 0), large) for entry in sides)
    assert [entry for entry in kept if entry not in sides] == [(6, large), (6, large), (1, small), (1, small)]
    assert large >= 10 * small


def test_a_busy_process_keeps_a_large_scope_s_verdict_while_thousands_of_others_are_counted(settings):
    # Thousands of users searching within the hour must not push a heavy user's verdict out of the
    # per-process cache (Django's default holds 300 entries).
    from memories import search_candidates

    assert settings.CACHES["default"]["BACKEND"].endswith("LocMemCache")  # no REDIS_URL: per process
    search_candidates.remember_scope_size("mem0g:scope-size:heavy", 5001, 5000)
    for n in range(5000):
        search_candidates.remember_scope_size(f"mem0g:scope-size:light-{n}", 20, 5000)
    assert search_candidates.cache.get("mem0g:scope-size:heavy") == 5001


@pytest.mark.parametrize(
    "body, field",
    [
        ({"query": ""}, "query"),
        ({"query": "   "}, "query"),
        ({"query": 42}, "query"),
        ({"query": "tea", "top_k": 0}, "top_k"),
        ({"query": "tea", "top_k": "five"}, "top_k"),
        ({"query": "tea", "top_k": 1001}, "top_k"),
        ({"query": "tea", "threshold": 1.5}, "threshold"),
        ({"query": "tea", "threshold": "high"}, "threshold"),
        ({"query": "tea", "as_of": "yesterday"}, "as_of"),
        ({"query": "tea", "decay_half_life_days": 0}, "decay_half_life_days"),
    ],
)
def test_bad_search_input_is_refused_with_the_field_named(body, field):
    """The search's arguments are checked in one place, the request contract every route, the MCP
    tool and the OSS dialect read them with; ``memory_search`` takes them as read."""
    from mem0g_site.api_kit.contract import read
    from memories.api.contract import SearchRequest

    with pytest.raises(ValidationFailed) as caught:
        read(SearchRequest, body)
    assert caught.value.field == field


# --- Filtered vector search returns the full top-k ----------------------------------------------

TOPICS = [
    "User {} enjoys baking sourdough bread on weekends",
    "User {} is training for a marathon in the autumn",
    "User {} collects vintage vinyl records",
    "User {} works as an accountant in a small firm",
    "User {} is learning Japanese with a tutor",
    "User {} drives an old blue pickup truck",
    "User {} keeps bees in the back garden",
    "User {} plays chess online every evening",
]


@pytest.fixture(scope="module")
def crowded_table(django_db_setup, django_db_blocker):
    """10,000 memories in a project of their own: 99 users own 99%, user "target" owns 1% (100
    rows). Built once for the module (committed) and removed afterwards."""
    with django_db_blocker.unblock():
        organization = Organization.objects.create(name="Crowded", slug="crowded")
        project = Project.objects.create(organization=organization, name="Crowded", slug="crowded")
        _fill_crowded(project)
        yield project
        # One statement: nothing refers to these rows (the tests' own writes are rolled back), so
        # Django's collector, which loads all 10,000 to look for dependents, has nothing to find.
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM memories_memory WHERE project_id = %s", [project.pk])
        project.delete()
        organization.delete()


def _fill_crowded(project):
    rng = np.random.default_rng(7)
    base_texts = [topic.format(i) for topic in TOPICS for i in range(25)]
    base_vectors = np.array(embed_texts(base_texts))
    rows = []
    for n in range(9_900):
        index = n % len(base_texts)
        vector = base_vectors[index] + rng.normal(0, 0.02, 384)
        vector /= np.linalg.norm(vector)
        text = f"{base_texts[index]} (note {n})"
        rows.append(
            Memory(project=project, user_id=f"user-{n % 99}", memory=text, hash=memory_hash(text), embedding=vector)
        )
    target_texts = [f"User grows heirloom tomato variety number {i} in a greenhouse" for i in range(100)]
    for text, vector in zip(target_texts, embed_texts(target_texts), strict=True):
        rows.append(Memory(project=project, user_id="target", memory=text, hash=memory_hash(text), embedding=vector))
    random.Random(3).shuffle(rows)
    # The HNSW index is built once over the loaded rows (the migration's own definition, read back
    # from PostgreSQL) rather than grown by 10,000 single inserts: the same index, in a fraction of
    # the time. This module's worker runs nothing else meanwhile, and the index is back either way.
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'memory_embedding_hnsw'")
        (definition,) = cursor.fetchone()
        cursor.execute("DROP INDEX memory_embedding_hnsw")
        try:
            _copy_in(rows)
        finally:
            cursor.execute(definition)
        cursor.execute("ANALYZE memories_memory")


def _copy_in(objects: list) -> None:
    """Write new ``objects`` of one model as ``bulk_create`` would (each field's database value), in
    one binary COPY: a vector goes as its 384 float32s rather than as text. (``bulk_create`` spent
    most of its time here turning 10,000 vectors into text, and PostgreSQL parsing it back.)"""
    model = type(objects[0])
    fields = [field for field in model._meta.concrete_fields if not field.generated]
    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT attname, atttypid::int FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0",
            [table],
        )
        types = dict(cursor.fetchall())
        psycopg_cursor = cursor.cursor
        # pgvector's binary format, on this cursor only.
        register_vector_info(psycopg_cursor, TypeInfo.fetch(psycopg_cursor.connection, "vector"))
        columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
        with psycopg_cursor.copy(
            f"COPY {connection.ops.quote_name(table)} ({columns}) FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.set_types([types[field.column] for field in fields])
            for obj in objects:
                copy.write_row(
                    [
                        value if isinstance(field, VectorField) else field.get_db_prep_save(value, connection)
                        for field in fields
                        for value in [field.pre_save(obj, True)]
                    ]
                )


QUERIES = [
    "quarterly tax filing deadline",  # far from anything the target user said
    "which vegetables does the user grow?",
    "marathon training plan",
    "vinyl records",
]


def _force_hnsw_plans():
    """Make PostgreSQL avoid sorts for the rest of the test's transaction, so an ORDER BY distance
    is served by the HNSW index whatever the planner would have preferred."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_sort = off")


def _post_filtered_hnsw_count(project, query: str) -> int:
    """What a plain HNSW scan (no iterative scan) returns for the target user."""
    from pgvector.django import CosineDistance

    from memories.embedding import embed_query

    distance = CosineDistance("embedding", embed_query(query))
    # (The index holds the memories naming no canonical, all of these: the condition lets it serve.)
    queryset = Memory.objects.filter(project=project, user_id="target", vector_memory__isnull=True)
    queryset = queryset.annotate(distance=distance)
    sql, params = queryset.order_by("distance")[:10].query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL hnsw.iterative_scan = off")
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        assert "memory_embedding_hnsw" in plan
        cursor.execute(sql, params)
        return len(cursor.fetchall())


def test_the_crowded_table_defeats_a_plain_filtered_hnsw_scan(db, crowded_table):
    # The control for the next test: without our strategy, the same query loses results.
    _force_hnsw_plans()
    assert _post_filtered_hnsw_count(crowded_table, QUERIES[0]) < 10


@pytest.mark.parametrize(
    "exact_max_rows, force_hnsw",
    [(10_000, False), (0, False), (0, True)],
    ids=["exact-for-small-scopes", "planner-choice", "hnsw-iterative-scan"],
)
def test_a_user_owning_one_percent_of_rows_gets_the_full_top_k_on_repeated_queries(
    db, crowded_table, settings, exact_max_rows, force_hnsw
):
    settings.SEARCH_EXACT_MAX_ROWS = exact_max_rows
    if force_hnsw:
        _force_hnsw_plans()
    # More than five executions of the same statement: psycopg then prepares it and PostgreSQL may
    # switch to a generic plan, which is where post-filtered HNSW scans lose results.
    for round_number in range(8):
        for query in QUERIES:
            results = memory_search(project=crowded_table, query=query, scope=Scope(user_id="target"), top_k=10)
            assert len(results) == 10, (round_number, query, len(results))
            assert {m.user_id for m in results} == {"target"}


def test_hnsw_path_matches_exact_search(db, crowded_table, settings):
    query = "which vegetables does the user grow?"
    settings.SEARCH_EXACT_MAX_ROWS = 100_000
    exact = [m.id for m in memory_search(project=crowded_table, query=query, scope=Scope(user_id="user-5"), top_k=10)]
    settings.SEARCH_EXACT_MAX_ROWS = 0
    _force_hnsw_plans()
    approx = [m.id for m in memory_search(project=crowded_table, query=query, scope=Scope(user_id="user-5"), top_k=10)]
    assert len(exact) == len(approx) == 10
    assert len(set(exact) & set(approx)) >= 8


# --- The keyword side looks a user's words up by scope ------------------------------------------


def _gardener(project, add):
    """6 of the user's 12 rows say "garden", 2 say "zebra"."""
    for n in range(6):
        add(project, f"Waters the garden every morning, bed {n}", user_id="gardener")
    add(project, "Saw a zebra at the zoo", user_id="gardener")
    add(project, "The garden has a zebra statue", user_id="gardener")
    for n in range(4):
        add(project, f"Reads a chapter of a novel before bed, book {n}", user_id="gardener")


@pytest.mark.parametrize("path", ["hnsw-then-keyword", "keyword-alone"])
def test_in_a_large_scope_a_word_in_many_rows_weighs_nothing(project, add, settings, monkeypatch, path):
    # With the exact path's limit at 5 the gardener's scope is large; with KEYWORD_COMMON_ROWS at 4,
    # "garden" is common there and only "zebra" counts.
    from memories import search

    monkeypatch.setattr(search, "KEYWORD_COMMON_ROWS", 4)
    if path == "keyword-alone":  # the keyword side on its own (not the one statement around the HNSW rows)
        monkeypatch.setattr(search, "HYBRID_ONE_STATEMENT", False)
    _gardener(project, add)

    def keyword_of(query: str, exact_max: int) -> dict[str, float]:
        settings.SEARCH_EXACT_MAX_ROWS = exact_max
        found = memory_search(
            project=project, query=query, scope=Scope(user_id="gardener"), top_k=12, threshold=0, explain=True
        )
        return {m.memory: m.score_breakdown["keyword"] for m in found}

    large = keyword_of("zebra garden", 5)
    assert large["Saw a zebra at the zoo"] == pytest.approx(1.0)
    assert large["The garden has a zebra statue"] == pytest.approx(1.0)
    assert {large[f"Waters the garden every morning, bed {n}"] for n in range(6)} == {0.0}
    # A question of common words only: no keyword side, the semantic score alone.
    assert set(keyword_of("garden", 5).values()) == {0.0}
    # The exact path (the scope's size known) still weighs "garden".
    small = keyword_of("zebra garden", 1000)
    assert 0 < small["Waters the garden every morning, bed 0"] < small["The garden has a zebra statue"]


def test_a_large_scope_remembers_its_common_words_and_does_not_look_them_up_again(project, add, settings, monkeypatch):
    from django.core.cache import cache
    from django.test.utils import CaptureQueriesContext

    from memories import search, search_candidates

    monkeypatch.setattr(search, "KEYWORD_COMMON_ROWS", 4)
    settings.SEARCH_EXACT_MAX_ROWS = 5  # the gardener's 12 rows are a large scope
    _gardener(project, add)
    gardener = Scope(user_id="gardener")
    size_key = search_candidates._scope_size_key(project, gardener, 5, "|[]|00")

    def answers(query: str):
        found = memory_search(project=project, query=query, scope=gardener, top_k=12, threshold=0, explain=True)
        return [(m.memory, m.score, m.score_breakdown["keyword"]) for m in found]

    def around_statement(query: str) -> tuple[str, list]:
        with CaptureQueriesContext(connection) as captured:
            answers(query)
        (statement,) = [q["sql"] for q in captured.captured_queries if "terms AS" in q["sql"]]
        return statement

    first = answers("zebra garden")
    # Only the word found in KEYWORD_COMMON_ROWS of the rows, and only under this scope's key.
    assert search_candidates.known_common(size_key, 4) == ["garden"]
    assert search_candidates.known_common(size_key, 5) == []
    zookeeper = search_candidates._scope_size_key(project, Scope(user_id="zookeeper"), 5, "|[]|00")
    assert search_candidates.known_common(zookeeper, 4) == []
    # The next searches leave it out of the keyword side, and find exactly what they found.
    assert "'garden'" in around_statement("zebra garden")
    again = answers("zebra garden")
    assert again == first
    cache.delete(f"{size_key}:common:4")  # found again, weighed again: the same answers
    assert answers("zebra garden") == first
    assert search_candidates.known_common(size_key, 4) == ["garden"]
    # A word rare in the scope is never remembered, so it keeps its weight.
    assert {m: k for m, _, k in answers("zebra")}["Saw a zebra at the zoo"] == pytest.approx(1.0)
    assert search_candidates.known_common(size_key, 4) == ["garden"]


def test_a_common_word_is_remembered_an_hour_from_when_it_was_found(monkeypatch):
    from memories import search_candidates

    clock = [1_000_000.0]
    monkeypatch.setattr(search_candidates.time, "time", lambda: clock[0])
    search_candidates.remember_common("scope", 500, ["garden"])
    clock[0] += 3000
    search_candidates.remember_common("scope", 500, ["zebra"])
    assert sorted(search_candidates.known_common("scope", 500)) == ["garden", "zebra"]
    clock[0] += 601  # garden's hour is up; zebra's is not
    assert search_candidates.known_common("scope", 500) == ["zebra"]
    # A scope that cannot be cached (an as_of read, a filter of expressions) remembers nothing.
    search_candidates.remember_common(None, 500, ["garden"])
    assert search_candidates.known_common(None, 500) == []


def test_a_scope_remembers_its_latest_common_words_only(monkeypatch):
    from memories import search_candidates

    monkeypatch.setattr(search_candidates, "COMMON_TERMS_MAX", 3)
    clock = [1_000_000.0]
    monkeypatch.setattr(search_candidates.time, "time", lambda: clock[0])
    for word in ["a1", "b2", "c3", "d4"]:
        clock[0] += 1
        search_candidates.remember_common("scope", 500, [word])
    assert sorted(search_candidates.known_common("scope", 500)) == ["b2", "c3", "d4"]


def test_every_full_text_and_metadata_index_takes_its_entries_without_a_pending_list(db):
    # A GIN index's pending list is read whole by every lookup (memories migration 0020); a new GIN
    # index on these tables must say fastupdate = off too.
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT c.relname, coalesce(c.reloptions, '{}') FROM pg_index i
               JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid
               JOIN pg_am a ON a.oid = c.relam
               WHERE a.amname = 'gin' AND t.relname IN ('memories_memory', 'memories_memorysource')"""
        )
        found = dict(cursor.fetchall())
    assert set(found) == {
        "memory_metadata_gin",
        "memory_search_vector_gin",
        "memory_scope_terms_gin",
        "source_search_vector_gin",
        "memory_source_scope_terms_gin",
    }
    assert {name: "fastupdate=off" in options for name, options in found.items()} == dict.fromkeys(found, True)


def _keyword_plan(project, query: str, **search) -> str:
    """The plan of the ``hits`` part (a word's rows) of the keyword statement ``memory_search`` sends."""
    from django.test.utils import CaptureQueriesContext

    memory_search(project=project, query=query, **search)  # the first search of a scope counts it
    with CaptureQueriesContext(connection) as captured:
        memory_search(project=project, query=query, **search)
    (sql,) = [q["sql"] for q in captured.captured_queries if "terms AS" in q["sql"]]
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + sql)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    return plan[plan.index("CTE hits") : plan.index("CTE weights")]


@pytest.mark.parametrize("exact_max_rows", [10_000, 0], ids=["one-statement", "hnsw-path"])
@pytest.mark.parametrize("how", ["scope", "filters"])
def test_a_users_words_are_found_through_the_scope_keyed_index(
    db, crowded_table, settings, monkeypatch, exact_max_rows, how
):
    # "sourdough" is in 1,237 rows of 99 users; user-5 has 12 of them. Through the plain full-text
    # index PostgreSQL reads all 1,237 and ANDs them with user-5's whole range of the user index.
    # (user-5's 100 rows are below SCOPE_KEY_MIN_ROWS: lowered here to stand for a large scope.)
    from django.db.models import Q

    from memories import search

    monkeypatch.setattr(search, "SCOPE_KEY_MIN_ROWS", 0)
    settings.SEARCH_EXACT_MAX_ROWS = exact_max_rows
    search = {"scope": Scope(user_id="user-5")} if how == "scope" else {"where": Q(user_id="user-5")}
    plan = _keyword_plan(crowded_table, "sourdough bread marathon", **search)

    assert "memory_scope_terms_gin" in plan
    assert "memory_search_vector_gin" not in plan
    assert "memory_project_user" not in plan


def test_a_search_across_users_looks_words_up_in_the_plain_index(db, crowded_table, monkeypatch):
    from django.db.models import Q

    from memories import search

    monkeypatch.setattr(search, "SCOPE_KEY_MIN_ROWS", 0)
    plan = _keyword_plan(crowded_table, "sourdough bread", where=Q(categories__overlap=["none"]))

    assert "memory_scope_terms_gin" not in plan


def test_a_small_scope_checks_its_own_rows_for_the_words(db, crowded_table, settings):
    # user-5's 100 rows: PostgreSQL reads them through the user index and checks each for the
    # words, which is cheaper than the scope-keyed statement at this size.
    from memories import search

    assert 100 <= search.SCOPE_KEY_MIN_ROWS
    settings.SEARCH_EXACT_MAX_ROWS = 10_000
    plan = _keyword_plan(crowded_table, "sourdough bread marathon", scope=Scope(user_id="user-5"))

    assert "memory_scope_terms_gin" not in plan
    assert "memory_project_user" in plan


@pytest.mark.parametrize("exact_max_rows", [10_000, 0], ids=["one-statement", "hnsw-path"])
def test_the_scope_keyed_lookup_ranks_exactly_as_the_plain_one(
    db, crowded_table, settings, monkeypatch, exact_max_rows
):
    from django.db.models import Q

    from memories import search

    monkeypatch.setattr(search, "SCOPE_KEY_MIN_ROWS", 0)
    settings.SEARCH_EXACT_MAX_ROWS = exact_max_rows

    def ranked():
        found = []
        for user in ("target", "user-5", "user-98"):
            for query in [*QUERIES, "sourdough bread marathon", "heirloom tomato greenhouse number 7"]:
                for read in ({"scope": Scope(user_id=user)}, {"where": Q(user_id=user)}):
                    results = memory_search(
                        project=crowded_table, query=query, top_k=10, threshold=0, explain=True, **read
                    )
                    found.append([(m.pk, round(m.score, 9), m.score_breakdown["keyword"]) for m in results])
        return found

    keyed = ranked()
    monkeypatch.setattr(search, "_scope_key", lambda project, scope, where: None)
    plain = ranked()

    assert keyed == plain
    assert sum(1 for results in keyed for _, _, keyword in results if keyword > 0) > 100


def test_the_scope_keyed_lookup_stays_in_the_project_and_scope(db, project, other_project, add, monkeypatch):
    # The same user id in another project, and another user of this one, say the word; only the
    # searched user's own row may come back, whatever the index holds.
    from memories import search

    monkeypatch.setattr(search, "SCOPE_KEY_MIN_ROWS", 0)
    add(project, "Keeps a pet axolotl called Wooper", user_id="o'brien-ü")
    add(project, "Grows tomatoes on the balcony", user_id="o'brien-ü")
    add(project, "Also keeps an axolotl", user_id="someone-else")
    add(other_project, "Axolotl breeder since 2019", user_id="o'brien-ü")

    results = memory_search(
        project=project, query="axolotl", scope=Scope(user_id="o'brien-ü"), threshold=0, explain=True
    )

    found = {m.memory: m.score_breakdown["keyword"] for m in results}
    assert set(found) == {"Keeps a pet axolotl called Wooper", "Grows tomatoes on the balcony"}
    assert found["Keeps a pet axolotl called Wooper"] == 1.0
    assert found["Grows tomatoes on the balcony"] == 0.0


@pytest.mark.parametrize("size_known", [True, False])
def test_a_small_scopes_words_are_checked_row_by_row_not_through_the_gin_index(project, add, size_known):
    """The exact path's keyword side reads a small scope's rows through the scope's own index and
    checks each: PostgreSQL, free to choose, may AND them with the GIN index's rows of each word, which
    for a common word are tens of thousands at scale (9 ms a word for a user of 12 memories at a
    million). Bitmap scans only and row checks made dear, so that such a plan is on offer; the
    statement must not take it.
    ``size_known``: the scope's size cached, or counted by the statement itself (its first search)."""
    from django.core.cache import cache
    from django.test.utils import CaptureQueriesContext

    add(project, "Drinks coffee every morning", "Works as a nurse", "Likes coffee with oat milk", user_id="alice")
    cache.clear()
    if size_known:
        memory_search(project=project, query="warm up", scope=Scope(user_id="alice"), top_k=3)
    with CaptureQueriesContext(connection) as context:
        found = memory_search(project=project, query="where does alice buy coffee", scope=Scope(user_id="alice"))
    assert {m.memory for m in found} >= {"Drinks coffee every morning", "Likes coffee with oat milk"}
    sql, *_ = [q["sql"] for q in context.captured_queries if q["sql"] and "terms AS" in q["sql"]]
    with connection.cursor() as cursor:
        # Checking a row made dear: an index that can check a word for the planner looks cheap.
        cursor.execute("SET LOCAL enable_seqscan = off; SET LOCAL enable_indexscan = off")
        cursor.execute("SET LOCAL cpu_operator_cost = 10")
        cursor.execute("EXPLAIN " + sql)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("RESET enable_seqscan; RESET enable_indexscan; RESET cpu_operator_cost")
    assert "memory_scope_terms" not in plan and "memory_search_vector_gin" not in plan, plan
    # What keeps it from that plan whatever the statistics say (this small database's cannot make the
    # GIN index look cheap): the word is checked on each row, a condition no index can serve; in a
    # first search, on each row the statement counted (scope_pool), not on the table again.
    if size_known:
        assert "search_vector @@ terms.q) IS TRUE" in sql
    else:
        assert "FROM scope_pool WHERE search_vector @@ terms.q" in sql


@pytest.mark.parametrize("exact_max, counted", [(100, False), (3, True)])
def test_a_first_search_counts_the_sides_of_a_larger_scope_only(project, add, settings, exact_max, counted):
    """The statement that counts a scope says what a walk needs to know (the rows it read naming a
    canonical or not) for a scope over the exact path's limit only: a small scope's first search,
    the common case, does not count them."""
    from django.core.cache import cache
    from django.test.utils import CaptureQueriesContext

    settings.SEARCH_EXACT_MAX_ROWS = exact_max
    add(project, "Drinks coffee every morning", "Works as a nurse", "Likes oat milk", "Owns a cat", user_id="alice")
    cache.clear()
    with CaptureQueriesContext(connection) as context:
        memory_search(project=project, query="where does alice buy coffee", scope=Scope(user_id="alice"))
    [sql] = [q["sql"] for q in context.captured_queries if "scope_size AS" in q["sql"]]
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) " + sql)
        plan = [row[0] for row in cursor.fetchall()]
    at = next(i for i, line in enumerate(plan) if line.strip() == "CTE scope_sides")
    assert ("never executed" not in plan[at + 1]) == counted, "\n".join(plan)
