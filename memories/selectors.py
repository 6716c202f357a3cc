"""Every read of memories goes through these functions.

By default a read sees what holds now: current (``valid_to`` and ``invalidated_at`` unset) and not
expired. ``as_of=T`` shows what held at T instead; ``include_expired`` also shows expired rows.
"""

import base64
import binascii
import hashlib
import math
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection, connections, router, transaction
from django.db.models import (
    BigIntegerField,
    BooleanField,
    Count,
    ExpressionWrapper,
    FloatField,
    Max,
    Min,
    Q,
    Sum,
    Value,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce
from django.utils import timezone
from pgvector import Vector
from pgvector.django import CosineDistance

from mem0g_site.exceptions import MemoryNotFound, UserNotFound, ValidationFailed
from memories.embedding import embed_query
from memories.inputs import Scope, clean_moment, clean_scope, clean_text, clean_uuid
from memories.models import Memory, MemoryHistory

PAGE_SIZE_MAX = 200
# Bytes a memory row takes for its text, metadata and vector (as stored, after compression).
ROW_BYTES_SQL = "pg_column_size(memory) + pg_column_size(metadata) + coalesce(pg_column_size(embedding), 0)"
TOP_K_MAX = 1000


@dataclass(frozen=True)
class MemoryPage:
    results: list[Memory]
    count: int
    page: int
    page_size: int

    @property
    def has_next(self) -> bool:
        return self.page * self.page_size < self.count

    @property
    def has_previous(self) -> bool:
        return self.page > 1


def _visible(queryset, *, as_of: datetime | None, include_expired: bool):
    if as_of is not None:
        # Valid time: what held at T as we know it now, so a fact recorded later about an earlier
        # time (an import with observation dates, a superseded fact) shows for the time it held.
        queryset = queryset.as_known(as_of=as_of)
        return queryset if include_expired else queryset.unexpired(as_of)
    queryset = queryset.current()
    return queryset if include_expired else queryset.unexpired(timezone.now())


def _scoped(project, scope: Scope | None):
    queryset = Memory.objects.for_project(project).defer("embedding")
    if scope is not None:
        queryset = queryset.filter(**clean_scope(scope, required=False).as_filter())
    return queryset


def memory_get(*, project, memory_id: Any, within: Scope | None = None) -> Memory:
    """One memory of the project (inside ``within``, if given), in any state; anything else is
    'not found'."""
    pk = clean_uuid(memory_id)
    memory = None if pk is None else _scoped(project, within).filter(pk=pk).first()
    if memory is None:
        raise MemoryNotFound(memory_id)
    return memory


def _positive_int(value: Any, *, field: str, maximum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise ValidationFailed(f"{field} must be a whole number from 1 to {maximum}", field=field)
    return value


def memory_list(
    *,
    project,
    scope: Scope | None = None,
    where: Q | None = None,
    page: int = 1,
    page_size: int = 100,
    as_of: datetime | None = None,
    include_expired: bool = False,
    known_at: datetime | None = None,
    include_superseded: bool = False,
) -> MemoryPage:
    """Memories newest first, one page at a time (``page`` counts from 1). ``where`` is a compiled
    filter (``memories.filters``). ``known_at=K`` (record time) lists what was on record at K,
    retracted since or not (``TemporalQuerySet.as_known``; alone, ``as_of`` is K too).
    ``include_superseded`` (without ``as_of`` or ``known_at``) also lists the facts closed since."""
    page = _positive_int(page, field="page", maximum=10**9)
    page_size = _positive_int(page_size, field="page_size", maximum=PAGE_SIZE_MAX)
    as_of = clean_moment(as_of, field_name="as_of")
    known_at = clean_moment(known_at, field_name="known_at")
    include_superseded = _flag(include_superseded, field="include_superseded")
    if include_superseded and as_of is None and known_at is None:
        queryset = _scoped(project, scope).not_retracted()  # closed facts, not retracted records
        queryset = queryset if include_expired else queryset.unexpired(timezone.now())
    elif known_at is None:
        queryset = _visible(_scoped(project, scope), as_of=as_of, include_expired=include_expired)
    else:
        queryset = _scoped(project, scope).as_known(as_of=as_of, known_at=known_at)
        queryset = queryset if include_expired else queryset.unexpired(as_of or known_at)
    if where is not None:
        queryset = queryset.filter(where)
    count = queryset.count()
    offset = (page - 1) * page_size
    results = list(queryset.order_by("-created_at", "-id")[offset : offset + page_size]) if offset < count else []
    return MemoryPage(results=results, count=count, page=page, page_size=page_size)


def _cursor_encode(memory: Memory) -> str:
    raw = f"{memory.created_at.isoformat()}|{memory.pk}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _cursor_decode(cursor: Any) -> tuple[datetime, uuid.UUID]:
    try:
        if not isinstance(cursor, str) or len(cursor) > 200:
            raise ValueError(cursor)
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        moment, pk = raw.split("|")
        created_at = datetime.fromisoformat(moment)
        if created_at.tzinfo is None:
            raise ValueError(moment)
        return created_at, uuid.UUID(pk)
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise ValidationFailed(
            "cursor is not one this server gave (next_cursor of an export)", field="cursor"
        ) from None


def memories_export_slice(
    *, project, scope: Scope | None = None, where: Q | None = None, cursor: Any = None, limit: int
) -> tuple[list[Memory], str | None]:
    """The current memories an export holds, oldest first (``created_at``, then id), at most
    ``limit`` of them after ``cursor``; and the cursor of the rest (None when there is no more).
    Keyset order on an indexed column: each slice costs the same, however far along it is."""
    queryset = _visible(_scoped(project, scope), as_of=None, include_expired=False)
    if where is not None:
        queryset = queryset.filter(where)
    if cursor is not None:
        created_at, pk = _cursor_decode(cursor)
        queryset = queryset.filter(Q(created_at__gt=created_at) | Q(created_at=created_at, pk__gt=pk))
    rows = list(queryset.order_by("created_at", "id")[: limit + 1])
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, _cursor_encode(rows[-1])


def memory_export_get(*, project, export_id: Any = None, filters: Any = None, within_user: str | None = None):
    """An export by id, or the latest one made with exactly these ``filters``; a restricted key
    (``within_user``) finds only the exports made for its user, anything else is 'not found'."""
    from mem0g_site.exceptions import NotFound
    from memories.models import MemoryExport

    exports = MemoryExport.objects.filter(project=project)
    if within_user is not None:
        exports = exports.filter(user_id=within_user)
    if export_id is not None:
        pk = clean_uuid(export_id)
        export = exports.filter(pk=pk).first() if pk is not None else None
    else:
        export = exports.filter(filters=filters or {}).first()
    if export is None:
        raise NotFound("Export not found")
    return export


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


def _flag(value: Any, *, field: str) -> bool:
    if not isinstance(value, bool):
        raise ValidationFailed(f"{field} must be true or false", field=field)
    return value


def _search_candidates(project, scope, where, *, as_of, include_expired, include_superseded):
    queryset = _scoped(project, scope)
    if include_superseded:
        # Every row, closed since or not, but not a retracted record (a mistake, not a past fact);
        # with as_of, every row that had started to hold (and was on record) by then.
        queryset = queryset.not_retracted()
        if as_of is not None:
            queryset = queryset.filter(valid_from__lte=as_of, created_at__lte=as_of)
        if not include_expired:
            queryset = queryset.unexpired(as_of or timezone.now())
    else:
        queryset = _visible(queryset, as_of=as_of, include_expired=include_expired)
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
    top_k = _positive_int(top_k, field="top_k", maximum=TOP_K_MAX)
    threshold = _unit_number(threshold, field="threshold")
    as_of = clean_moment(as_of, field_name="as_of")
    include_expired = _flag(include_expired, field="show_expired")
    include_superseded = _flag(include_superseded, field="include_superseded")
    keyword_search = _flag(keyword_search, field="keyword_search")
    rerank = _flag(rerank, field="rerank")
    explain = _flag(explain, field="explain")
    include_sources = _flag(include_sources, field="include_sources")
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
    from django.core.exceptions import FieldError

    from memories.models import MemorySource, MemorySourceLink

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
    from memories.models import memory_hash

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
    from memories.models import MemorySource

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
    top_k = _positive_int(top_k, field="top_k", maximum=TOP_K_MAX)
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
    from memories.models import MemorySourceLink

    page = _positive_int(page, field="page", maximum=10**9)
    page_size = _positive_int(page_size, field="page_size", maximum=PAGE_SIZE_MAX)
    offset = (page - 1) * page_size
    if query is not None:
        ranked = source_search(project=project, query=query, scope=scope, top_k=min(TOP_K_MAX, offset + page_size))
        count, rows = len(ranked), ranked[offset : offset + page_size]
    else:
        queryset = _sources_scoped(project, scope)
        count = queryset.count()
        rows = list(queryset.order_by("-observed_at", "-position", "-id")[offset : offset + page_size])
    links: dict[Any, list] = {}
    for source_id, memory_id in MemorySourceLink.objects.filter(source__in=[r.pk for r in rows]).values_list(
        "source_id", "memory_id"
    ):
        links.setdefault(source_id, []).append(memory_id)
    for row in rows:
        row.memory_ids = sorted(links.get(row.pk, []), key=str)
    return count, rows


def memory_sources(*, memory: Memory) -> list:
    """The messages a memory came from, oldest first."""
    from memories.models import MemorySource

    return list(
        MemorySource.objects.filter(links__memory=memory).defer("embedding").order_by("observed_at", "position")
    )


def decision_traces(*, project, ids) -> dict[Any, Any]:
    """The project's decision traces with these ids, by id (one query)."""
    from memories.models import DecisionTrace

    pks = {pk for pk in ids if pk is not None}
    return {t.pk: t for t in DecisionTrace.objects.filter(project=project, pk__in=pks)} if pks else {}


def add_event_traces(*, event) -> list:
    """An add's decision traces, in fact order."""
    from memories.models import DecisionTrace

    return list(DecisionTrace.objects.filter(add_event=event).order_by("position", "id"))


def memory_history(*, project, memory_id: Any, within: Scope | None = None) -> list[MemoryHistory]:
    """A memory's ADD/UPDATE/DELETE rows, oldest first; kept after the memory is deleted."""
    pk = clean_uuid(memory_id)
    fence = clean_scope(within, required=False).as_filter() if within is not None else {}
    rows = (
        []
        if pk is None
        else list(MemoryHistory.objects.filter(project=project, memory_id=pk, **fence).order_by("created_at", "id"))
    )
    if not rows:
        raise MemoryNotFound(memory_id)
    return rows


def user_stats(*, project, user_id: str) -> dict[str, Any]:
    """What the project holds about one user: counts by agent, run, category and state, first
    and last activity, and the storage it takes. A user with no memories is 'not found'."""
    user_id = clean_scope(Scope(user_id=user_id), required=True).user_id
    memories = Memory.objects.for_project(project).filter(user_id=user_id)
    now = timezone.now()
    totals = memories.aggregate(
        total=Count("id"),
        current=Count("id", filter=Q(valid_to__isnull=True, invalidated_at__isnull=True)),
        expired=Count("id", filter=Q(expiration_date__lte=now)),
        first=Min("created_at"),
        last=Max("updated_at"),
        bytes=Coalesce(Sum(RawSQL(ROW_BYTES_SQL, [], output_field=BigIntegerField())), 0),
    )
    if not totals["total"]:
        raise UserNotFound(user_id)
    by_agent = dict(memories.values_list("agent_id").annotate(n=Count("id")).order_by())
    by_run = dict(memories.values_list("run_id").annotate(n=Count("id")).order_by())
    with connections[router.db_for_read(Memory)].cursor() as cursor:
        cursor.execute(
            "SELECT category, count(*) FROM memories_memory, unnest(categories) AS category"
            " WHERE project_id = %s AND user_id = %s GROUP BY category",
            [project.pk, user_id],
        )
        by_category = dict(cursor.fetchall())
    last_history = MemoryHistory.objects.filter(project=project, user_id=user_id).aggregate(last=Max("created_at"))
    last_activity = max(filter(None, [totals["last"], last_history["last"]]))
    return {
        "user_id": user_id,
        "total_memories": totals["total"],
        "current_memories": totals["current"],
        "superseded_memories": totals["total"] - totals["current"],
        "expired_memories": totals["expired"],
        "by_agent": {agent or "none": n for agent, n in by_agent.items()},
        "by_run": {run or "none": n for run, n in by_run.items()},
        "by_category": by_category,
        "first_activity": totals["first"],
        "last_activity": last_activity,
        "storage_bytes": int(totals["bytes"]),
    }


ENTITY_TYPES = {"user": "user_id", "agent": "agent_id", "app": "app_id", "run": "run_id"}


def entity_list(*, project, within: Scope | None = None) -> list[dict[str, Any]]:
    """Every user, agent, app and run id that has memories, with counts and activity (Mem0's
    ``GET /v1/entities/``); one grouped query per entity type."""
    memories = _scoped(project, within)
    entities = []
    for entity_type, field in ENTITY_TYPES.items():
        rows = (
            memories.exclude(**{f"{field}__isnull": True})
            .values(field)
            .annotate(total=Count("id"), first=Min("created_at"), last=Max("updated_at"))
            .order_by(field)
        )
        entities += [
            {
                "type": entity_type,
                "name": row[field],
                "total_memories": row["total"],
                "created_at": row["first"],
                "updated_at": row["last"],
            }
            for row in rows
        ]
    return entities


def memory_summary(*, project, scope: Scope | None = None, where: Q | None = None, recent: int = 10) -> dict[str, Any]:
    """A deterministic digest of a set of memories (what ``POST /v1/summary/`` answers without an
    LLM): counts, categories, the most recent facts and a few lines of text built from them."""
    queryset = _visible(_scoped(project, scope), as_of=None, include_expired=False)
    if where is not None:
        queryset = queryset.filter(where)
    total = queryset.count()
    latest = list(queryset.order_by("-created_at", "-id")[:recent])
    with connections[router.db_for_read(Memory)].cursor() as cursor:
        sql, params = queryset.values("categories").query.sql_with_params()
        cursor.execute(
            f"SELECT category, count(*) FROM ({sql}) AS picked, unnest(picked.categories) AS category"
            " GROUP BY category ORDER BY count(*) DESC, category",
            params,
        )
        categories = dict(cursor.fetchall())
    lines = [f"{total} memories" + (f" across {len(categories)} categories" if categories else "") + "."]
    lines += [f"- {memory.memory}" for memory in latest]
    return {
        "summary": "\n".join(lines),
        "total_memories": total,
        "categories": categories,
        "recent": [{"id": str(m.id), "memory": m.memory, "created_at": m.created_at.isoformat()} for m in latest],
    }


def add_event_get(*, project, event_id: Any, within: Scope | None = None):
    from mem0g_site.exceptions import NotFound
    from memories.models import AddEvent

    pk = clean_uuid(event_id)
    events = AddEvent.objects.filter(project=project)
    if within is not None and within.user_id:
        events = events.filter(user_id=within.user_id)
    event = None if pk is None else events.filter(pk=pk).first()
    if event is None:
        raise NotFound("Event not found", details={"event_id": str(event_id)})
    return event


def add_event_list(*, project, within: Scope | None = None, page: int = 1, page_size: int = 50):
    from memories.models import AddEvent

    page = _positive_int(page, field="page", maximum=10**9)
    page_size = _positive_int(page_size, field="page_size", maximum=PAGE_SIZE_MAX)
    events = AddEvent.objects.filter(project=project)
    if within is not None and within.user_id:
        events = events.filter(user_id=within.user_id)
    count = events.count()
    offset = (page - 1) * page_size
    return count, list(events.order_by("-created_at", "-id")[offset : offset + page_size])


def project_stats(*, project, within: Scope | None = None) -> dict[str, Any]:
    """Totals for ``GET /v1/stats/``: memories (current and all), entities by type, add events."""
    from memories.models import AddEvent

    memories = _scoped(project, within)
    totals = memories.aggregate(
        total=Count("id"),
        current=Count("id", filter=Q(valid_to__isnull=True, invalidated_at__isnull=True)),
        **{f"{kind}s": Count(field, distinct=True) for kind, field in ENTITY_TYPES.items()},
    )
    events = AddEvent.objects.filter(project=project)
    if within is not None and within.user_id:
        events = events.filter(user_id=within.user_id)
    return {
        "total_memories": totals["total"],
        "current_memories": totals["current"],
        "total_users": totals["users"],
        "total_agents": totals["agents"],
        "total_apps": totals["apps"],
        "total_runs": totals["runs"],
        "total_add_events": events.count(),
    }


# --- For the web UI ---------------------------------------------------------------------------

MEMORY_STATES = ("current", "superseded", "expired", "all")


def user_list(*, project, contains: str | None = None, limit: int = 500) -> list[dict[str, Any]]:
    """The project's user ids (those containing ``contains``, case-folded) with their memory counts and
    last activity, most recently active first; one grouped query over the ``(project, user_id)`` index."""
    limit = _positive_int(limit, field="limit", maximum=10_000)
    queryset = Memory.objects.for_project(project).filter(user_id__isnull=False)
    if contains:
        queryset = queryset.filter(user_id__icontains=contains)
    rows = (
        queryset.values("user_id")
        .annotate(
            total=Count("id"),
            current=Count("id", filter=Q(valid_to__isnull=True, invalidated_at__isnull=True)),
            last_activity=Max("updated_at"),
        )
        .order_by("-last_activity", "user_id")[:limit]
    )
    return list(rows)


def user_overview(*, project, user_id: str) -> dict[str, Any]:
    """One user's counts, the span of their history (``first``: earliest ``valid_from``; ``last``: latest
    change), and the agent ids and categories their memories use (for filters). A user with no memories
    is 'not found'. Two queries."""
    from django.contrib.postgres.aggregates import ArrayAgg

    user_id = clean_scope(Scope(user_id=user_id), required=True).user_id
    memories = Memory.objects.for_project(project).filter(user_id=user_id)
    totals = memories.aggregate(
        total=Count("id"),
        current=Count("id", filter=Q(valid_to__isnull=True, invalidated_at__isnull=True)),
        first=Min("valid_from"),
        last_change=Max("updated_at"),
        last_close=Max("valid_to"),
        agents=ArrayAgg("agent_id", distinct=True, filter=Q(agent_id__isnull=False), default=Value([])),
    )
    if not totals["total"]:
        raise UserNotFound(user_id)
    with connections[router.db_for_read(Memory)].cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT category FROM memories_memory, unnest(categories) AS category"
            " WHERE project_id = %s AND user_id = %s ORDER BY category",
            [project.pk, user_id],
        )
        categories = [row[0] for row in cursor.fetchall()]
    return {
        "user_id": user_id,
        "total": totals["total"],
        "current": totals["current"],
        "first": totals["first"],
        "last": max(filter(None, [totals["last_change"], totals["last_close"]])),
        "agents": sorted(totals["agents"]),
        "categories": categories,
    }


def memory_list_in_state(
    *,
    project,
    scope: Scope,
    state: str = "current",
    where: Q | None = None,
    as_of: datetime | None = None,
    page: int = 1,
    page_size: int = 20,
) -> MemoryPage:
    """Like :func:`memory_list`, by state: ``current`` (holds now, not expired), ``superseded`` (closed
    or retracted), ``expired`` (holds but past its expiration date) or ``all``. With ``as_of`` the
    state is what held then (``expired``/``all`` also show rows expired since)."""
    if state not in MEMORY_STATES:
        raise ValidationFailed(f"state must be one of {', '.join(MEMORY_STATES)}", field="state")
    if as_of is not None or state == "current":
        return memory_list(
            project=project,
            scope=scope,
            where=where,
            page=page,
            page_size=page_size,
            as_of=as_of,
            include_expired=state in ("expired", "all"),
        )
    page = _positive_int(page, field="page", maximum=10**9)
    page_size = _positive_int(page_size, field="page_size", maximum=PAGE_SIZE_MAX)
    queryset = _scoped(project, scope)
    if state == "superseded":
        queryset = queryset.filter(Q(valid_to__isnull=False) | Q(invalidated_at__isnull=False))
    elif state == "expired":
        queryset = queryset.current().filter(expiration_date__lte=timezone.now())
    if where is not None:
        queryset = queryset.filter(where)
    count = queryset.count()
    offset = (page - 1) * page_size
    results = list(queryset.order_by("-created_at", "-id")[offset : offset + page_size]) if offset < count else []
    return MemoryPage(results=results, count=count, page=page, page_size=page_size)


def memories_by_id(*, project, ids) -> dict[Any, Memory]:
    """The project's memories with these ids (any state), by id; one query, embeddings left out."""
    pks = {pk for pk in (clean_uuid(value) for value in ids) if pk is not None}
    return {memory.pk: memory for memory in _scoped(project, None).filter(pk__in=pks)} if pks else {}


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


def memories_mark_successors(memories) -> None:
    """Set ``replaced_by`` on each memory: the id of the memory that superseded it (the source of the
    newest standing ``supersedes`` relationship onto it), or None (Mem0's ``replaced_by``). One query,
    and none when every memory holds."""
    from graph.models import SUPERSEDES, Relationship

    closed = {memory.pk: memory for memory in memories if not memory.is_current}
    for memory in memories:
        memory.replaced_by = None
    if not closed:
        return
    edges = (
        Relationship.objects.filter(target_id__in=closed, relation=SUPERSEDES)
        .not_retracted()
        .order_by("target_id", "-valid_from", "-created_at")
        .distinct("target_id")
        .values_list("target_id", "source_id")
    )
    for target_id, source_id in edges:
        closed[target_id].replaced_by = source_id


REVIEW_STATES = ("pending", "accepted", "rejected", "all")


@dataclass(frozen=True)
class ReviewPage:
    results: list
    count: int
    page: int
    page_size: int

    @property
    def has_next(self) -> bool:
        return self.page * self.page_size < self.count

    @property
    def has_previous(self) -> bool:
        return self.page > 1


def review_queue(
    *, project, user_id: str | None = None, state: str = "pending", page: int = 1, page_size: int = 20
) -> ReviewPage:
    """The review queue (``memories.review``): a project's inferred changes (or one user's), newest
    first, in one review state (``pending``, ``accepted``, ``rejected``) or ``all`` of them. Each
    trace comes with ``target`` (the memory it updated or superseded, or, held, would), ``previous``
    (the text before an UPDATE) and ``source_rows`` (the messages it came from, those still kept).
    Five queries whatever the page holds."""
    from memories.models import DecisionTrace

    if state not in REVIEW_STATES:
        raise ValidationFailed(f"state must be one of {', '.join(REVIEW_STATES)}", field="state")
    page = _positive_int(page, field="page", maximum=10**9)
    page_size = _positive_int(page_size, field="page_size", maximum=PAGE_SIZE_MAX)
    queryset = DecisionTrace.objects.filter(project=project)
    queryset = (
        queryset.exclude(review_state=DecisionTrace.ReviewState.NONE)
        if state == "all"
        else queryset.filter(review_state=state)
    )
    if user_id is not None:
        queryset = queryset.filter(user_id=user_id)
    count = queryset.count()
    offset = (page - 1) * page_size
    traces = (
        list(
            queryset.select_related("memory")
            .defer("memory__embedding")
            .order_by("-created_at", "-position", "-id")[offset : offset + page_size]
        )
        if offset < count
        else []
    )
    _review_decorate(project, traces)
    return ReviewPage(results=traces, count=count, page=page, page_size=page_size)


def review_pending_count(*, project, user_id: str | None = None) -> int:
    """How many inferred changes wait for review in the project (or for one user)."""
    from memories.models import DecisionTrace

    queryset = DecisionTrace.objects.filter(project=project, review_state=DecisionTrace.ReviewState.PENDING)
    return (queryset if user_id is None else queryset.filter(user_id=user_id)).count()


def review_get(*, project, trace_id: Any):
    """One trace of the review queue (any review state), decorated as :func:`review_queue` does, or
    None."""
    from memories.models import DecisionTrace

    pk = clean_uuid(trace_id)
    found = (
        None
        if pk is None
        else DecisionTrace.objects.filter(project=project, pk=pk)
        .select_related("memory")
        .defer("memory__embedding")
        .first()
    )
    if found is not None:
        _review_decorate(project, [found])
    return found


def _review_decorate(project, traces: list) -> None:
    """Give each trace ``target`` (the memory it updated or superseded, or, held, would change),
    ``previous`` (the text the change replaced, or would), ``proposed`` (the text it wrote, or would)
    and ``source_rows`` (its messages, those still kept); three queries for any number."""
    from memories.models import MemorySource

    targets = memories_by_id(project=project, ids=[t.target_id for t in traces if t.target_id])
    applied_updates = [t.pk for t in traces if t.decision == "UPDATE" and not t.is_held]
    updates = {
        row.trace_id: row
        for row in MemoryHistory.objects.filter(project=project, trace__in=applied_updates, event="UPDATE").order_by(
            "-created_at", "-id"
        )
    }  # the earliest row of each trace wins: the one the add wrote
    source_ids = {clean_uuid(pk) for t in traces for pk in t.source_ids} - {None}
    sources = {
        source.pk: source
        for source in MemorySource.objects.filter(project=project, pk__in=source_ids).defer("embedding")
    }
    for trace in traces:
        trace.target = targets.get(trace.target_id)
        if trace.is_held:
            trace.previous = trace.target.memory if trace.target else None
            trace.proposed = trace.held.get("text")
        elif trace.decision == "UPDATE":
            row = updates.get(trace.pk)
            trace.previous, trace.proposed = (row.old_memory, row.new_memory) if row else (None, trace.fact)
        else:
            trace.previous = trace.target.memory if trace.decision == "SUPERSEDE" and trace.target else None
            trace.proposed = trace.memory.memory if trace.memory else trace.fact
        trace.source_rows = [sources[pk] for pk in (clean_uuid(i) for i in trace.source_ids) if pk in sources]
