"""The rows a search reads: its candidates (``_search_candidates``, and ``_keyword_candidates`` for the
keyword side through the scope-keyed index), the scope's counted size (cached a minute per shape of
the read), and the statements built once per shape: the exact path's one (``_exact_statement``), the
HNSW path's walk (``_walk_statement``) and the hybrid statement around it (``_around_statement``).
Used by :mod:`memories.search`.
"""

import hashlib
import time
import uuid
from datetime import datetime

from django.core.cache import cache
from django.db.models import Q
from django.utils import timezone

from accounts.models import Project
from mem0g_site.prepared import PreparedStatement
from memories.inputs import Scope, clean_scope
from memories.models import Memory
from memories.ranking import (
    SCOPE_TERM_KINDS,
    ScopeKey,
    hybrid_around_sql,
    hybrid_exact_sql,
    shared_sizes,
    walked_canonicals_sql,
)
from memories.selectors import memories_in

SCOPE_SIZE_CACHE_SECONDS = 60
# A scope found over the exact path's limit is remembered longer: counting it reads that many rows
# (a heap page each, for a heavy user) to learn only that it is large, and a large scope rarely
# drops under the limit (when it does, the HNSW path still answers it, with the full top-k). Its
# first search after the verdict expires counts its sides too: 15-25 ms more for the heaviest users
# of the million-memory bench, so the verdict that it is walked is kept an hour.
SCOPE_SIZE_LARGE_CACHE_SECONDS = 3600
# A large scope reaching few canonicals (scored, not walked) grows into a walked one by adds: that
# verdict is counted again sooner, as an over-limit count was before.
SCOPE_FEW_ENTRIES_CACHE_SECONDS = 600
# A scope over the exact path's limit is walked when it reaches more canonicals than this (or than
# that limit, if lower): "few" for a walk is where it stops being cheaper than scoring, not where
# scoring stops being cheap. A user of 6,323 rows who repeats facts reaches about 4,000 at a million
# memories: walked in 21-26 ms, scored in 31-41 (docs/BENCHMARKS.md, session 22).
WALK_ENTRIES_MIN = 2_000
# The most common terms remembered per scope (see ``known_common``): a query has a handful.
COMMON_TERMS_MAX = 256


def known_common(size_key: str | None, common_from: int) -> list[str]:
    """The query terms found common (in ``common_from`` of the candidates or more) in a large scope's
    searches of the last ``SCOPE_SIZE_LARGE_CACHE_SECONDS`` (``size_key``: the scope's, see
    ``_scope_size_key``; None: not remembered). A search leaves them out of its keyword side: they
    weigh 0, and finding that out again costs a heavy user's search a heap page per row, up to
    ``common_from`` of them a term (docs/BENCHMARKS.md, session 23)."""
    if size_key is None:
        return []
    return list(_common_learned(size_key, common_from, time.time()))


def remember_common(size_key: str | None, common_from: int, terms) -> None:
    """Add ``terms`` to what :func:`known_common` returns for the scope, each from now. A term stays
    an hour from when it was found, however often it is met since: a scope whose rows were deleted
    may find it rare again then. Two searches that learn at once may keep only one's terms, which the
    next search finds again. At most ``COMMON_TERMS_MAX`` are kept, the latest found."""
    if size_key is None or not terms:
        return
    now = time.time()
    learned = _common_learned(size_key, common_from, now)
    learned.update(dict.fromkeys(terms, now))
    kept = dict(sorted(learned.items(), key=lambda item: item[1])[-COMMON_TERMS_MAX:])
    cache.set(_common_key(size_key, common_from), kept, SCOPE_SIZE_LARGE_CACHE_SECONDS)


def _common_key(size_key: str, common_from: int) -> str:
    return f"{size_key}:common:{common_from}"


def _common_learned(size_key: str, common_from: int, now: float) -> dict[str, float]:
    """The scope's common terms, each with when it was found, found within the hour."""
    learned = cache.get(_common_key(size_key, common_from)) or {}
    return {term: when for term, when in learned.items() if when > now - SCOPE_SIZE_LARGE_CACHE_SECONDS}


def remember_scope_size(key: str, size: int, limit: int) -> None:
    """Cache a scope's counted size (up to ``limit + 1``) under ``key`` (see ``_scope_size_key``)."""
    cache.set(key, size, SCOPE_SIZE_CACHE_SECONDS if size <= limit else SCOPE_SIZE_LARGE_CACHE_SECONDS)


