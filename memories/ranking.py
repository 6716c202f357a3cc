"""The search engine's rankings: the vector side (HNSW walk or exact scan), the full-text side,
both in one statement for small scopes, and their fusion into one score. Used by ``memories.search``
for memories and for the messages they came from (any model with ``embedding`` and ``search_vector``).
"""

import contextlib
import functools
import re
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.postgres.search import SearchVectorField
from django.db import connection, connections, router, transaction
from django.db.models import BooleanField, Exists, ExpressionWrapper, FloatField, OuterRef, UUIDField, Value
from django.db.models.expressions import RawSQL
from django.db.models.sql import Query
from pgvector.django import CosineDistance

from memories.models import Memory
from memories.vectors import vector_text

SEARCH_FUSIONS = ("linear", "rrf", "boost")
# How much a full keyword match moves the semantic score toward 1 (the "boost" fusion).
KEYWORD_WEIGHT = 0.5
RRF_K = 60
# A query term is looked up in at most this many rows: a word found in more is common anyway,
# and its (small) weight is computed from this capped count.
KEYWORD_TERM_ROWS_MAX = 5000
# In a scope too large for the exact path (whose size is then only known to be over it), a word
# found in this many of its rows is common: it weighs nothing, and its rows are not read further.
# Each row a word is found in is a heap page read (a heavy user's rows are spread over the whole
# table), and the weight such a word had (its count floored to the exact path's limit) was small
# (at most ln 4 against 4 to 8 for a rare word) or, from the limit up, nil. docs/BENCHMARKS.md,
# session 9.
KEYWORD_COMMON_ROWS = 500
STOPWORDS = frozenset(
    "a an and are as at be by did do does for from had has have he her his how i in is it its me my of on or "
    "our she so that the their them they this to was we were what when where which who why will with you your".split()
)
WORD = re.compile(r"\w+")
# The scope fields the scope-keyed full-text index (memories migration 0013) has terms for, and the
# letter each one's terms start from.
SCOPE_TERM_KINDS = {"user_id": "u", "agent_id": "a", "app_id": "p", "run_id": "r"}


@dataclass(frozen=True)
class ScopeKey:
    """One scope id a search is within (``field``: user_id, agent_id, app_id or run_id): the keyword
    side then finds a word's rows in that scope through the scope-keyed index (memories migration
    0013), which holds them under one key, instead of reading the word's rows in every scope."""

    project_id: Any
    field: str
    value: str

    def prefix_sql(self) -> tuple[str, list]:
        """What ``memory_scope_terms`` hashes before a lexeme for this scope id (migration 0013), as
        SQL made from the project id and the scope id as they are: a statement built once per shape
        (``mem0g_site.prepared.PreparedStatement``) puts each call's values in their places, which
        it cannot do for a text made from them in Python."""
        return "(%s || %s::uuid::text || chr(31) || %s || chr(31))", [
            SCOPE_TERM_KINDS[self.field],
            self.project_id,
            self.value,
        ]

    def condition(self, model=Memory) -> RawSQL:
        """The project and this scope id as a condition that no B-tree index serves. The keyword
        side's candidates are narrowed by it instead of the plain filters: given an index on
        ``user_id``, PostgreSQL would AND the user's whole range (100,000 rows for a heavy user) with
        each word's few hundred, for every word of the query. (The ids go as they are, for the
        reason :meth:`prefix_sql` gives.)"""
        table = model._meta.db_table
        return RawSQL(
            f"({table}.project_id::text || '') = %s::uuid::text AND ({table}.{self.field}::text || '') = %s",
            [self.project_id, self.value],
            output_field=BooleanField(),
        )


def cosine_distance(vector_literal: str) -> CosineDistance:
    return CosineDistance("embedding", Value(vector_literal))


def vector_ranking(
    candidates, vector, limit: int, *, exact: bool, walk: tuple[str, list] | None = None, literal: str | None = None
) -> list[Memory]:
    """The ``limit`` candidates (a queryset, or a function that builds it) nearest to ``vector``,
    nearest first, each with ``distance``.

    Filtered vector search must return the full top-k. A plain HNSW scan visits the ~40 nearest
    rows of the whole table and filters afterwards, so a user owning 1% of the rows can get fewer
    results, or none. Small candidate sets (up to ``SEARCH_EXACT_MAX_ROWS``) are therefore scored
    exactly through the B-tree scope indexes; larger ones use the HNSW index with pgvector's
    iterative scan, which keeps walking the graph until the filtered LIMIT is met, and fall back
    to the exact scan in the rare case the graph walk comes back short.

    memory_embedding_hnsw holds one entry per distinct vector of a project (``Memory.vector_memory``),
    so a fact repeated word for word by thousands of users is not a clump of equal vectors in the
    graph, which a walk that enters cannot leave: the walk goes over the canonical memories (see
    :func:`walked_canonicals_sql`; ``walk``: that statement for these candidates, built already).
    (Messages: :func:`shared_vector_ranking`.) ``literal``: ``vector``'s :func:`vector_text`, if the
    caller has it.
    """
    literal = literal or vector_text(vector)
    distance = cosine_distance(literal)
    # The database this read goes to (the replica, when the view reads there): the SET LOCALs and
    # the query must share its connection and transaction.
    alias = router.db_for_read(Memory)

    def scope():  # built only when read: a walk given its statement that comes back full does not
        return (candidates() if callable(candidates) else candidates).using(alias)

    if not exact:
        sql, params = walk if walk is not None else walked_canonicals_sql(scope(), literal, limit)
        if connections[alias].in_atomic_block:
            with _walking(alias, limit):
                rows = _rows_as_models(sql, params, ("distance",))
        else:  # the settings and the walk in one message, one round trip (see _walk_settings)
            walk_settings = _walk_settings(limit)
            rows = _rows_as_models(walk_settings + sql, params, ("distance",), after=walk_settings.count(";"))
        exact = len(rows) < limit and _came_back_short(rows, scope(), limit)
    if exact:
        rows = list(_scored(scope(), distance, limit))
    return rows


