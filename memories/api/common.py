"""Reading Mem0-style requests: scopes from top-level ids or filters, flags, pages, times.

Every dialect parses with these and then calls the same services and selectors.
"""

import ast
import json
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.db.models import Q

from accounts.access import key_scope
from mem0g_site.exceptions import InvalidRequest, ValidationFailed
from mem0g_site.paging import has_next
from mem0g_site.parsers import check_json
from memories.filters import compile_filters, entity_ids, has_entity_id
from memories.inputs import Scope, clean_id

ENTITY_FIELDS = ("user_id", "agent_id", "app_id", "run_id")


def top_level_scope(data: dict) -> Scope:
    """``user_id``/``agent_id``/``app_id``/``run_id`` (``session_id`` = ``run_id``) given at the top level."""
    values = {field: clean_id(data.get(field), field_name=field) for field in ENTITY_FIELDS}
    if values["run_id"] is None and data.get("session_id") is not None:
        values["run_id"] = clean_id(data.get("session_id"), field_name="session_id")
    return Scope(**values)  # canonical string ids (5 and "5" are one id), so key fences compare like with like


def merged_scope(data: dict) -> Scope:
    """Top-level ids, completed by plain ids inside ``filters`` (the SDK's ``add(filters=...)`` form)."""
    scope = top_level_scope(data)
    filters = data.get("filters")
    if isinstance(filters, dict):
        named = entity_ids(filters)
        values = {field: getattr(scope, field) for field in ENTITY_FIELDS}
        for field in ENTITY_FIELDS:
            if values[field] is None and len(named.get(field, ())) == 1:
                values[field] = next(iter(named[field]))
        scope = Scope(**values)
    return scope


def request_filters(request, data: dict, *, require_entity: bool, allow_oss: bool = True) -> tuple[Scope, Q]:
    """The scope (narrowed to the key's user) and the compiled ``filters`` of a list or search call.
    Top-level ids (legacy clients) are ANDed with ``filters``."""
    filters = data.get("filters")
    if filters is not None and not isinstance(filters, dict):
        raise InvalidRequest("filters must be a JSON object", details={"key": "filters"})
    return scoped_filters(
        request, top_level_scope(data), filters or {}, require_entity=require_entity, allow_oss=allow_oss
    )


def contract_scope(values: dict) -> Scope:
    """The top-level ids a request contract read (``memories.api.contract.ScopeIds``)."""
    run_id = values.get("run_id")
    return Scope(
        user_id=values.get("user_id"),
        agent_id=values.get("agent_id"),
        app_id=values.get("app_id"),
        run_id=run_id if run_id is not None else values.get("session_id"),
    )


def scoped_filters(
    request, scope: Scope, filters: dict, *, require_entity: bool, allow_oss: bool = True
) -> tuple[Scope, Q]:
    """``scope`` narrowed to the key's user, and ``filters`` compiled; ``require_entity``: one of
    them must name a user, agent, app or run."""
    scope = key_scope(request.auth, scope)
    if require_entity and scope.is_empty and not has_entity_id(filters):
        raise InvalidRequest(
            "filters must name at least one of user_id, agent_id, app_id or run_id", details={"key": "filters"}
        )
    return scope, compile_filters(filters, allow_oss=allow_oss)


def query_filters(raw: str, *, key: str = "filters") -> dict:
    """``delete_all(filters=...)`` arrives as the Python repr of a dict in the query string (the
    SDK stringifies it); JSON is accepted too."""
    for parse in (json.loads, ast.literal_eval):
        try:
            value = parse(raw)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            continue
        if isinstance(value, dict):
            # What a JSON body must be, a Python literal must be too (its "\ud800" escapes included).
            check_json(value, max_depth=settings.MAX_JSON_DEPTH, what=f"{key} (query parameter)")
            return value
    raise InvalidRequest(f"{key} must be a JSON object (or a Python dict literal)", details={"key": key})


def page_links(request, page: int, page_size: int, count: int) -> tuple[str | None, str | None]:
    def link(number: int) -> str:
        params = {k: v for k, v in request.query_params.items() if k not in ("page", "page_size")}
        params.update(page=number, page_size=page_size)
        return request.build_absolute_uri(request.path) + "?" + urlencode(params)

    next_link = link(page + 1) if has_next(page=page, page_size=page_size, count=count) else None
    previous_link = link(page - 1) if page > 1 else None
    return next_link, previous_link


def page_body(request, *, page: int, page_size: int, count: int, results: list) -> dict[str, Any]:
    """A Platform page: ``count``, links to the ``next`` and ``previous`` pages, ``results``."""
    next_link, previous_link = page_links(request, page, page_size, count)
    return {"count": count, "next": next_link, "previous": previous_link, "results": results}


def pick_fields(items: list[dict], fields: Any) -> list[dict]:
    """Mem0's ``fields``: only these keys (and ``id``) in each result."""
    if fields is None:
        return items
    if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
        raise ValidationFailed("fields must be a list of field names", field="fields")
    keep = set(fields) | {"id"}
    return [{k: v for k, v in item.items() if k in keep} for item in items]


def extra_where(data: dict) -> Q:
    """``categories``, ``metadata``, ``keywords``, ``start_date``/``end_date`` given beside ``filters``."""
    extra = {}
    if data.get("categories") is not None:
        extra["categories"] = {"in": data["categories"]} if isinstance(data["categories"], list) else data["categories"]
    if data.get("metadata") is not None:
        extra["metadata"] = data["metadata"]
    if data.get("keywords") is not None:
        extra["keywords"] = data["keywords"]
    start, end = data.get("start_date"), data.get("end_date")
    if start is not None or end is not None:
        extra["created_at"] = {k: v for k, v in (("gte", start), ("lte", end)) if v is not None}
    return compile_filters(extra) if extra else Q()