def _scope_size(project, scope: Scope | None, candidates, limit: int, *, shape: str | None) -> int:
    """How many rows a search would score (``candidates()``, a queryset), counted up to ``limit + 1``.
    Only picks the strategy (and floors the keyword weights), so it is cached for a minute per
    ``shape`` of the read (the scope, the filters and the read flags; ``None``: not cacheable): a
    stale count at worst picks the HNSW walk for a small scope, which the fallback in
    ``vector_ranking`` corrects. (A hybrid search counts in its own statement instead.)"""
    key = _scope_size_key(project, scope, limit, shape)
    size = cache.get(key) if key is not None else None
    if size is None:
        size = candidates()[: limit + 1].count()
        if key is not None:
            remember_scope_size(key, size, limit)
    return size


def _walks_its_canonicals(size_key: str, candidates_of, exact_max: int) -> bool:
    """Whether a large scope (over ``exact_max`` rows) is walked: whether its candidates that name no
    canonical (``Memory.vector_memory`` NULL) and the canonicals the others name, each counted up to
    ``limit + 1`` (``ranking.shared_sizes``, ``named``; ``candidates_of()``: the candidates' queryset,
    built only to count them), are more than ``limit``, the lower of ``exact_max`` and
    ``WALK_ENTRIES_MIN``: the entries of memory_embedding_hnsw the scope reaches. A filtered walk over
    few entries runs on to hnsw.max_scan_tuples, so a scope of many rows but few distinct vectors
    (the same facts said again and again) is scored exactly.
    The counts are cached under ``size_key`` (the scope's, see ``_scope_size_key``) as long as a
    large scope's size when they are many, else ``SCOPE_FEW_ENTRIES_CACHE_SECONDS``. A stale count
    at worst walks a scope that shrank (the walk's fallback scores it exactly) or scores one that
    grew (exact, only slower)."""
    limit = _walk_entries_limit(exact_max)
    key = _sides_key(size_key)
    sides = cache.get(key)
    if sides is None:
        sides = shared_sizes(candidates_of(), "vector_memory", limit + 1, named=True)
        kept = SCOPE_SIZE_LARGE_CACHE_SECONDS if sum(sides) > limit else SCOPE_FEW_ENTRIES_CACHE_SECONDS
        cache.set(key, sides, kept)
    return sum(sides) > limit


def remember_walked_sides(size_key: str, sides: tuple[int, int], exact_max: int) -> None:
    """A large scope's first search read some of its rows while it counted them, and their two sides
    (``ranking.hybrid_rows_counted``): more entries than the walk needs among those rows means more
    in the whole scope, so :func:`_walks_its_canonicals` would walk it. That verdict is cached as its
    own count's would be, and the count is not run; fewer decide nothing (it runs)."""
    if sum(sides) > _walk_entries_limit(exact_max):
        cache.set(_sides_key(size_key), sides, SCOPE_SIZE_LARGE_CACHE_SECONDS)


def _walk_entries_limit(exact_max: int) -> int:
    return min(exact_max, WALK_ENTRIES_MIN)


def _sides_key(size_key: str) -> str:
    return size_key + ":sides"


def _scope_size_key(project, scope: Scope | None, limit: int, shape: str | None) -> str | None:
    """The cache key of a scope's counted size (see ``_scope_size``); None: not cacheable."""
    if shape is None:
        return None
    parts = [str(project.pk), str(limit), shape] + [
        f"{k}={v}" for k, v in sorted((scope.as_filter() if scope else {}).items())
    ]
    return "mem0g:scope-size:" + hashlib.sha256("|".join(parts).encode()).hexdigest()


_PLAIN = (str, int, float, bool, type(None), datetime, uuid.UUID)


def _plain(value) -> bool:
    if isinstance(value, (list, tuple)):
        return all(isinstance(item, _PLAIN) for item in value)
    return isinstance(value, _PLAIN)


def _where_shape(where: Q | None) -> str | None:
    """A stable text for a filter made only of plain lookups (``user_id="u1"``,
    ``categories__overlap=[...]``, nested AND/OR/NOT of them): what the compiled ``filters`` of
    nearly every Mem0 client's search look like. ``None`` for anything else (an expression, a raw
    SQL part), whose text may not tell two filters apart."""
    return _where_shape_of(_where_template(where))


def _where_shape_of(template: tuple[str, list[str]] | None) -> str | None:
    """``_where_shape`` of a filter whose ``_where_template`` is in hand."""
    return None if template is None else f"{template[0]}|{template[1]!r}"


def _scope_key(project, scope: Scope | None, where: Q | None) -> ScopeKey | None:
    """The scope id the keyword side can look words up by: one the search is certainly within, from
    ``scope`` or from a plain top-level ``user_id=...`` (agent, app, run) of ``where``, the way the
    Mem0 clients name the user in ``filters``. ``None``: the search spans scopes."""
    named = clean_scope(scope, required=False).as_filter() if scope is not None else {}
    if where is not None and where.connector == Q.AND and not where.negated:
        for child in where.children:
            if isinstance(child, tuple) and child[0] in SCOPE_TERM_KINDS and isinstance(child[1], str):
                named.setdefault(child[0], child[1])
    for field in SCOPE_TERM_KINDS:
        if named.get(field):
            return ScopeKey(project.pk, field, named[field])
    return None


