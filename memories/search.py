"""The search engine: hybrid (vector and full-text) ranking of memories and of the messages they came
from, and the vector candidates the add pipeline decides against.

Reads like every selector: by default what holds now (current and not expired); ``as_of=T`` what held
at T; ``include_expired`` and ``include_superseded`` widen it.
"""

import hashlib
import math
import re
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import FieldError
from django.db import connection, connections, router, transaction
from django.db.models import BooleanField, ExpressionWrapper, FloatField, Q, Value
from django.db.models.expressions import RawSQL
from django.utils import timezone
from pgvector import Vector
from pgvector.django import CosineDistance

from mem0g_site.exceptions import ValidationFailed
from mem0g_site.paging import page_request, positive_int
from memories.embedding import embed_query
from memories.inputs import Scope, clean_flag, clean_moment, clean_scope, clean_text
from memories.models import Memory, MemorySource, MemorySourceLink, memory_hash
from memories.selectors import PAGE_SIZE_MAX, memories_in

TOP_K_MAX = 1000

SCOPE_SIZE_CACHE_SECONDS = 60


def _scope_size(project, scope: Scope | None, candidates, limit: int, *, cacheable: bool) -> int:
    """How many rows a search would score, counted up to ``limit + 1``. Only picks the strategy,
    so for plain scope searches it is cached for a minute: a stale count at worst picks the HNSW
    walk for a small scope, which the fallback below corrects."""
    if not cacheable:
        return candidates[: limit + 1].count()
    parts = [str(project.pk), str(limit)] + [
        f"{k}={v}" for k, v in sorted((scope.as_filter() if scope else {}).items())
    ]
    key = "mem0g:scope-size:" + hashlib.sha256("|".join(parts).encode()).hexdigest()
    size = cache.get(key)
    if size is None:
        size = candidates[: limit + 1].count()
        cache.set(key, size, SCOPE_SIZE_CACHE_SECONDS)
    return size


# Hybrid search on the exact path sends its vector and keyword sides as one statement (one round
# trip instead of two); False only for benchmarks/hybrid_cost.py to compare.
HYBRID_ONE_STATEMENT = True
SEARCH_FUSIONS = ("linear", "rrf", "boost")
# The fusion memory_search uses (chosen on LOCOMO, docs/BENCHMARKS.md); the others stay for the bench.
SEARCH_FUSION = "linear"
# How much a full keyword match moves the semantic score toward 1 (the "boost" fusion).
KEYWORD_WEIGHT = 0.5
# How much a full match of the query's word pairs (rerank) moves the score toward 1.
RERANK_WEIGHT = 0.3
RRF_K = 60
# Each side of a hybrid search proposes this many candidates (at least), ranked by its own score.
CANDIDATE_POOL_MIN = 50
CANDIDATE_POOL_FACTOR = 4
# A query term is looked up in at most this many rows: a word found in more is common anyway,
# and its (small) weight is computed from this capped count.
KEYWORD_TERM_ROWS_MAX = 5000
DECAY_HALF_LIFE_DAYS_MAX = 365_000
STOPWORDS = frozenset(
    "a an and are as at be by did do does for from had has have he her his how i in is it its me my of on or "
    "our she so that the their them they this to was we were what when where which who why will with you your".split()
)
WORD = re.compile(r"\w+")