class _ProbedExists(Exists):
    """An EXISTS that PostgreSQL probes for each outer row. In an OR, a plain one may be planned as
    a hashed ``IN`` over every row of the subquery (all of a heavy user's repeats, read before the
    walk's first step); a subquery with an OFFSET is never turned into one."""

    template = "EXISTS(%(subquery)s OFFSET 0)"


def walked_canonicals_sql(candidates, literal: str, limit: int) -> tuple[str, list]:
    """The statement (and its parameters) of the nearest ``limit`` of the memory ``candidates`` to the
    vector ``literal`` (its :func:`vector_text`), each with ``distance``, by one walk of
    memory_embedding_hnsw, whose entries are the canonical memories (``vector_memory`` NULL): the
    nearest ``limit`` canonicals
    that are candidates themselves or that some candidate names, then those candidates and the ones
    naming them, each scored with its own vector (equal to its canonical's). The nearest ``limit``
    candidates are among them: each canonical walked brings at least one candidate at its distance.
    One walk over what both kinds of candidates reach (a user's own canonicals and the canonicals
    their repeats name), not one walk each: a user's repeats name few of a project's canonicals, and
    a walk over so few alone runs long. One statement: the walk is a CTE, then the candidates it
    found by id and by the canonical they name (each through its index), in one ordered UNION."""
    distance = cosine_distance(literal)
    # Reached: the canonical is a candidate itself (the candidates' conditions, read off the row the
    # walk is at), or some candidate names it (probed per canonical walked, through
    # memory_vector_memory_user; kept from becoming a hashed IN, see _ProbedExists).
    naming = _ProbedExists(candidates.filter(vector_memory=OuterRef("pk")))
    names_it = Memory.objects.using(candidates.db).filter(naming)
    canonical = (candidates | names_it).filter(vector_memory__isnull=True)
    walk_sql, walk_params = canonical.order_by(distance).values("pk")[:limit].query.sql_with_params()
    walked = RawSQL("SELECT walked.id FROM walked", [])
    found = [
        candidates.filter(**{lookup: walked}).annotate(distance=distance).order_by().values("pk", "distance")
        for lookup in ("pk__in", "vector_memory__in")
    ]
    nearest = found[0].union(found[1], all=True).order_by("distance", "pk")[:limit]
    rows_sql, rows_params = nearest.query.sql_with_params()
    sql = f"""
        WITH walked(id) AS MATERIALIZED ({walk_sql})
        SELECT {model_columns()}, r.distance FROM ({rows_sql}) AS r(id, distance)
        JOIN memories_memory m ON m.id = r.id ORDER BY r.distance, r.id
    """
    return sql, [*walk_params, *rows_params]


def shared_vector_ranking(candidates, vector, limit: int, *, field: str, walk: tuple[bool, bool]) -> list:
    """:func:`vector_ranking`'s HNSW path for candidates some of which share a memory's vector: ``field``
    names that memory (``MemorySource.vector_memory``, ``Memory.vector_memory``: a canonical memory,
    whose embedding equals the row's own). The rows sharing none are in their model's HNSW index, a
    partial one (``field`` NULL); the rows sharing one are not, and are found through the canonical
    memories' index: the nearest canonicals some candidate names, then the candidates naming them,
    each scored with its own vector. The nearest ``limit`` of both sides, ties by id, as the exact
    scan ranks them.

    ``walk``: whether to walk each side (those sharing none, those sharing one), or score it exactly
    (a side with few rows in the scope, :func:`shared_sizes`: a filtered walk that cannot fill its
    LIMIT runs on to ``hnsw.max_scan_tuples``). Both sides go in one statement; a walked side that
    came back short while the scope holds more of its rows is scored exactly after all."""
    distance = cosine_distance(vector_text(vector))
    alias = router.db_for_read(Memory)
    candidates = candidates.using(alias)
    sides = (candidates.filter(**{f"{field}__isnull": True}), candidates.filter(**{f"{field}__isnull": False}))
    walkers = (_walked, functools.partial(_walked_through_memories, field=field))
    ranked = [
        walker(side, distance, limit) if walked else _scored(side, distance, limit)
        for side, walker, walked in zip(sides, walkers, walk, strict=True)
    ]
    with _walking(alias, limit) if any(walk) else contextlib.nullcontext():
        rows = list(ranked[0].union(ranked[1], all=True))
    attname = candidates.model._meta.get_field(field).attname
    found = tuple([row for row in rows if (getattr(row, attname) is None) == own] for own in (True, False))
    for side, walked, side_rows in zip(sides, walk, found, strict=True):
        if walked and _came_back_short(side_rows, side, limit):
            side_rows[:] = _scored(side, distance, limit)
    return sorted(found[0] + found[1], key=lambda row: (row.distance, row.pk))[:limit]


