"""The search engine: hybrid (vector and full-text) ranking of memories and of the messages they came
from, and the vector candidates the add pipeline decides against.

Reads like every selector: by default what holds now (current and not expired); ``as_of=T`` what held
at T; ``include_expired`` and ``include_superseded`` widen it.
"""

import functools
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import FieldError
from django.db.models import ExpressionWrapper, FloatField, Q, Value
from django.utils import timezone

from mem0g_site.exceptions import ValidationFailed
from mem0g_site.paging import page_request, positive_int
from memories.embedding import embed_query
from memories.inputs import Scope, clean_scope, clean_text
from memories.models import Memory, MemorySource, MemorySourceLink, memory_hash
from memories.ranking import (
    KEYWORD_COMMON_ROWS,
    SEARCH_FUSIONS,
    ScopeKey,
    cosine_distance,
    fuse,
    hybrid_rows,
    hybrid_rows_common,
    hybrid_rows_counted,
    ids_literal,
    keyword_ranking,
    lexemes_text,
    shared_sizes,
    shared_vector_ranking,
    vector_ranking,
    vector_text,
    word_pairs,
)
from memories.search_candidates import (
    _around_statement,
    _exact_statement,
    _scope_key,
    _scope_size,
    _scope_size_key,
    _search_candidates,
    _walk_statement,
    _walks_its_canonicals,
    _where_shape_of,
    _where_template,
    _words_in,
    known_common,
    remember_common,
    remember_scope_size,
    remember_walked_sides,
)
from memories.selectors import PAGE_SIZE_MAX

TOP_K_MAX = 1000

# The keyword side looks a word's rows up by scope key (``ScopeKey``) only in scopes of more rows
# than this. In a smaller one PostgreSQL reads the scope's rows through its B-tree index and checks
# each for the word, which is cheaper than the keyed statement (on the peer set's 100-row users the
# keyed one cost about 0.7 ms more per search; at 1M memories it wins from about 2,000 rows, and is
# even below that). The count is the strategy's, cached (``_scope_size``).
SCOPE_KEY_MIN_ROWS = 500

# Hybrid search on the exact path sends its vector and keyword sides as one statement (one round
# trip instead of two); False only for benchmarks/hybrid_cost.py to compare.
HYBRID_ONE_STATEMENT = True
# The fusion memory_search uses (chosen on LOCOMO, docs/BENCHMARKS.md); the others stay for the bench.
SEARCH_FUSION = "linear"
# How much a full match of the query's word pairs (rerank) moves the score toward 1.
RERANK_WEIGHT = 0.3
# Each side of a hybrid search proposes this many candidates (at least), ranked by its own score.
CANDIDATE_POOL_MIN = 50
CANDIDATE_POOL_FACTOR = 4
DECAY_HALF_LIFE_DAYS_MAX = 365_000