def _unit_number(value: Any, *, field: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (math.isfinite(value) and 0 <= value <= 1):
        raise ValidationFailed(f"{field} must be a number from 0 to 1", field=field)
    return float(value)


def _search_candidates(project, scope, where, *, as_of, include_expired, include_superseded):
    queryset = memories_in(project, scope)
    if include_superseded:
        # Every row, closed since or not, but not a retracted record (a mistake, not a past fact);
        # with as_of, every row that had started to hold (and was on record) by then.
        queryset = queryset.not_retracted()
        if as_of is not None:
            queryset = queryset.begun_by(as_of)
        if not include_expired:
            queryset = queryset.unexpired(as_of or timezone.now())
    else:
        queryset = queryset.visible(as_of=as_of, include_expired=include_expired)
    queryset = queryset.filter(embedding__isnull=False)
    return queryset.filter(where) if where is not None else queryset


def _vector_ranking(candidates, vector, limit: int, *, exact: bool) -> list[Memory]:
    """The ``limit`` candidates nearest to ``vector``, nearest first, each with ``distance``.

    Filtered vector search must return the full top-k. A plain HNSW scan visits the ~40 nearest
    rows of the whole table and filters afterwards, so a user owning 1% of the rows can get fewer
    results, or none. Small candidate sets (up to ``SEARCH_EXACT_MAX_ROWS``) are therefore scored
    exactly through the B-tree scope indexes; larger ones use the HNSW index with pgvector's
    iterative scan, which keeps walking the graph until the filtered LIMIT is met, and fall back
    to the exact scan in the rare case the graph walk comes back short.
    """
    distance = CosineDistance("embedding", vector)
    # The database this read goes to (the replica, when the view reads there): the SET LOCALs and
    # the query must share its connection and transaction.
    alias = router.db_for_read(Memory)
    candidates = candidates.using(alias)
    if not exact:
        with transaction.atomic(using=alias), connections[alias].cursor() as cursor:
            cursor.execute("SET LOCAL hnsw.iterative_scan = strict_order")
            cursor.execute(f"SET LOCAL hnsw.ef_search = {min(1000, max(settings.SEARCH_HNSW_EF_SEARCH, 2 * limit))}")
            rows = list(candidates.annotate(distance=distance).order_by("distance")[:limit])
        # An HNSW graph can leave some rows unreachable (many near-identical vectors make poorly
        # connected regions), and the iterative scan stops at hnsw.max_scan_tuples: if it came back
        # short while the scope holds more rows, fall back to the exact scan.
        exact = len(rows) < limit and candidates[: len(rows) + 1].count() > len(rows)
    if exact:
        # "+ 0" makes the sort key an expression the HNSW index cannot serve, so PostgreSQL scores
        # every candidate row found through the scope index: exact, and cheap for small scopes.
        ordering = ExpressionWrapper(distance + Value(0.0), output_field=FloatField())
        rows = list(candidates.annotate(distance=distance).order_by(ordering, "id")[:limit])
    return rows


def _keyword_ranking(
    candidates, query: str, vector, limit: int, scope_rows: int, also: list, *, model=Memory
) -> list[Memory]:
    """The ``limit`` candidates sharing the most query-term weight with ``query``, best first, and
    those of ``also`` (ids) that share any, each with ``keyword`` in [0, 1], ``keyword_rank`` and
    ``distance`` to ``vector``. One statement.

    The query's words are reduced to lexemes by PostgreSQL's ``english`` configuration (the one
    the generated ``search_vector`` column uses), so "prefers" finds "preferences". Each lexeme
    weighs its inverse document frequency within the candidates (a word most memories share
    counts for little; a product code or a surname for a lot); a memory scores the weight of the
    lexemes it contains over the weight of all the query's lexemes found in the scope.
    """
    table = model._meta.db_table
    scored_sql, scored_params = _keyword_scored_sql(candidates, query, scope_rows, model=model)
    sql = f"""
        WITH {scored_sql}
        SELECT {_model_columns(model)}, scored.keyword, scored.keyword_rank, m.embedding <=> %s::vector AS distance
        FROM scored JOIN {table} m ON m.id = scored.id
        WHERE scored.keyword_rank <= %s OR scored.id = ANY(%s::uuid[])
        ORDER BY scored.keyword_rank
    """
    params = [*scored_params, Vector(vector).to_text(), limit, [str(pk) for pk in also]]
    return list(model.objects.raw(sql, params))


def _model_columns(model=Memory) -> str:
    return ", ".join(
        f"m.{connection.ops.quote_name(f.column)}" for f in model._meta.concrete_fields if f.name != "embedding"
    )


def _keyword_scored_sql(candidates, query: str, scope_rows: int, *, model=Memory) -> tuple[str, list]:
    """The CTEs ``terms``, ``hits``, ``weights`` and ``scored`` (``id``, ``keyword``, ``keyword_rank``)
    of the keyword side (see :func:`_keyword_ranking`), without the leading ``WITH``."""
    hits = candidates.filter(
        RawSQL(f"{model._meta.db_table}.search_vector @@ terms.q", [], output_field=BooleanField())
    ).values("id")[:KEYWORD_TERM_ROWS_MAX]
    hits_sql, hits_params = hits.query.sql_with_params()
    sql = f"""
        terms AS (
            SELECT DISTINCT lexeme, plainto_tsquery('simple', lexeme) AS q
            FROM unnest(to_tsvector('english'::regconfig, %s)) AS t
        ),
        hits AS MATERIALIZED (
            SELECT terms.lexeme, hit.id FROM terms CROSS JOIN LATERAL ({hits_sql}) AS hit
        ),
        weights AS (
            SELECT lexeme, ln(1 + (greatest(%s, count(*)) - count(*) + 0.5) / (count(*) + 0.5)) AS idf
            FROM hits GROUP BY lexeme
        ),
        scored AS (
            SELECT hits.id, sum(weights.idf) / (SELECT sum(idf) FROM weights) AS keyword,
                   row_number() OVER (ORDER BY sum(weights.idf) DESC, hits.id) AS keyword_rank
            FROM hits JOIN weights USING (lexeme)
            GROUP BY hits.id
        )
    """
    return sql, [query, *hits_params, scope_rows]


def _hybrid_ranking_exact(
    candidates, query: str, vector, semantic_limit: int, keyword_limit: int, scope_rows: int
) -> tuple[list[Memory], list[Memory]]:
    """What :func:`_vector_ranking` (exact) and then :func:`_keyword_ranking` return, in one
    statement: the semantic top ``semantic_limit`` (every candidate scored, nearest first) and the
    keyword side's top ``keyword_limit`` plus the semantic rows sharing a query word. A memory on
    both sides is one object, in both lists (``keyword_found`` holds its keyword score)."""
    distance = CosineDistance("embedding", vector)
    ordering = ExpressionWrapper(distance + Value(0.0), output_field=FloatField())
    nearest = candidates.annotate(distance=distance).order_by(ordering, "id").values("id")[:semantic_limit]
    nearest_sql, nearest_params = nearest.query.sql_with_params()
    scored_sql, scored_params = _keyword_scored_sql(candidates, query, scope_rows)
    sql = f"""
        WITH semantic AS MATERIALIZED ({nearest_sql}),
        {scored_sql},
        picked AS (
            SELECT coalesce(semantic.id, scored.id) AS id, semantic.id IS NOT NULL AS in_semantic,
                   scored.keyword AS keyword_found, scored.keyword_rank
            FROM semantic FULL JOIN scored ON scored.id = semantic.id
            WHERE semantic.id IS NOT NULL OR scored.keyword_rank <= %s
        )
        SELECT {_model_columns()}, picked.in_semantic, picked.keyword_found, picked.keyword_rank,
               m.embedding <=> %s::vector AS distance
        FROM picked JOIN memories_memory m ON m.id = picked.id
    """
    params = [*nearest_params, *scored_params, keyword_limit, Vector(vector).to_text()]
    rows = list(Memory.objects.raw(sql, params))
    semantic = sorted((m for m in rows if m.in_semantic), key=lambda m: (m.distance, str(m.pk)))
    keyword = sorted((m for m in rows if m.keyword_rank is not None), key=lambda m: m.keyword_rank)
    return semantic, keyword


def _word_pairs(text: str) -> set[tuple[str, str]]:
    words = WORD.findall(text.lower())
    return {pair for pair in zip(words, words[1:], strict=False) if not (pair[0] in STOPWORDS and pair[1] in STOPWORDS)}


def _fuse(semantic: list[Memory], keyword: list[Memory], fusion: str) -> list[tuple[float, Memory]]:
    """One ranking from the two: each memory once, with ``semantic`` and ``keyword`` set.

    ``linear`` (the default) is the mean of the semantic and keyword scores, as Mem0 2.2.1 combines
    them; when none of the query's words occurs in the scope it is the semantic score alone.
    ``boost`` moves the semantic score toward 1 by ``KEYWORD_WEIGHT`` x keyword; ``rrf`` is
    reciprocal rank fusion scaled to 1 for a memory first in both rankings. (Measured against each
    other on LOCOMO: docs/BENCHMARKS.md.)
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
    active = bool(keyword)
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


def memory_search(
    *,
    project,
    query: Any,
    scope: Scope | None = None,
    where: Q | None = None,
    top_k: int = 10,
    threshold: float | None = None,
    as_of: datetime | None = None,
    include_expired: bool = False,
    include_superseded: bool = False,
    keyword_search: bool = True,
    rerank: bool = False,
    explain: bool = False,
    decay_half_life_days: float | None = None,
    fusion: str | None = None,
    include_sources: bool = False,
    now: datetime | None = None,
) -> list[Memory]:
    """The ``top_k`` memories that best answer ``query``, best first, each with ``score`` in [0, 1].
    ``threshold`` drops the memories whose semantic similarity is below it (as Mem0 2.2.1 gates its
    hybrid search), so a shared common word cannot carry an unrelated memory in.

    The semantic score is the cosine similarity of the query's and the memory's embeddings
    (clipped to [0, 1]). With ``keyword_search`` (the default) it is averaged with a full-text score
    over the generated ``search_vector`` column, so a memory containing the query's rarer words (a
    product code, a name) ranks high even when its meaning is far (see ``_keyword_ranking`` and
    ``_fuse``); without it the score is the semantic one alone. ``rerank`` then raises memories that contain the query's
    word pairs as they were asked ("support group"), and ``decay_half_life_days`` multiplies each
    score by 0.5 per half-life of age (since ``valid_from``). ``explain`` sets ``score_breakdown``
    (``semantic``, ``keyword``, ``recency``) on each result.

    By default only current facts are searched (not closed by a newer one, not expired);
    ``as_of`` searches what held at that moment, ``include_superseded`` adds the facts closed since
    and ``include_expired`` the expired ones.

    ``include_sources`` also searches the messages the memories came from (``source_search``): a
    message found brings in the facts it gave that the same rules show (a superseded fact stays
    out), at the message's score; a message that gave no fact at all comes as itself, a
    memory-shaped result with ``memory_type = "source"`` (``_source_as_memory``).
    """
    query = clean_text(query, field_name="query")
    top_k = positive_int(top_k, field="top_k", maximum=TOP_K_MAX)
    threshold = _unit_number(threshold, field="threshold")
    as_of = clean_moment(as_of, field_name="as_of")
    include_expired = clean_flag(include_expired, field="show_expired")
    include_superseded = clean_flag(include_superseded, field="include_superseded")
    keyword_search = clean_flag(keyword_search, field="keyword_search")
    rerank = clean_flag(rerank, field="rerank")
    explain = clean_flag(explain, field="explain")
    include_sources = clean_flag(include_sources, field="include_sources")
    if decay_half_life_days is not None and (
        isinstance(decay_half_life_days, bool)
        or not isinstance(decay_half_life_days, (int, float))
        or not (math.isfinite(decay_half_life_days) and 0 < decay_half_life_days <= DECAY_HALF_LIFE_DAYS_MAX)
    ):
        raise ValidationFailed(
            f"decay_half_life_days must be a number of days above 0, at most {DECAY_HALF_LIFE_DAYS_MAX}",
            field="decay_half_life_days",
        )
    fusion = fusion or SEARCH_FUSION
    if fusion not in SEARCH_FUSIONS:
        raise ValidationFailed(f"fusion must be one of {', '.join(SEARCH_FUSIONS)}", field="fusion")

    candidates = _search_candidates(
        project,
        scope,
        where,
        as_of=as_of,
        include_expired=include_expired,
        include_superseded=include_superseded,
    )
    vector = embed_query(query)
    cacheable = where is None and as_of is None and not include_expired and not include_superseded
    # The semantic side needs more than top_k candidates only when something can lift a memory over
    # one ranked above it on similarity alone. The linear fusion cannot (a memory below the semantic
    # top_k scores at most half its similarity unless it shares query words, and then the keyword
    # side proposes it with its distance); rerank, decay and the other fusions can.
    reorders = rerank or decay_half_life_days is not None or (keyword_search and fusion != "linear")
    pool = min(TOP_K_MAX * CANDIDATE_POOL_FACTOR, max(CANDIDATE_POOL_MIN, CANDIDATE_POOL_FACTOR * top_k))
    exact_max = settings.SEARCH_EXACT_MAX_ROWS
    # Counted up to exact_max + 1 (and cached): picks the vector strategy, and is the number of
    # documents the keyword weights are computed against (a floor for large scopes).
    scope_rows = _scope_size(project, scope, candidates, exact_max, cacheable=cacheable) if exact_max > 0 else 1
    exact = 0 < exact_max and scope_rows <= exact_max
    keyword: list[Memory] = []
    if keyword_search and exact and HYBRID_ONE_STATEMENT:
        # Both sides in one statement (one round trip): small scopes, the common case.
        semantic, keyword = _hybrid_ranking_exact(
            candidates, query, vector, pool if reorders else top_k, pool, max(1, scope_rows)
        )
    else:
        semantic = _vector_ranking(candidates, vector, pool if reorders else top_k, exact=exact)
        if keyword_search:
            keyword = _keyword_ranking(candidates, query, vector, pool, max(1, scope_rows), [m.pk for m in semantic])
    fused = _fuse(semantic, keyword, fusion)

    pairs = _word_pairs(query) if rerank else set()
    moment = as_of or now or timezone.now()
    results = []
    for value, memory in fused:
        breakdown = {"semantic": round(memory.semantic, 6), "keyword": round(memory.keyword, 6), "recency": 1.0}
        if pairs:
            matched = len(pairs & _word_pairs(memory.memory)) / len(pairs)
            value += RERANK_WEIGHT * matched * (1.0 - value)
            breakdown["rerank"] = round(matched, 6)
        if decay_half_life_days is not None:
            age_days = max(0.0, (moment - memory.valid_from).total_seconds() / 86400)
            recency = 0.5 ** (age_days / decay_half_life_days)
            value *= recency
            breakdown["recency"] = round(recency, 6)
        memory.score = min(1.0, max(0.0, value))
        if explain:
            memory.score_breakdown = breakdown
        if threshold is None or memory.semantic >= threshold:
            results.append(memory)
    if include_sources:
        results = _with_sources(
            results,
            project=project,
            scope=scope,
            where=where,
            query=query,
            vector=vector,
            top_k=top_k,
            threshold=threshold,
            explain=explain,
            visible={"as_of": as_of, "include_expired": include_expired, "include_superseded": include_superseded},
        )
    results.sort(key=lambda m: (-m.score, -m.semantic, str(m.pk)))
    return results[:top_k]


def _with_sources(results, *, project, scope, where, query, vector, top_k, threshold, explain, visible) -> list:
    """``results`` and what the scope's messages found for ``query`` add to them (see
    :func:`memory_search`): each memory once, at its better score."""

    sources = source_search(
        project=project,
        scope=scope,
        query=query,
        top_k=top_k,
        threshold=threshold,
        vector=vector,
        observed_by=visible["as_of"],
    )
    if not sources:
        return results
    links: dict[Any, list] = {}
    for source_id, memory_id in MemorySourceLink.objects.filter(source__in=[s.pk for s in sources]).values_list(
        "source_id", "memory_id"
    ):
        links.setdefault(source_id, []).append(memory_id)
    shown = {
        memory.pk: memory
        for memory in _search_candidates(project, scope, where, **visible).filter(
            pk__in={pk for ids in links.values() for pk in ids}
        )
    }
    # A message that gave no fact answers as itself, unless the search narrows by memory fields
    # (categories, text...) that a message does not have.
    bare = [source for source in sources if source.pk not in links]
    if bare and where is not None:
        try:
            allowed = set(
                MemorySource.objects.filter(pk__in=[s.pk for s in bare]).filter(where).values_list("pk", flat=True)
            )
        except FieldError:
            allowed = set()
        bare = [source for source in bare if source.pk in allowed]
    by_id = {memory.pk: memory for memory in results}
    for source in sources:
        found = [shown[pk] for pk in links.get(source.pk, ()) if pk in shown]
        if source.pk not in links and source in bare:
            found = [_source_as_memory(source)]
        for memory in found:
            kept = by_id.get(memory.pk)
            if kept is not None and kept.score >= source.score:
                continue
            memory = kept or memory
            memory.score, memory.semantic = source.score, max(source.semantic, getattr(memory, "semantic", 0.0))
            if explain:
                memory.score_breakdown = {
                    "semantic": round(source.semantic, 6),
                    "keyword": round(source.keyword, 6),
                    "recency": 1.0,
                    "source": str(source.pk),
                }
            by_id[memory.pk] = memory
    return list(by_id.values())


def _source_as_memory(source) -> Memory:
    """A message that gave no fact, in the memory shape (not saved): its id is the source's."""

    memory = Memory(
        id=source.pk,
        project_id=source.project_id,
        memory=source.content,
        hash=memory_hash(source.content),
        metadata=source.metadata,
        categories=[],
        created_at=source.created_at,
        updated_at=source.created_at,
        valid_from=source.observed_at,
        actor_id=source.name,
        role=source.role,
        **{field: getattr(source, field) for field in ("user_id", "agent_id", "app_id", "run_id")},
    )
    memory.memory_type = "source"
    return memory