def shared_sizes(candidates, field: str, up_to: int, *, named: bool = False) -> tuple[int, int]:
    """How many candidates share no memory's vector (``field`` NULL) and how many share one, each
    counted up to ``up_to``: one statement, which reads at most ``up_to`` rows of each side (through
    the scope's B-tree index, or ``field``'s for a side the table holds few of).

    ``named``: the second side counted by the distinct memories its rows name instead, the entries a
    walk through the memories' index walks over (:func:`walked_canonicals_sql`): a user's thousands
    of repeated facts may name a few hundred canonicals among a project's hundred thousand, and a
    walk over so few runs long (it read 1,351 canonicals to find 10 for a user of 2,055 such rows,
    80 ms, where scoring those rows took 6). Counting them reads all of the side's rows, so they
    are counted only when the first side holds fewer than ``up_to`` (else 0: not counted)."""
    sides = [candidates.filter(**{f"{field}__isnull": shares}).order_by() for shares in (True, False)]
    sides[0] = sides[0].values("pk")
    sides[1] = sides[1].values(field).distinct() if named else sides[1].values("pk")
    (own_sql, own_params), (shared_sql, shared_params) = [side[:up_to].query.sql_with_params() for side in sides]
    shared_count = f"(SELECT count(*) FROM ({shared_sql}) AS side)"
    if named:
        shared_count = f"CASE WHEN sizes.own < {int(up_to)} THEN {shared_count} ELSE 0 END"
    # OFFSET 0 keeps the subquery whole: pulled up, its count would run once for each mention of own.
    own_count = f"(SELECT count(*) FROM ({own_sql}) AS side)"
    sql = f"SELECT own, {shared_count} FROM (SELECT {own_count} AS own OFFSET 0) AS sizes"
    with connections[candidates.db].cursor() as cursor:
        cursor.execute(sql, [*own_params, *shared_params])
        own, shared = cursor.fetchone()
    return own, shared


def _walk_settings(limit: int) -> str:
    """The two statements that make the HNSW scans after them iterative (strict order: they keep
    walking the graph until a filtered LIMIT is met) and look at ``ef_search`` candidates a step.

    Sent outside a transaction in one message with the walk after them (PostgreSQL's simple query
    protocol runs such a message as one implicit transaction, whose end undoes a ``SET LOCAL``),
    they cost no round trip of their own; a ``BEGIN``, the settings and a ``COMMIT`` around the walk
    cost three (about 0.6 ms of a 13 ms search)."""
    ef_search = min(1000, max(settings.SEARCH_HNSW_EF_SEARCH, 2 * limit))
    return f"SET LOCAL hnsw.iterative_scan = strict_order; SET LOCAL hnsw.ef_search = {ef_search}; "


@contextlib.contextmanager
def _walking(alias: str, limit: int):
    """A transaction (or a savepoint) on ``alias`` whose HNSW scans follow :func:`_walk_settings`."""
    with transaction.atomic(using=alias), connections[alias].cursor() as cursor:
        cursor.execute(_walk_settings(limit))
        yield


def _walked(candidates, distance: CosineDistance, limit: int):
    """The nearest ``limit`` candidates by an ordered scan their HNSW index can serve."""
    return candidates.annotate(distance=distance).order_by("distance")[:limit]


def _walked_through_memories(candidates, distance: CosineDistance, limit: int, *, field: str):
    """The nearest ``limit`` candidates that share a memory's vector (``field``), found by walking
    the memories' HNSW index (the nearest canonical memories some candidate names), each scored with
    its own vector. Only canonicals are named (``Memory.vector_memory``), and the walk says so: the
    index is partial, and PostgreSQL uses it only for a statement carrying its condition."""
    named = candidates.filter(**{field: OuterRef("pk")})
    memories = Memory.objects.filter(vector_memory__isnull=True).filter(Exists(named))
    memories = memories.order_by(distance).values("pk")[:limit]
    # A few rows by id, which no HNSW index of theirs holds: a plain sort by distance (one vector
    # literal fewer in the statement than _scored's).
    found = candidates.filter(**{f"{field}__in": memories}).annotate(distance=distance)
    return found.order_by("distance", "id")[:limit]


