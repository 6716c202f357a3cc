"""The entity ids a filter names (``entity_ids``, ``has_entity_id``, ``names_entity``): read without
compiling it, for the dialects' scope rules."""

from collections.abc import Iterable
from typing import Any

from memories.filters.grammar import _LOGICAL
from memories.filters.values import ENTITY_ALIASES, MAX_DEPTH, WILDCARD
from memories.models import SCOPE_FIELDS

# --- entity ids -------------------------------------------------------------------------------


def _walk(filters: Any, *, into_not: bool, depth: int = 0) -> Iterable[tuple[str, Any]]:
    """(key, value) of every field condition in the tree, tolerating malformed parts."""
    if not isinstance(filters, dict) or depth > MAX_DEPTH:
        return
    for key, value in filters.items():
        if key in _LOGICAL:
            if key == "NOT" and not into_not:
                continue
            for branch in [value] if isinstance(value, dict) else value if isinstance(value, list) else []:
                yield from _walk(branch, into_not=into_not, depth=depth + 1)
        else:
            yield key, value


def _entity_key(key: Any) -> str | None:
    if not isinstance(key, str):
        return None
    name = ENTITY_ALIASES.get(key, key)
    return name if name in SCOPE_FIELDS else None


def entity_ids(filters: Any) -> dict[str, set[str]]:
    """The entity ids named by plain equality (a bare value other than ``"*"``, or ``{"eq": v}``)
    anywhere in the tree except under ``NOT``, e.g. ``{"user_id": {"alice"}}``; ``session_id``
    counts as ``run_id``. Only entities that are named appear. Never raises."""
    found: dict[str, set[str]] = {}
    for key, value in _walk(filters, into_not=False):
        name = _entity_key(key)
        if name is None:
            continue
        if isinstance(value, dict):
            value = value.get("eq")
        if isinstance(value, bool) or not isinstance(value, (str, int)) or value == WILDCARD:
            continue
        found.setdefault(name, set()).add(str(value))
    return found


def has_entity_id(filters: Any) -> bool:
    """Whether the tree mentions user_id/agent_id/app_id/run_id (or session_id) anywhere, in any form."""
    return any(_entity_key(key) is not None for key, _ in _walk(filters, into_not=True))


def _positive_entity_value(value: Any) -> bool:
    """A value that names entities: a bare id, ``"*"`` (Mem0: any entity that has this id set),
    ``{"eq": id}`` or ``{"in": [id, ...]}`` (non-empty), and nothing else in the operator object."""

    def is_id(item: Any) -> bool:
        return (isinstance(item, str) and item != "") or (isinstance(item, int) and not isinstance(item, bool))

    if isinstance(value, dict):
        if not value or set(value) - {"eq", "in"}:
            return False
        eq_ok = "eq" not in value or is_id(value["eq"])
        in_ok = "in" not in value or (
            isinstance(value["in"], list) and bool(value["in"]) and all(is_id(item) for item in value["in"])
        )
        return eq_ok and in_ok
    return is_id(value)


def names_entity(filters: Any, *, depth: int = 0) -> bool:
    """Whether every row ``filters`` can match has one of the entity ids it names: the guard of bulk
    deletes. True when, among the conditions that must all hold (the root's keys and ``AND``
    branches), one is a positive equality or ``in`` on user_id/agent_id/app_id/run_id (or
    session_id), or Mem0's ``"*"``; or an ``OR`` whose every branch names one. ``ne``, ``nin``,
    ``NOT``, empty lists and anything malformed name nobody."""
    if not isinstance(filters, dict) or not filters or depth > MAX_DEPTH:
        return False
    for key, value in filters.items():
        if _entity_key(key) is not None and _positive_entity_value(value):
            return True
        if key == "AND" and isinstance(value, list) and any(names_entity(b, depth=depth + 1) for b in value):
            return True
        if key == "OR" and isinstance(value, list) and value and all(names_entity(b, depth=depth + 1) for b in value):
            return True
    return False
