"""The values of the filter grammar: strings, ids, lists, JSON, moments, and the JSONB expressions
that address a metadata path. Every malformed value raises ``InvalidRequest`` naming its key."""

import math
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import reduce
from operator import and_, or_
from typing import Any, NoReturn

from django.db.models import CharField, F, Func, JSONField, Q, TextField, Value
from django.db.models.functions import Coalesce
from django.db.models.lookups import (
    In,
)

from mem0g_site.exceptions import InvalidRequest
from mem0g_site.inputs import day_start, read_moment

# Logical nesting (AND/OR/NOT inside each other) and metadata values may go this deep, no deeper.
MAX_DEPTH = 10
WILDCARD = "*"
ENTITY_ALIASES = {"session_id": "run_id"}
_DAY = timedelta(days=1)
_NOTHING = Q(pk__in=[])  # Django turns an empty IN into "no rows"...
_EVERYTHING = ~_NOTHING  # ...and its negation into "all rows".


def _fail(message: str, key: Any) -> NoReturn:
    raise InvalidRequest(message, details={"key": str(key)})


def _all(parts: Iterable[Q]) -> Q:
    return reduce(and_, parts)


def _any(parts: Iterable[Q]) -> Q:
    return reduce(or_, parts, _NOTHING)


# --- values -----------------------------------------------------------------------------------


def _string(value: Any, key: str) -> str:
    if not isinstance(value, str):
        _fail(f"Invalid value for '{key}': expected a string", key)
    if "\x00" in value:
        _fail(f"Invalid value for '{key}': NUL characters are not allowed", key)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        _fail(f"Invalid value for '{key}': lone surrogates are not allowed", key)
    return value


def _entity_id(value: Any, key: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return _string(value, key)


def _list(value: Any, key: str, item: Callable[[Any, str], Any]) -> list:
    if not isinstance(value, list):
        _fail(f"Invalid value for '{key}': expected a list", key)
    return [item(entry, key) for entry in value]


def _memory_id(value: Any, key: str) -> uuid.UUID:
    try:
        return uuid.UUID(_string(value, key))
    except ValueError:
        _fail(f"Invalid value for '{key}': {value!r} is not a UUID", key)


def _json(value: Any, key: str, depth: int = 0) -> Any:
    """A JSON value PostgreSQL will store as jsonb: finite numbers, string keys, no NUL, bounded depth."""
    if depth > MAX_DEPTH:
        _fail(f"Invalid value for '{key}': nested deeper than {MAX_DEPTH} levels", key)
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            _fail(f"Invalid value for '{key}': numbers must be finite", key)
        return value
    if isinstance(value, str):
        return _string(value, key)
    if isinstance(value, list):
        return [_json(entry, key, depth + 1) for entry in value]
    if isinstance(value, dict):
        return {_string(name, key): _json(entry, key, depth + 1) for name, entry in value.items()}
    _fail(f"Invalid value for '{key}': not a JSON value", key)


@dataclass(frozen=True)
class _Moment:
    """A filter's point in time: an instant, or (``day``) a whole UTC day starting at ``start``."""

    start: datetime
    day: bool

    @property
    def end(self) -> datetime:
        return self.start + _DAY if self.day else self.start


def _parse_moment(value: Any) -> _Moment:
    """The one moment parser's reading (:func:`mem0g_site.inputs.read_moment`), a date as the whole day."""
    value = read_moment(value)
    if value is None:
        raise ValueError(value)
    if isinstance(value, datetime):
        return _Moment(value, day=False)
    return _Moment(day_start(value), day=True)


def _moment(value: Any, key: str) -> _Moment:
    try:
        moment = _parse_moment(value)
        moment.end  # noqa: B018 -- a day must have a next day (9999-12-31 has none)
        return moment
    except (ValueError, OverflowError, OSError):
        _fail(f"Invalid value for '{key}': expected an ISO 8601 date or datetime, or Unix seconds", key)


# --- metadata expressions ---------------------------------------------------------------------


class _JsonbAt(Func):
    """``metadata #> path``: the JSON value at a path inside the metadata (NULL when absent)."""

    operator = "#>"
    output_field = JSONField()

    def __init__(self, path: tuple[str, ...]) -> None:
        super().__init__(F("metadata"))
        self.path = list(path)

    def as_sql(self, compiler, connection, **extra_context):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"({sql} {self.operator} %s::text[])", (*params, self.path)


class _TextAt(_JsonbAt):
    """``metadata #>> path``: the value at a path as text."""

    operator = "#>>"
    output_field = TextField()


class _LowerJsonbAt(_JsonbAt):
    """The value at a path with every string in it lower-cased (JSON syntax is already lower case)."""

    output_field = JSONField()

    def as_sql(self, compiler, connection, **extra_context):
        sql, params = super().as_sql(compiler, connection, **extra_context)
        return f"lower({sql}::text)::jsonb", params


def _typeof_is(path: tuple[str, ...], *types: str) -> Q:
    """Whether the value at ``path`` has one of the jsonb ``types``; false (never NULL) when absent."""
    typeof = Func(_JsonbAt(path), function="jsonb_typeof", output_field=CharField())
    return Q(In(Coalesce(typeof, Value("absent")), list(types)))


def _nest(path: tuple[str, ...], value: Any) -> dict:
    for name in reversed(path[1:]):
        value = {name: value}
    return {path[0]: value}


def _metadata_path(name: Any, key: str) -> tuple[str, ...]:
    """Dotted names address nested objects: ``a.b`` is ``metadata->a->b``."""
    if not isinstance(name, str):
        _fail(f"Unsupported filter key '{key}'", key)
    path = tuple(name.split("."))
    if not all(path) or "\x00" in name:
        _fail(f"Unsupported filter key '{key}'", key)
    return path