def _scored(candidates, distance: CosineDistance, limit: int):
    """The nearest ``limit`` candidates, every one scored: "+ 0" makes the sort key an expression no
    HNSW index serves, so PostgreSQL scores each row the rest of the query finds (through a scope's
    B-tree index, or a few ids). Exact; cheap for small scopes. Ties by id."""
    ordering = ExpressionWrapper(distance + Value(0.0), output_field=FloatField())
    return candidates.annotate(distance=distance).order_by(ordering, "id")[:limit]


def _came_back_short(rows: list, candidates, limit: int) -> bool:
    """Whether a walk's ``rows`` are fewer than ``limit`` while the candidates hold more. An HNSW graph
    can leave some rows unreachable (many near-identical vectors make poorly connected regions), and
    the iterative scan stops at hnsw.max_scan_tuples: then the exact scan answers instead."""
    return len(rows) < limit and candidates[: len(rows) + 1].count() > len(rows)


def keyword_ranking(
    candidates,
    query: str,
    vector,
    limit: int,
    scope_rows: int,
    also: list,
    *,
    model=Memory,
    scope_key: ScopeKey | None = None,
    common_from: int | None = None,
    known_common: str = "",
) -> list[Memory]:
    """The ``limit`` candidates sharing the most query-term weight with ``query``, best first, and
    those of ``also`` (ids) that share any, each with ``keyword`` in [0, 1], ``keyword_rank`` and
    ``distance`` to ``vector``. One statement.

    The query's words are reduced to lexemes by PostgreSQL's ``english`` configuration (the one
    the generated ``search_vector`` column uses), so "prefers" finds "preferences". Each lexeme
    weighs its inverse document frequency within the candidates (a word most memories share
    counts for little; a product code or a surname for a lot); a memory scores the weight of the
    lexemes it contains over the weight of all the query's lexemes found in the scope.

    ``scope_key``: the candidates are within that scope id, and narrowed by ``scope_key.condition()``
    rather than by indexed filters on the project and that field (memories only). ``common_from`` and
    ``known_common``: see :func:`keyword_scored_sql`.
    """
    table = model._meta.db_table
    scored_sql, scored_params = keyword_scored_sql(
        candidates,
        query,
        scope_rows,
        model=model,
        scope_key=scope_key,
        common_from=common_from,
        known_common=known_common,
    )
    sql = f"""
        WITH {scored_sql}
        SELECT {model_columns(model)}, scored.keyword, scored.keyword_rank, m.embedding <=> %s::vector AS distance
        FROM scored JOIN {table} m ON m.id = scored.id
        WHERE scored.keyword_rank <= %s OR scored.id = ANY(%s::uuid[])
        ORDER BY scored.keyword_rank
    """
    params = [*scored_params, vector_text(vector), limit, [str(pk) for pk in also]]
    return _rows_as_models(sql, params, ("keyword", "keyword_rank", "distance"), model=model)


@functools.cache
def model_columns(model=Memory) -> str:
    return ", ".join(f"m.{connection.ops.quote_name(f.column)}" for f in _columns_read(model))


def _columns_read(model=Memory) -> list:
    """The fields a search reads (``model_columns``): every concrete field but the embedding."""
    return [f for f in model._meta.concrete_fields if f.name != "embedding"]


@functools.cache
def _converters(model, alias: str) -> list:
    """``(index, converters, column)`` for the columns of ``model_columns(model)`` whose values
    Django converts after reading them (a JSON field's text, say), as a queryset would."""
    table = model._meta.db_table
    columns = [field.get_col(table) for field in _columns_read(model)]
    found = Query(model).get_compiler(using=alias).get_converters(columns)
    return [(index, functions, column) for index, (functions, column) in sorted(found.items())]


def _rows_as_models(sql: str, params: list, extras: tuple[str, ...], model=Memory, *, after: int = 0) -> list:
    """The rows of ``sql`` (``model_columns(model)``, then the ``extras``) as ``model`` instances
    (embedding deferred) with each extra as an attribute: what ``model.objects.raw`` makes, without
    reading the cursor's column descriptions and resolving the model's columns again on every call.
    ``after``: ``sql`` is that many statements that return no rows, then the query."""
    alias = router.db_for_read(model)
    connection_ = connections[alias]
    with connection_.cursor() as cursor:
        cursor.execute(sql, params)
        for _ in range(after):
            cursor.nextset()
        rows = cursor.fetchall()
    attnames = [field.attname for field in _columns_read(model)]
    width = len(attnames)
    converters = _converters(model, alias)
    found = []
    for row in rows:
        values = list(row[:width])
        for index, functions, column in converters:
            for function in functions:
                values[index] = function(values[index], column, connection_)
        instance = model.from_db(alias, attnames, values)
        for name, value in zip(extras, row[width:], strict=True):
            setattr(instance, name, value)
        found.append(instance)
    return found