def memory_search(
    *,
    project,
    query: str,
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
    product code, a name) ranks high even when its meaning is far (see ``keyword_ranking`` and
    ``fuse``); without it the score is the semantic one alone. ``rerank`` then raises memories that contain the query's
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

    The arguments come checked and typed: the API's request contracts (``memories.api.contract``)
    read them (the bounds are ``TOP_K_MAX`` and ``DECAY_HALF_LIFE_DAYS_MAX`` here), the UI cleans its
    search box with ``clean_text``; nothing here reads them again.
    """
    fusion = fusion or SEARCH_FUSION
    if fusion not in SEARCH_FUSIONS:
        raise ValidationFailed(f"fusion must be one of {', '.join(SEARCH_FUSIONS)}", field="fusion")

    moment_now = timezone.now()  # what "unexpired" is checked against
    read = {"as_of": as_of, "include_expired": include_expired, "include_superseded": include_superseded}

    @functools.cache
    def candidates_of():
        # The queryset of what the search scores: built once, only by the paths that read it (the
        # statements are kept per shape, see _exact_statement; the counts are usually cached).
        return _search_candidates(project, scope, where, **read, now=moment_now)

    vector = embed_query(query)
    # The count is cached per shape of the read; a read as of a given moment is not.
    template = _where_template(where)  # the size cache's key and the prepared statement's shape
    where_shape = _where_shape_of(template) if as_of is None else None
    shape = None if where_shape is None else f"{where_shape}|{int(include_expired)}{int(include_superseded)}"
    # The semantic side needs more than top_k candidates only when something can lift a memory over
    # one ranked above it on similarity alone. The linear fusion cannot (a memory below the semantic
    # top_k scores at most half its similarity unless it shares query words, and then the keyword
    # side proposes it with its distance); rerank, decay and the other fusions can.
    reorders = rerank or decay_half_life_days is not None or (keyword_search and fusion != "linear")
    pool = min(TOP_K_MAX * CANDIDATE_POOL_FACTOR, max(CANDIDATE_POOL_MIN, CANDIDATE_POOL_FACTOR * top_k))
    exact_max = settings.SEARCH_EXACT_MAX_ROWS
    # When nothing but the linear fusion orders the results, the statement that fuses them also
    # cuts them to the top_k.
    cut = fusion == "linear" and not reorders and not include_sources
    one_statement = keyword_search and HYBRID_ONE_STATEMENT and exact_max > 0
    statement = {
        "query": query,
        "literal": vector_text(vector) if one_statement else None,
        "semantic_limit": pool if reorders else top_k,
        "keyword_limit": pool,
        "best": (top_k, threshold) if cut else None,
        "now": moment_now,
        "template": template,
    }
    # The scope's size, counted up to exact_max + 1 (and cached, see _scope_size): picks the vector
    # strategy, and is the number of documents the keyword weights are computed against (a floor
    # for large scopes). Not known yet, a hybrid search counts it in its one statement.
    size_key = _scope_size_key(project, scope, exact_max, shape) if exact_max > 0 else None
    scope_rows = cache.get(size_key) if size_key is not None else (None if exact_max > 0 else 1)
    counted = None
    if one_statement and scope_rows is None:
        counted = hybrid_rows_counted(
            *_exact_statement(
                project, scope, where, read, scope_rows=None, keyed=False, count_up_to=exact_max, **statement
            )
        )
        scope_rows = counted[3]
        if size_key is not None:
            remember_scope_size(size_key, scope_rows, exact_max)
        if scope_rows > exact_max:
            if size_key is not None:
                remember_walked_sides(size_key, counted[4], exact_max)
            counted = None  # a large scope: the HNSW walk below
    if scope_rows is None:
        scope_rows = _scope_size(project, scope, candidates_of, exact_max, shape=shape)
    exact = 0 < exact_max and scope_rows <= exact_max
    keyword: list[Memory] = []
    active = None
    # (Unknown sizes, with the exact path turned off, count as large.)
    keyed = keyword_search and (exact_max <= 0 or scope_rows > SCOPE_KEY_MIN_ROWS)
    key = _scope_key(project, scope, where) if keyed else None
    if counted is not None:
        semantic, keyword, active = counted[:3]
    elif one_statement and exact:
        # Both sides in one statement (one round trip): small scopes, the common case. Its SQL is
        # built once per shape of the search (``_exact_statement``).
        semantic, keyword, active = hybrid_rows(
            *_exact_statement(
                project, scope, where, read, scope_rows=max(1, scope_rows), keyed=key is not None, **statement
            )
        )
    else:
        # A large scope is walked through the canonical memories it reaches (its own, and those its
        # repeats name: Memory.vector_memory), unless they are few (counted once, and cached): a
        # filtered walk over few entries runs on to hnsw.max_scan_tuples, so the scope is scored.
        walked = not exact and (size_key is None or _walks_its_canonicals(size_key, candidates_of, exact_max))
        limit = pool if reorders else top_k
        literal = statement["literal"] or vector_text(vector)  # once: the walk, the scoring, the fusion
        walk = None
        if walked:
            walk = _walk_statement(
                project, scope, where, read, template=template, literal=literal, limit=limit, now=moment_now
            )
        semantic = vector_ranking(candidates_of, vector, limit, exact=not walked, walk=walk, literal=literal)
        # A scope over the exact path's limit: a word in many of its rows is common (KEYWORD_COMMON_ROWS),
        # and the words its searches found common lately are not looked up again (known_common).
        common_from = None if exact else KEYWORD_COMMON_ROWS
        known = lexemes_text(known_common(size_key, common_from)) if keyword_search and common_from is not None else ""
        if keyword_search and cut and HYBRID_ONE_STATEMENT:
            around = _around_statement(
                project,
                scope,
                where,
                read,
                template=template,
                keyed=key is not None,
                common_from=common_from,
                semantic_ids=ids_literal(semantic),
                top_k=top_k,
                threshold=threshold,
                now=moment_now,
                query=query,
                literal=literal,
                keyword_limit=pool,
                scope_rows=max(1, scope_rows),
                known_common=known,
            )
            if common_from is None:
                semantic, keyword, active = hybrid_rows(*around)
            else:
                semantic, keyword, active, found_common = hybrid_rows_common(*around)
                remember_common(size_key, common_from, found_common)
        elif keyword_search:
            words_in = _words_in(project, scope, where, read, moment_now, key, candidates_of)
            keyword = keyword_ranking(
                words_in,
                query,
                vector,
                pool,
                max(1, scope_rows),
                [m.pk for m in semantic],
                scope_key=key,
                common_from=common_from,
                known_common=known,
            )
    fused = fuse(semantic, keyword, fusion, active=active)

    pairs = word_pairs(query) if rerank else set()
    moment = as_of or now or timezone.now()
    results = []
    for value, memory in fused:
        breakdown = {"semantic": round(memory.semantic, 6), "keyword": round(memory.keyword, 6), "recency": 1.0}
        if pairs:
            matched = len(pairs & word_pairs(memory.memory)) / len(pairs)
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


def _sources_scoped(project, scope: Scope | None, *, key: ScopeKey | None = None):
    """The project's messages in ``scope``; with ``key`` (one of the scope's ids), the project and
    that id as ``key.condition()`` instead of indexed filters, for the keyword side."""
    fields = clean_scope(scope, required=False).as_filter() if scope is not None else {}
    if key is None:
        return MemorySource.objects.filter(project=project, **fields).defer("embedding")
    fields.pop(key.field)
    return MemorySource.objects.filter(key.condition(MemorySource), **fields).defer("embedding")


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
    # A message stored verbatim shares its memory's vector (MemorySource.vector_memory) and is found
    # through that memory's HNSW entry, the others through their own: each side is counted (up to
    # exact_max + 1), and walked only when it is large. The scope's size is their sum.
    sides = shared_sizes(candidates, "vector_memory", exact_max + 1) if exact_max > 0 else None
    scope_rows = min(exact_max + 1, sum(sides)) if sides is not None else 1
    key = _scope_key(project, scope, None) if exact_max <= 0 or scope_rows > SCOPE_KEY_MIN_ROWS else None
    words_in = candidates
    if key is not None:
        words_in = _sources_scoped(project, scope, key=key).filter(embedding__isnull=False)
        if observed_by is not None:
            words_in = words_in.filter(observed_at__lte=observed_by, created_at__lte=observed_by)
    exact = 0 < exact_max and scope_rows <= exact_max
    if exact:
        semantic = vector_ranking(candidates, vector, top_k, exact=True)
    else:
        walk = (True, True) if sides is None else (sides[0] > exact_max, sides[1] > exact_max)
        semantic = shared_vector_ranking(candidates, vector, top_k, field="vector_memory", walk=walk)
    pool = min(TOP_K_MAX * CANDIDATE_POOL_FACTOR, max(CANDIDATE_POOL_MIN, CANDIDATE_POOL_FACTOR * top_k))
    keyword = keyword_ranking(
        words_in,
        query,
        vector,
        pool,
        max(1, scope_rows),
        [s.pk for s in semantic],
        model=MemorySource,
        scope_key=key,
        common_from=None if exact else KEYWORD_COMMON_ROWS,  # as memory_search's large scopes
    )
    results = []
    for value, source in fuse(semantic, keyword, SEARCH_FUSION):
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
        distance = cosine_distance(vector_text(vector))
        ordering = ExpressionWrapper(distance + Value(0.0), output_field=FloatField())
        rows = list(candidates.annotate(distance=distance).order_by(ordering, "id")[:k])
        for memory in rows:
            memory.score = min(1.0, max(0.0, 1.0 - float(memory.distance)))
        found.append(rows)
    return found