def _keyword_candidates(project, scope, where, key: ScopeKey, now=None, **read):
    """The same rows as ``_search_candidates(project, scope, where, **read)``, with the project and
    ``key``'s scope id as ``key.condition()`` (see ``ScopeKey.condition``)."""
    named = clean_scope(scope, required=False).as_filter() if scope is not None else {}
    rest = {f: v for f, v in named.items() if (f, v) != (key.field, key.value)}
    if where is not None and where.connector == Q.AND and not where.negated:
        kept = [child for child in where.children if child != (key.field, key.value)]
        where = Q(*kept) if kept else None
    base = Memory.objects.defer("embedding").filter(key.condition())
    return _search_candidates(project, Scope(**rest), where, base=base, now=now, **read)


def _search_candidates(project, scope, where, *, as_of, include_expired, include_superseded, base=None, now=None):
    """The memories a search scores (``now``: the moment "unexpired" means, by default the clock's)."""
    queryset = memories_in(project, scope) if base is None else base.filter(**scope.as_filter())
    if include_superseded:
        # Every row, closed since or not, but not a retracted record (a mistake, not a past fact);
        # with as_of, every row that had started to hold (and was on record) by then.
        queryset = queryset.not_retracted()
        if as_of is not None:
            queryset = queryset.begun_by(as_of)
        if not include_expired:
            queryset = queryset.unexpired(as_of or now or timezone.now())
    else:
        queryset = queryset.visible(as_of=as_of, include_expired=include_expired, now=now)
    queryset = queryset.filter(embedding__isnull=False)
    return queryset.filter(where) if where is not None else queryset


def _where_template(where: Q | None) -> tuple[str, list[str]] | None:
    """``where`` as a shape (its structure and every value but the strings, each written ``?``) and
    its string values in order; None when it is not made of plain lookups (see ``_where_shape``)."""
    if not where:
        return "", []
    strings: list[str] = []

    def walk(node) -> str | None:
        parts = []
        for child in node.children:
            if isinstance(child, Q):
                text = walk(child)
                if text is None:
                    return None
            elif isinstance(child, tuple) and len(child) == 2 and isinstance(child[0], str) and type(child[1]) is str:
                strings.append(child[1])
                text = f"({child[0]!r}, ?)"
            elif isinstance(child, tuple) and len(child) == 2 and isinstance(child[0], str) and _plain(child[1]):
                text = repr(child)
            else:
                return None
            parts.append(text)
        return f"{'NOT ' if node.negated else ''}{node.connector}({', '.join(parts)})"

    shape = walk(where)
    return None if shape is None else (shape, strings)


def _where_filled(where: Q | None, strings) -> Q | None:
    """``where`` with its string values (in ``_where_template``'s order) replaced by ``strings``."""
    if where is None:
        return None
    values = iter(strings)

    def fill(node) -> Q:
        children = []
        for child in node.children:
            if isinstance(child, Q):
                children.append(fill(child))
            elif type(child[1]) is str:
                children.append((child[0], next(values)))
            else:
                children.append(child)
        return Q(*children, _connector=node.connector, _negated=node.negated)

    return fill(where)


def _kept_statement(statements, build, project, scope, where, read, *, template, now, extra, **values):
    """``statements``' SQL (a ``PreparedStatement`` of ``build``) for a search, built once per shape:
    the scope's and the filter's names, the read flags and ``extra`` (what the builder writes into
    the SQL text: limits, flags); the project, the ids, the filter's strings, the clock and
    ``values`` are the statement's parameters. A filter that is not made of plain lookups is built
    every time. ``template``: ``_where_template(where)``, which the caller has already made for the
    scope-size cache. ``build`` reads its context and values back with :func:`_search_of`."""
    scope_ids = clean_scope(scope, required=False).as_filter() if scope is not None else {}
    values = {
        "project_id": project.pk,
        "now": now,
        "as_of": read["as_of"],
        **{f"id_{name}": value for name, value in scope_ids.items()},
        **{f"where_{i}": value for i, value in enumerate(template[1] if template else ())},
        **values,
    }
    context = (where, scope is not None, read, *extra)
    if template is None:
        return build(context, **values)
    flags = (read["include_expired"], read["include_superseded"])
    return statements.statement((template[0], scope is not None, flags, *extra), context, **values)


def _search_of(context, values: dict):
    """What :func:`_kept_statement` handed a builder, back as the search's project (only its id),
    scope, filter, read and clock; the values left in ``values`` are the builder's own."""
    where, scoped, read = context[:3]
    project = Project.from_db(None, ["id"], [values.pop("project_id")])  # only its id is read
    ids = {name.removeprefix("id_"): values.pop(name) for name in list(values) if name.startswith("id_")}
    where = _where_filled(where, [values.pop(f"where_{i}") for i in range(sum(k.startswith("where_") for k in values))])
    read = {**read, "as_of": values.pop("as_of")}
    return project, Scope(**ids) if scoped else None, where, read, values.pop("now")