def keyword_scored_sql(
    candidates,
    query: str,
    scope_rows: int | None,
    *,
    model=Memory,
    scope_key: ScopeKey | None = None,
    counted_up_to: int | None = None,
    common_from: int | None = None,
    row_checks: bool = False,
    known_common: str = "",
) -> tuple[str, list]:
    """The CTEs ``terms``, ``hits``, ``weights`` and ``scored`` (``id``, ``keyword``, ``keyword_rank``)
    of the keyword side (see :func:`keyword_ranking`), without the leading ``WITH``.

    ``common_from``: a term found in that many of the candidates is common: it weighs 0 and is
    looked up in no more rows (a large scope, see ``KEYWORD_COMMON_ROWS``); a memory holding only
    common terms is not on the keyword side, which finds nothing when every term is common.
    ``weights.common`` then says which terms were, and the terms of ``known_common``
    (:func:`lexemes_text`: found common in these candidates before) are not looked up at all: they
    would weigh 0, so every score, rank and row is the same without them.

    ``scope_rows`` None: the scope's size is the CTE ``scope_size`` (``n``) of the statement, which
    counted it up to ``counted_up_to + 1``; the side finds nothing when the scope is larger. The
    terms are then looked up in the rows the statement counted (the CTE ``scope_pool``, which holds
    every candidate and its ``search_vector`` when the scope is not larger), not in the table again:
    without a key, each term would read all of the scope's rows once more.

    A term's rows come from the scope-keyed index when there is a ``scope_key`` (each is then checked
    against ``search_vector`` too, so a hash collision finds nothing), else from ``search_vector``'s,
    unless ``row_checks`` (the exact path's statements: a scope of at most ``SEARCH_EXACT_MAX_ROWS``
    rows, and without a key at most ``SCOPE_KEY_MIN_ROWS`` when it names a user, agent, app or run;
    one that counts its scope finds no term in a large one): each of the scope's rows is checked,
    through the scope's own index. Left to choose, PostgreSQL
    can AND the scope's few rows with the GIN index's rows of the term (it cannot know how many a
    term not yet known has), and a common word is tens of thousands of them: 9 ms a word for a
    user of 12 memories, at a million."""
    table = model._meta.db_table
    matches = f"{table}.search_vector @@ terms.q"
    if scope_key is None and row_checks:
        matches = f"({matches}) IS TRUE"  # a check of each row the scope's index finds, not an index
    if scope_key is not None:
        # "IS TRUE": a check of each row found, not a second index to AND with the first.
        matches = (
            f"memory_scope_terms({table}.project_id, {table}.user_id, {table}.agent_id, {table}.app_id, "
            f"{table}.run_id, {table}.search_vector) @@ terms.scoped AND ({matches}) IS TRUE"
        )
    per_term = KEYWORD_TERM_ROWS_MAX if common_from is None else int(common_from)
    rows, rows_params, gate, gate_params = "%s", [scope_rows], "", []
    if scope_rows is None:
        rows, rows_params = "(SELECT n FROM scope_size)", []
        gate = f"WHERE (SELECT n FROM scope_size) <= {int(counted_up_to)}"
        hits_sql, hits_params = f"SELECT id FROM scope_pool WHERE search_vector @@ terms.q LIMIT {per_term}", []
    else:
        hits = candidates.filter(RawSQL(matches, [], output_field=BooleanField())).values("id")[:per_term]
        hits_sql, hits_params = hits.query.sql_with_params()
    idf = f"ln(1 + (greatest({rows}, count(*)) - count(*) + 0.5) / (count(*) + 0.5))"
    having, common = "", ""
    if common_from is not None:
        idf = f"CASE WHEN count(*) >= {per_term} THEN 0.0 ELSE {idf} END"
        having = "HAVING sum(weights.idf) > 0"
        common = f", count(*) >= {per_term} AS common"
        gate += f" {'AND' if gate else 'WHERE'} lexeme <> ALL(string_to_array(%s, chr(31)))"
        gate_params = [known_common]
    prefix, prefix_params = scope_key.prefix_sql() if scope_key else ("%s", [""])
    sql = f"""
        terms AS (
            SELECT DISTINCT lexeme, plainto_tsquery('simple', lexeme) AS q,
                   left(md5({prefix} || lexeme), 16)::tsquery AS scoped
            FROM unnest(to_tsvector('english'::regconfig, %s)) AS t {gate}
        ),
        hits AS MATERIALIZED (
            SELECT terms.lexeme, hit.id FROM terms CROSS JOIN LATERAL ({hits_sql}) AS hit
        ),
        weights AS (
            SELECT lexeme, {idf} AS idf{common} FROM hits GROUP BY lexeme
        ),
        scored AS (
            SELECT hits.id, sum(weights.idf) / (SELECT sum(idf) FROM weights) AS keyword,
                   row_number() OVER (ORDER BY sum(weights.idf) DESC, hits.id) AS keyword_rank
            FROM hits JOIN weights USING (lexeme)
            GROUP BY hits.id {having}
        )
    """
    return sql, [*prefix_params, query, *gate_params, *hits_params, *rows_params]