def _sources_scoped(project, scope: Scope | None):

    queryset = MemorySource.objects.filter(project=project).defer("embedding")
    if scope is not None:
        queryset = queryset.filter(**clean_scope(scope, required=False).as_filter())
    return queryset


def source_search(
    *,
    project,
    query: Any,
    scope: Scope | None = None,
    top_k: int = 10,
    threshold: float | None = None,
    vector: list[float] | None = None,
    observed_by: datetime | None = None,
) -> list:
    """The ``top_k`` messages of ``scope`` that best answer ``query``, best first, each with
    ``score``, ``semantic`` and ``keyword``: the same hybrid ranking as memories (cosine similarity
    averaged with the full-text score over the message and its speaker's name; docs/BENCHMARKS.md
    measures it against the vector side alone). ``observed_by``: only messages observed (and
    recorded) by then."""
    query = clean_text(query, field_name="query")
    top_k = positive_int(top_k, field="top_k", maximum=TOP_K_MAX)
    candidates = _sources_scoped(project, scope).filter(embedding__isnull=False)
    if observed_by is not None:
        candidates = candidates.filter(observed_at__lte=observed_by, created_at__lte=observed_by)
    vector = vector if vector is not None else embed_query(query)
    exact_max = settings.SEARCH_EXACT_MAX_ROWS
    scope_rows = candidates[: exact_max + 1].count() if exact_max > 0 else 1
    exact = 0 < exact_max and scope_rows <= exact_max
    semantic = _vector_ranking(candidates, vector, top_k, exact=exact)
    pool = min(TOP_K_MAX * CANDIDATE_POOL_FACTOR, max(CANDIDATE_POOL_MIN, CANDIDATE_POOL_FACTOR * top_k))
    keyword = _keyword_ranking(
        candidates, query, vector, pool, max(1, scope_rows), [s.pk for s in semantic], model=candidates.model
    )
    results = []
    for value, source in _fuse(semantic, keyword, SEARCH_FUSION):
        source.score = min(1.0, max(0.0, value))
        if threshold is None or source.semantic >= threshold:
            results.append(source)
    results.sort(key=lambda s: (-s.score, -s.semantic, str(s.pk)))
    return results[:top_k]


