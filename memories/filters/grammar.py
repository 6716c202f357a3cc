"""The filter grammar itself: each field's kind and operators (``_FIELDS``, a rule table), the
logical tree, :func:`compile_filters` and :func:`check_filters_size`."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import reduce
from operator import or_
from typing import Any

from django.db.models import JSONField, Q, Value
from django.db.models.fields.json import DataContains
from django.db.models.lookups import (
    Contains,
    GreaterThan,
    GreaterThanOrEqual,
    IContains,
    LessThan,
    LessThanOrEqual,
)

from mem0g_site.exceptions import InvalidRequest
from memories.filters.values import (
    _EVERYTHING,
    ENTITY_ALIASES,
    MAX_DEPTH,
    WILDCARD,
    _all,
    _any,
    _entity_id,
    _fail,
    _json,
    _JsonbAt,
    _list,
    _LowerJsonbAt,
    _memory_id,
    _metadata_path,
    _moment,
    _nest,
    _string,
    _TextAt,
    _typeof_is,
)
from memories.models import SCOPE_FIELDS

# --- per-kind operators -----------------------------------------------------------------------
# Each operator is handler(target, operand, key) -> Q; the target is a column name, or the path
# inside ``metadata`` for the metadata kind.


def _entity_eq(column: str, value: Any, key: str) -> Q:
    return Q(**{column: _entity_id(value, key)})


def _entity_in(column: str, value: Any, key: str) -> Q:
    return Q(**{f"{column}__in": _list(value, key, _entity_id)})


def _time_eq(column: str, value: Any, key: str) -> Q:
    moment = _moment(value, key)
    if moment.day:
        return Q(**{f"{column}__gte": moment.start, f"{column}__lt": moment.end})
    return Q(**{column: moment.start})


def _time_in(column: str, value: Any, key: str) -> Q:
    if not isinstance(value, list):
        _fail(f"Invalid value for '{key}': expected a list", key)
    return _any(_time_eq(column, entry, key) for entry in value)


def _time_gt(column: str, value: Any, key: str) -> Q:
    moment = _moment(value, key)  # after a day: from the next day on
    return Q(**{f"{column}__gte": moment.end}) if moment.day else Q(**{f"{column}__gt": moment.start})


def _time_gte(column: str, value: Any, key: str) -> Q:
    return Q(**{f"{column}__gte": _moment(value, key).start})


def _time_lt(column: str, value: Any, key: str) -> Q:
    return Q(**{f"{column}__lt": _moment(value, key).start})


def _time_lte(column: str, value: Any, key: str) -> Q:
    moment = _moment(value, key)  # up to a day: through its end
    return Q(**{f"{column}__lt": moment.end}) if moment.day else Q(**{f"{column}__lte": moment.start})


def _category_list(value: Any, key: str) -> list[str]:
    return [_string(value, key)] if isinstance(value, str) else _list(value, key, _string)


def _categories_in(column: str, value: Any, key: str) -> Q:
    return Q(**{f"{column}__overlap": _list(value, key, _string)})


def _categories_contains(column: str, value: Any, key: str) -> Q:
    return Q(**{f"{column}__contains": _category_list(value, key)})


def _memory_ids(column: str, value: Any, key: str) -> Q:
    return Q(**{f"{column}__in": _list(value, key, _memory_id)})


def _text_lookup(lookup: str) -> Callable[[str, Any, str], Q]:
    def handler(column: str, value: Any, key: str) -> Q:
        return Q(**{f"{column}__{lookup}": _string(value, key)})

    return handler


def _meta_eq(path: tuple[str, ...], value: Any, key: str) -> Q:
    # JSON containment (served by the GIN index): exact for scalars; a list or object value matches
    # stored values that contain it.
    return Q(metadata__contains=_nest(path, _json(value, key)))


def _meta_in(path: tuple[str, ...], value: Any, key: str) -> Q:
    if not isinstance(value, list):
        _fail(f"Invalid value for '{key}': expected a list", key)
    return _any(_meta_eq(path, entry, key) for entry in value)


def _meta_contains(path: tuple[str, ...], value: Any, key: str) -> Q:
    """A substring of a string value (case-sensitive), or member(s) of a list value."""
    value = _json(value, key)
    members = value if isinstance(value, list) else [value]
    in_list = Q(metadata__contains=_nest(path, members))
    if not isinstance(value, str):
        return in_list
    return (_typeof_is(path, "string") & Q(Contains(_TextAt(path), value))) | in_list


def _meta_icontains(path: tuple[str, ...], value: Any, key: str) -> Q:
    """A substring of a string value, or a member of a list value, ignoring case."""
    value = _string(value, key)
    in_string = _typeof_is(path, "string") & Q(IContains(_TextAt(path), value))
    in_list = _typeof_is(path, "array") & Q(DataContains(_LowerJsonbAt(path), Value([value.lower()], JSONField())))
    return in_string | in_list


def _meta_compare(lookup: type) -> Callable[[tuple[str, ...], Any, str], Q]:
    """gt/gte/lt/lte against a number (numeric order) or a string (text order) of the same JSON type."""

    def handler(path: tuple[str, ...], value: Any, key: str) -> Q:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            _fail(f"Invalid value for '{key}': expected a number or a string", key)
        value = _json(value, key)
        kind = "string" if isinstance(value, str) else "number"
        return _typeof_is(path, kind) & Q(lookup(_JsonbAt(path), Value(value, JSONField())))

    return handler


def _negated(handler: Callable[[Any, Any, str], Q]) -> Callable[[Any, Any, str], Q]:
    return lambda target, value, key: ~handler(target, value, key)


@dataclass(frozen=True)
class _Kind:
    """What one kind of field accepts: operators, a bare value, and ``"*"``."""

    ops: Mapping[str, Callable[[Any, Any, str], Q]]
    bare: Callable[[Any, Any, str], Q]
    wildcard: Callable[[Any], Q] | None = None
    oss_ops: frozenset[str] = field(default_factory=frozenset)  # refused when allow_oss=False


ENTITY = _Kind(
    ops={"eq": _entity_eq, "ne": _negated(_entity_eq), "in": _entity_in, "nin": _negated(_entity_in)},
    bare=_entity_eq,
    wildcard=lambda column: Q(**{f"{column}__isnull": False}),
    oss_ops=frozenset({"nin"}),
)
TIME = _Kind(
    ops={
        "eq": _time_eq,
        "ne": _negated(_time_eq),
        "in": _time_in,
        "gt": _time_gt,
        "gte": _time_gte,
        "lt": _time_lt,
        "lte": _time_lte,
    },
    bare=_time_eq,
    wildcard=lambda column: Q(**{f"{column}__isnull": False}),
    oss_ops=frozenset({"eq"}),  # the Platform only takes a bare value for equality
)
CATEGORIES = _Kind(
    ops={"in": _categories_in, "nin": _negated(_categories_in), "contains": _categories_contains},
    bare=_categories_contains,
    wildcard=lambda column: ~Q(**{column: []}),
    oss_ops=frozenset({"nin"}),
)
MEMORY_IDS = _Kind(ops={}, bare=_memory_ids)
KEYWORDS = _Kind(
    ops={"contains": _text_lookup("contains"), "icontains": _text_lookup("icontains")},
    bare=_text_lookup("icontains"),
)
TEXT = _Kind(
    ops={"eq": _text_lookup("exact"), "contains": _text_lookup("contains"), "icontains": _text_lookup("icontains")},
    bare=_text_lookup("icontains"),
)
METADATA = _Kind(
    ops={
        "eq": _meta_eq,
        "ne": _negated(_meta_eq),
        "in": _meta_in,
        "nin": _negated(_meta_in),
        "contains": _meta_contains,
        "icontains": _meta_icontains,
        "gt": _meta_compare(GreaterThan),
        "gte": _meta_compare(GreaterThanOrEqual),
        "lt": _meta_compare(LessThan),
        "lte": _meta_compare(LessThanOrEqual),
    },
    bare=_meta_eq,
    # Present with a non-null value.
    wildcard=lambda path: _typeof_is(path, "string", "number", "boolean", "array", "object"),
    oss_ops=frozenset({"nin"}),
)

# key -> (kind, column). ``metadata`` and the logical keys are handled on their own.
_FIELDS: dict[str, tuple[_Kind, str]] = {
    **{name: (ENTITY, name) for name in SCOPE_FIELDS},
    **{alias: (ENTITY, column) for alias, column in ENTITY_ALIASES.items()},
    "actor_id": (ENTITY, "actor_id"),
    "memory_type": (ENTITY, "memory_type"),  # "procedural_memory"; "*": any kind; ne/NOT: ordinary ones too
    **{name: (TIME, name) for name in ("created_at", "updated_at", "expiration_date", "valid_from", "valid_to")},
    "timestamp": (TIME, "created_at"),
    "categories": (CATEGORIES, "categories"),
    "memory_ids": (MEMORY_IDS, "id"),
    "keywords": (KEYWORDS, "memory"),
    "keywords_search": (KEYWORDS, "memory"),
    "text": (TEXT, "memory"),
}
_OSS_KEYS = frozenset({"actor_id"})


def _condition(kind: _Kind, target: Any, key: str, value: Any, allow_oss: bool) -> Q:
    if kind.wildcard is not None and isinstance(value, str) and value == WILDCARD:
        return kind.wildcard(target)
    if not (kind.ops and isinstance(value, dict)):
        return kind.bare(target, value, key)
    if not value:
        _fail(f"Empty operator object for '{key}'", key)
    parts = []
    for op, operand in value.items():
        handler = kind.ops.get(op) if isinstance(op, str) else None
        if handler is None or (op in kind.oss_ops and not allow_oss):
            _fail(f"Unsupported operator '{op}' for '{key}'", key)
        parts.append(handler(target, operand, key))
    return _all(parts)


# --- the tree ---------------------------------------------------------------------------------


def _node(node: Any, allow_oss: bool, depth: int, key: str) -> Q:
    if not isinstance(node, dict) or not node:
        _fail(f"'{key}' must hold non-empty filter objects", key)
    return _all(_key(name, value, allow_oss, depth) for name, value in node.items())


def _branches(key: str, value: Any, allow_oss: bool, depth: int) -> list[Q]:
    if depth >= MAX_DEPTH:
        _fail(f"Filters nest deeper than {MAX_DEPTH} levels at '{key}'", key)
    if key == "NOT" and isinstance(value, dict):
        value = [value]
    if not isinstance(value, list) or not value:
        _fail(f"'{key}' must be a non-empty list of filter objects", key)
    return [_node(entry, allow_oss, depth + 1, key) for entry in value]


_LOGICAL: dict[str, Callable[[list[Q]], Q]] = {
    "AND": _all,
    "OR": lambda branches: reduce(or_, branches),
    "NOT": lambda branches: _all(~branch for branch in branches),  # none of them holds
}


def _metadata(value: Any, allow_oss: bool) -> Q:
    if not isinstance(value, dict):
        _fail("'metadata' must be an object", "metadata")
    if not value:
        return _EVERYTHING  # {} is contained in every metadata; an explicit "all rows" stays right under OR/NOT
    parts = []
    for name, condition in value.items():
        key = f"metadata.{name}"
        parts.append(_condition(METADATA, _metadata_path(name, key), key, condition, allow_oss))
    return _all(parts)


def _key(key: Any, value: Any, allow_oss: bool, depth: int) -> Q:
    if not isinstance(key, str):
        _fail(f"Unsupported filter key '{key}'", key)
    if key in _LOGICAL:
        return _LOGICAL[key](_branches(key, value, allow_oss, depth))
    if key == "metadata":
        return _metadata(value, allow_oss)
    if key.startswith("metadata.") and allow_oss:
        return _condition(METADATA, _metadata_path(key.removeprefix("metadata."), key), key, value, allow_oss)
    entry = _FIELDS.get(key)
    if entry is None or (key in _OSS_KEYS and not allow_oss):
        _fail(f"Unsupported filter key '{key}'", key)
    kind, column = entry
    return _condition(kind, column, key, value, allow_oss)


def _operand_size(value: Any) -> int:
    return max(1, len(value)) if isinstance(value, list) else 1


def _condition_size(value: Any) -> int:
    """How many conditions one field's value makes: one per operator, one per value of a list."""
    if isinstance(value, dict) and value:
        return sum(_operand_size(operand) for operand in value.values())
    return _operand_size(value)