def lexemes_text(lexemes) -> str:
    """Lexemes as the one text :func:`keyword_scored_sql`'s ``known_common`` is, joined by the unit
    separator (a lexeme holding one would only be looked up again: skipping a term never changes a
    score)."""
    return "\x1f".join(lexemes)


def hybrid_exact_sql(
    candidates,
    query: str,
    literal: str,
    semantic_limit: int,
    keyword_limit: int,
    scope_rows: int | None,
    *,
    best: tuple[int, float | None] | None = None,
    keyword_candidates=None,
    scope_key: ScopeKey | None = None,
    count_up_to: int | None = None,
) -> tuple[str, list]:
    """What :func:`vector_ranking` (exact) and then :func:`keyword_ranking` return, as one statement
    for :func:`hybrid_rows` to run (``literal``: the query vector's :func:`vector_text`): the semantic
    top ``semantic_limit`` (every candidate scored, nearest first) and the keyword side's top
    ``keyword_limit`` plus the semantic rows sharing a query word. A memory on both sides is one
    object, in both lists (``keyword_found`` holds its keyword score). The third value says whether
    the keyword side found anything at all (``fuse``'s ``active``).

    ``best=(top_k, threshold)``: only the rows the default (linear) fusion would rank in the first
    ``top_k`` at or above ``threshold`` are fetched, in the order :func:`fuse` and the search sort
    them (score, then similarity, then id): the statement builds ``top_k`` memories, not up to
    ``semantic_limit + keyword_limit``. For searches whose scores nothing else changes.

    ``keyword_candidates`` and ``scope_key``: as :func:`keyword_ranking`'s, for the keyword side
    (the same rows as ``candidates``).

    ``scope_rows`` None: the statement counts the candidates itself, up to ``count_up_to + 1``
    (the exact path's limit), while it scores them (the CTE ``scope_pool``, each candidate with its
    distance), and returns the count (see :func:`hybrid_rows_counted`): a search of a scope whose size
    is not known yet costs one statement, not a count first. A larger scope finds nothing (the caller
    walks the HNSW index instead); which of its rows were scored is then arbitrary, and unused, but
    the statement says how many of them name no canonical memory and how many canonicals the others
    name (``shared_sizes``' two sides, ``named``, among the rows it read)."""
    distance = cosine_distance(literal)
    words_in = candidates if keyword_candidates is None else keyword_candidates
    counted = {}
    if scope_rows is None:
        # Each candidate's words too: the keyword side looks its terms up here (keyword_scored_sql).
        table = Memory._meta.db_table
        words = RawSQL(f"{table}.search_vector", [], output_field=SearchVectorField())
        canonical = RawSQL(f"{table}.vector_memory_id", [], output_field=UUIDField())
        pool = candidates.annotate(distance=distance, search_vector=words, canonical=canonical)
        pool = pool.values("id", "distance", "search_vector", "canonical")[: count_up_to + 1]
        pool_sql, pool_params = pool.query.sql_with_params()
        counted = {"pool": (pool_sql, list(pool_params)), "counted_up_to": count_up_to}
        # The same order as the exact scan below: distance (float8), then id.
        nearest = (f"SELECT id FROM scope_pool ORDER BY distance, id LIMIT {int(semantic_limit)}", [])
    else:
        ordering = ExpressionWrapper(distance + Value(0.0), output_field=FloatField())
        exact = candidates.annotate(distance=distance).order_by(ordering, "id").values("id")[:semantic_limit]
        nearest_sql, nearest_params = exact.query.sql_with_params()
        nearest = (nearest_sql, list(nearest_params))
    # row_checks: the exact path, a scope of at most SEARCH_EXACT_MAX_ROWS rows (one the statement
    # counts finds no term when it is larger: keyword_scored_sql's gate).
    return _hybrid_sql(
        nearest, words_in, query, literal, keyword_limit, scope_rows, best, scope_key, row_checks=True, **counted
    )


