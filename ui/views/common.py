"""What the UI's views share: the acting person, paging, 404s for what is not there, form fields."""

import json
from typing import Any
from urllib.parse import urlencode

from django.http import Http404, QueryDict

from mem0g_site.exceptions import NotFound, ValidationFailed
from memories import selectors

PAGE_SIZE = 20


def actor(request) -> str:
    return f"ui:{request.user.get_username()}"


def page_number(value: str | None) -> int:
    try:
        number = int(value or 1)
    except ValueError:
        return 1
    return max(1, min(number, 10**6))


def pager(params, result) -> dict[str, str]:
    """The query strings of the pages around ``result`` (a ``Page``), for ``ui/_pager.html``."""
    links = {}
    if result.has_next:
        links["next_query"] = query_string(params, page=result.page + 1)
    if result.has_previous:
        links["previous_query"] = query_string(params, page=result.page - 1)
    return links


def user_or_404(project, user_id: str) -> dict[str, Any]:
    try:
        return selectors.user_overview(project=project, user_id=user_id)
    except (NotFound, ValidationFailed):
        raise Http404("No such user") from None


def memory_or_404(project, memory_id):
    try:
        return selectors.memory_get(project=project, memory_id=memory_id)
    except NotFound:
        raise Http404("No such memory") from None


def parse_metadata(value: str | None) -> dict:
    value = (value or "").strip()
    if not value:
        return {}
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as exc:
        raise ValidationFailed(f"metadata is not valid JSON ({exc.msg})", field="metadata") from None
    if not isinstance(parsed, dict):
        raise ValidationFailed("metadata must be a JSON object", field="metadata")
    return parsed


def parse_categories(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def query_string(params: QueryDict, **changes) -> str:
    merged = {key: value for key, value in params.items() if value}
    merged.update({key: value for key, value in changes.items()})
    return urlencode({key: value for key, value in merged.items() if value not in (None, "")})