def check_filters_size(filters: Any, *, max_conditions: int | None = None) -> int:
    """Count the field conditions of ``filters`` (an ``in`` list counts each value, a ``metadata``
    object each of its keys' conditions) and the logical nesting, before anything is built; raise
    ``InvalidRequest`` naming the limit when there are more than ``max_conditions``
    (``MAX_FILTER_CONDITIONS``) or the nesting is deeper than ``MAX_DEPTH``. Malformed parts are
    left to ``compile_filters``. Returns the count."""
    from django.conf import settings

    limit = settings.MAX_FILTER_CONDITIONS if max_conditions is None else max_conditions
    count = 0
    stack = [(filters, 0)]
    while stack:
        node, depth = stack.pop()
        if not isinstance(node, dict):
            continue
        for key, value in node.items():
            if key in _LOGICAL:
                if depth + 1 > MAX_DEPTH:
                    _fail(f"Filters nest deeper than {MAX_DEPTH} levels at '{key}'", key)
                branches = [value] if isinstance(value, dict) else value if isinstance(value, list) else []
                stack.extend((branch, depth + 1) for branch in branches)
            elif key == "metadata" and isinstance(value, dict):
                count += sum(_condition_size(entry) for entry in value.values())
            else:
                count += _condition_size(value)
            if count > limit:
                raise InvalidRequest(
                    f"filters hold more than {limit} conditions (MAX_FILTER_CONDITIONS)",
                    details={"key": "filters", "limit": "MAX_FILTER_CONDITIONS", "value": limit},
                )
    return count


def compile_filters(filters: Any, *, allow_oss: bool = True) -> Q:
    """Mem0 ``filters`` as a ``Q`` over ``Memory``; ``None`` or ``{}`` is ``Q()`` (no condition).

    Whether an entity id is required is the caller's business (see ``has_entity_id``).
    Raises ``InvalidRequest`` with ``details={"key": ...}`` for anything it cannot compile, and for
    filters over the size limits (``check_filters_size``), checked before anything is built.
    """
    if filters is None:
        return Q()
    if not isinstance(filters, dict):
        _fail("filters must be an object", "filters")
    check_filters_size(filters)
    return _node(filters, allow_oss, 0, "filters") if filters else Q()