def hybrid_around_sql(
    semantic_ids: str,
    candidates,
    query: str,
    literal: str,
    keyword_limit: int,
    scope_rows: int,
    *,
    best: tuple[int, float | None],
    scope_key: ScopeKey | None = None,
    common_from: int | None = None,
    known_common: str = "",
) -> tuple[str, list]:
    """:func:`hybrid_exact_sql`'s statement around the rows a vector ranking already found (the HNSW
    walk of a large scope; ``semantic_ids``: their ids as one array literal, :func:`ids_literal`),
    for :func:`hybrid_rows`: the keyword side over ``candidates`` (as :func:`keyword_ranking`'s) and
    the linear fusion's ``best`` rows, in one statement that builds ``top_k`` memories instead of the
    keyword side's whole pool. ``literal``: the query vector's :func:`vector_text`. The ids are one
    text parameter, so that the statement can be built once per shape (``PreparedStatement``).

    With ``common_from`` (and ``known_common``, see :func:`keyword_scored_sql`) the statement also
    says which of the query's terms it found common, for :func:`hybrid_rows_common`."""
    ids = ("SELECT unnest(%s::uuid[]) AS id", [semantic_ids])
    return _hybrid_sql(
        ids,
        candidates,
        query,
        literal,
        keyword_limit,
        scope_rows,
        best,
        scope_key,
        common_from=common_from,
        known_common=known_common,
    )


def ids_literal(rows) -> str:
    """The primary keys of ``rows`` as a PostgreSQL array literal (UUIDs need no quoting)."""
    return "{" + ",".join(str(row.pk) for row in rows) + "}"


def _hybrid_sql(
    semantic,
    words_in,
    query,
    literal,
    keyword_limit,
    scope_rows,
    best,
    scope_key,
    *,
    pool=None,
    counted_up_to=None,
    common_from=None,
    known_common="",
    row_checks=False,
) -> tuple[str, list]:
    """The statement of :func:`hybrid_exact_sql` and :func:`hybrid_around_sql`:
    ``semantic`` is the SQL (and its parameters) of the semantic side's ids. ``pool``: the SQL of
    the counted candidates (see :func:`hybrid_exact_sql`), whose count every row then carries; with
    ``common_from``, every row carries the terms found common instead."""
    semantic_sql, semantic_params = semantic
    scored_sql, scored_params = keyword_scored_sql(
        words_in,
        query,
        scope_rows,
        scope_key=scope_key,
        counted_up_to=counted_up_to,
        common_from=common_from,
        row_checks=row_checks,
        known_common=known_common,
    )
    head, head_params = "", []
    if pool is not None:
        head = f"""scope_pool AS MATERIALIZED ({pool[0]}), scope_size AS (SELECT count(*) AS n FROM scope_pool),
            scope_sides AS (
                SELECT count(*) FILTER (WHERE canonical IS NULL) AS own, count(DISTINCT canonical) AS named
                FROM scope_pool
            ),"""
        head_params = pool[1]
    sql = f"""
        WITH {head} semantic AS MATERIALIZED ({semantic_sql}),
        {scored_sql},
        picked AS (
            SELECT coalesce(semantic.id, scored.id) AS id, semantic.id IS NOT NULL AS in_semantic,
                   scored.keyword AS keyword_found, scored.keyword_rank
            FROM semantic FULL JOIN scored ON scored.id = semantic.id
            WHERE semantic.id IS NOT NULL OR scored.keyword_rank <= %s
        ),
        ranked AS (
            SELECT picked.*, m.embedding <=> %s::vector AS distance, EXISTS (SELECT FROM scored) AS keyword_active
            FROM picked JOIN memories_memory m ON m.id = picked.id
        )
    """
    params = [*head_params, *semantic_params, *scored_params, keyword_limit, literal]
    if best is None:
        sql += ", chosen AS (SELECT * FROM ranked)"
    else:
        # fuse()'s linear score and the search's sort, in SQL (the same float8 arithmetic).
        top_k, threshold = best
        semantic_score = "greatest(0.0, least(1.0, 1.0 - ranked.distance))"
        fused = f"""least(1.0, greatest(0.0, CASE WHEN ranked.keyword_active
            THEN ({semantic_score} + coalesce(ranked.keyword_found, 0.0)) / 2 ELSE {semantic_score} END))"""
        sql += f""", chosen AS (
            SELECT * FROM ranked WHERE %s::float8 IS NULL OR {semantic_score} >= %s::float8
            ORDER BY {fused} DESC, {semantic_score} DESC, ranked.id LIMIT %s
        )"""
        params += [threshold, threshold, top_k]
    sql += f" SELECT {model_columns()}, chosen.in_semantic, chosen.keyword_found, chosen.keyword_rank, "
    carried = None  # what every row carries, in one row at least (when nothing is chosen)
    if pool is not None:
        # The sides only for a larger scope (the CASE leaves their subqueries unrun for the others).
        larger = f"CASE WHEN scope_size.n > {int(counted_up_to)} THEN (SELECT {{}} FROM scope_sides) END"
        carried = f"ARRAY[scope_size.n, {larger.format('own')}, {larger.format('named')}]", "scope_size"
    elif common_from is not None:
        carried = "carried.common", "(SELECT array(SELECT lexeme FROM weights WHERE common) AS common) AS carried"
    if carried is None:
        sql += "chosen.distance, chosen.keyword_active FROM chosen JOIN memories_memory m USING (id)"
    else:
        sql += f"chosen.distance, chosen.keyword_active, {carried[0]} FROM {carried[1]} "
        sql += "LEFT JOIN chosen ON true LEFT JOIN memories_memory m ON m.id = chosen.id"
    return sql, params