def source_list(
    *, project, scope: Scope | None = None, query: Any = None, page: int = 1, page_size: int = 50
) -> tuple[int, list]:
    """A scope's messages (``GET /v1/sources/``), a page at a time: newest first, or with ``query``
    best first (at most ``TOP_K_MAX`` ranked). Each has ``memory_ids``, the facts it gave."""

    pages = page_request(page, page_size, maximum=PAGE_SIZE_MAX)
    if query is not None:
        ranked = source_search(
            project=project, query=query, scope=scope, top_k=min(TOP_K_MAX, pages.offset + pages.page_size)
        )
        found = pages.cut(ranked)
    else:
        queryset = _sources_scoped(project, scope)
        found = pages.cut(queryset.order_by("-observed_at", "-position", "-id"))
    count, rows = found.count, found.results
    links: dict[Any, list] = {}
    for source_id, memory_id in MemorySourceLink.objects.filter(source__in=[r.pk for r in rows]).values_list(
        "source_id", "memory_id"
    ):
        links.setdefault(source_id, []).append(memory_id)
    for row in rows:
        row.memory_ids = sorted(links.get(row.pk, []), key=str)
    return count, rows


def memory_neighbours(
    *, project, scope: Scope, vectors: list[list[float]], k: int = 8, now: datetime | None = None
) -> list[list[Memory]]:
    """For each vector, the ``k`` most similar current, unexpired memories of ``scope`` (each with
    ``score``), best first: the candidates the add pipeline decides against. One query per vector,
    scored exactly within the scope (an add's scope is one user, agent or run)."""
    candidates = (
        Memory.objects.for_project(project)
        .filter(**clean_scope(scope, required=True).as_filter())
        .current()
        .unexpired(now)
        .filter(embedding__isnull=False)
        .defer("embedding")
    )
    found = []
    for vector in vectors:
        distance = CosineDistance("embedding", vector)
        ordering = ExpressionWrapper(distance + Value(0.0), output_field=FloatField())
        rows = list(candidates.annotate(distance=distance).order_by(ordering, "id")[:k])
        for memory in rows:
            memory.score = min(1.0, max(0.0, 1.0 - float(memory.distance)))
        found.append(rows)
    return found