def _words_in(project, scope, where, read, now, key: ScopeKey | None, candidates_of):
    """The keyword side's candidates: looked up by the scope's ``key`` when it has one, else the
    search's own (``candidates_of()``, built only then)."""
    if key is None:
        return candidates_of()
    return _keyword_candidates(project, scope, where, key, **read, now=now)


def _exact_statement(project, scope, where, read, *, best, keyed, semantic_limit, count_up_to=None, **values):
    """The exact path's hybrid statement (``ranking.hybrid_exact_sql``) for a search's candidates,
    kept per shape (:func:`_kept_statement`, ``_EXACT_STATEMENTS``). ``values``: ``template``,
    ``now``, the query, ``literal``, ``keyword_limit`` and ``scope_rows``."""
    top_k, threshold = best if best is not None else (None, None)
    # (The LIMITs of the semantic side and of the count are written into the SQL text: the shape's.)
    extra = (best is not None, keyed, semantic_limit, count_up_to)
    return _kept_statement(
        _EXACT_STATEMENTS,
        _build_exact_statement,
        project,
        scope,
        where,
        read,
        extra=extra,
        top_k=top_k,
        threshold=threshold,
        **values,
    )


def _build_exact_statement(context, **values):
    project, scope, where, read, now = _search_of(context, values)
    cut, keyed, semantic_limit, count_up_to = context[3:]
    candidates = _search_candidates(project, scope, where, **read, now=now)
    key = _scope_key(project, scope, where) if keyed else None
    words_in = _words_in(project, scope, where, read, now, key, lambda: candidates)
    return hybrid_exact_sql(
        candidates,
        values["query"],
        values["literal"],
        semantic_limit,
        values["keyword_limit"],
        values.get("scope_rows"),
        best=(values["top_k"], values["threshold"]) if cut else None,
        keyword_candidates=words_in,
        scope_key=key,
        count_up_to=count_up_to,
    )


_EXACT_STATEMENTS = PreparedStatement(_build_exact_statement)


def _walk_statement(project, scope, where, read, *, limit: int, **values) -> tuple[str, list]:
    """The HNSW path's walk (``ranking.walked_canonicals_sql``) for a search's candidates, kept per
    shape (:func:`_kept_statement`, ``_WALK_STATEMENTS``): building it through the ORM (the EXISTS,
    the UNION) cost about 2 ms a search. ``values``: ``template``, ``now`` and ``literal``."""
    return _kept_statement(
        _WALK_STATEMENTS, _build_walk_statement, project, scope, where, read, extra=(limit,), **values
    )


def _build_walk_statement(context, **values):
    project, scope, where, read, now = _search_of(context, values)
    (limit,) = context[3:]
    return walked_canonicals_sql(_search_candidates(project, scope, where, **read, now=now), values["literal"], limit)


_WALK_STATEMENTS = PreparedStatement(_build_walk_statement)


def _around_statement(project, scope, where, read, *, keyed, common_from, **values) -> tuple[str, list]:
    """The HNSW path's hybrid statement around the walk's rows (``ranking.hybrid_around_sql``), kept
    per shape (:func:`_kept_statement`, ``_AROUND_STATEMENTS``): building it through the ORM, with
    the keyword side's candidates, cost a large scope's search about 1.5 ms. ``values``:
    ``template``, ``now``, ``semantic_ids`` (``ranking.ids_literal``), ``top_k``, ``threshold``, the
    query, ``literal``, ``keyword_limit``, ``scope_rows`` and ``known_common``
    (``ranking.lexemes_text``). (``common_from`` is written into the SQL text: a word's row LIMIT,
    the shape's.)"""
    return _kept_statement(
        _AROUND_STATEMENTS, _build_around_statement, project, scope, where, read, extra=(keyed, common_from), **values
    )


def _build_around_statement(context, **values):
    project, scope, where, read, now = _search_of(context, values)
    keyed, common_from = context[3:]
    key = _scope_key(project, scope, where) if keyed else None
    words_in = _words_in(
        project, scope, where, read, now, key, lambda: _search_candidates(project, scope, where, **read, now=now)
    )
    return hybrid_around_sql(
        values["semantic_ids"],
        words_in,
        values["query"],
        values["literal"],
        values["keyword_limit"],
        values["scope_rows"],
        best=(values["top_k"], values["threshold"]),
        scope_key=key,
        common_from=common_from,
        known_common=values["known_common"],
    )


_AROUND_STATEMENTS = PreparedStatement(_build_around_statement)