HYBRID_EXTRAS = ("in_semantic", "keyword_found", "keyword_rank", "distance", "keyword_active")


def hybrid_rows(sql: str, params: list) -> tuple[list[Memory], list[Memory], bool]:
    """Runs a statement of :func:`hybrid_exact_sql` (or :func:`hybrid_around_sql`): the
    semantic side, the keyword side and whether the keyword side found anything (see
    :func:`hybrid_exact_sql`)."""
    return _hybrid_sides(_rows_as_models(sql, params, HYBRID_EXTRAS))


def hybrid_rows_counted(sql: str, params: list) -> tuple[list[Memory], list[Memory], bool, int, tuple | None]:
    """:func:`hybrid_rows` for a statement that counted its candidates (``scope_rows`` None in
    :func:`hybrid_exact_sql`), that count, and for a scope over the count's limit the two sides of
    the rows it read (``(own, named)``, see :func:`shared_sizes`), else None."""
    *found, (count, own, named) = _hybrid_rows_carrying(sql, params)
    return (*found, int(count), None if own is None else (int(own), int(named)))


def hybrid_rows_common(sql: str, params: list) -> tuple[list[Memory], list[Memory], bool, list[str]]:
    """:func:`hybrid_rows` for a statement around a walk with ``common_from`` (see
    :func:`hybrid_around_sql`), and the query's terms it found common."""
    return _hybrid_rows_carrying(sql, params)


def _hybrid_rows_carrying(sql: str, params: list) -> tuple:
    rows = _rows_as_models(sql, params, (*HYBRID_EXTRAS, "carried"))
    carried = rows[0].carried  # every row carries it, and there is one at least
    return (*_hybrid_sides([row for row in rows if row.pk is not None]), carried)


def _hybrid_sides(rows: list[Memory]) -> tuple[list[Memory], list[Memory], bool]:
    semantic = sorted((m for m in rows if m.in_semantic), key=lambda m: (m.distance, str(m.pk)))
    keyword = sorted((m for m in rows if m.keyword_rank is not None), key=lambda m: m.keyword_rank)
    active = bool(rows) and bool(rows[0].keyword_active)
    return semantic, keyword, active


def word_pairs(text: str) -> set[tuple[str, str]]:
    words = WORD.findall(text.lower())
    return {pair for pair in zip(words, words[1:], strict=False) if not (pair[0] in STOPWORDS and pair[1] in STOPWORDS)}


def fuse(
    semantic: list[Memory], keyword: list[Memory], fusion: str, *, active: bool | None = None
) -> list[tuple[float, Memory]]:
    """One ranking from the two: each memory once, with ``semantic`` and ``keyword`` set.

    ``linear`` (the default) is the mean of the semantic and keyword scores, as Mem0 2.2.1 combines
    them; when none of the query's words occurs in the scope it is the semantic score alone.
    ``boost`` moves the semantic score toward 1 by ``KEYWORD_WEIGHT`` x keyword; ``rrf`` is
    reciprocal rank fusion scaled to 1 for a memory first in both rankings. (Measured against each
    other on LOCOMO: docs/BENCHMARKS.md.) ``active``: whether the keyword side found anything, when
    ``keyword`` holds only some of what it found (default: whether ``keyword`` is empty).
    """
    by_id: dict[Any, Memory] = {}
    semantic_rank: dict[Any, int] = {}
    keyword_rank: dict[Any, int] = {}
    for rank, memory in enumerate(semantic, start=1):
        by_id[memory.pk] = memory
        semantic_rank[memory.pk] = rank
        memory.keyword = 0.0
    for memory in keyword:
        keyword_rank[memory.pk] = int(memory.keyword_rank)
        found = float(getattr(memory, "keyword_found", None) or getattr(memory, "keyword", 0.0) or 0.0)
        if memory.pk in by_id:
            by_id[memory.pk].keyword = found
        else:
            by_id[memory.pk] = memory
            memory.keyword = found
    active = bool(keyword) if active is None else active
    fused = []
    for pk, memory in by_id.items():
        memory.semantic = min(1.0, max(0.0, 1.0 - float(memory.distance)))
        if fusion == "rrf":
            value = sum(1.0 / (RRF_K + ranks[pk]) for ranks in (semantic_rank, keyword_rank) if pk in ranks)
            value *= (RRF_K + 1) / (2 if active else 1)  # 1.0 for a memory first in both rankings
        elif fusion == "boost":
            value = memory.semantic + KEYWORD_WEIGHT * memory.keyword * (1.0 - memory.semantic)
        else:
            value = (memory.semantic + memory.keyword) / 2 if active else memory.semantic
        fused.append((value, memory))
    return fused
