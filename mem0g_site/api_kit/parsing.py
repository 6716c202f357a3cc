"""Reading request values the way Mem0 is lenient about them: a JSON body, unknown fields (the
view's policy), flags, whole numbers, numbers, moments, expirations, JSON objects. Each refuses a
bad value with our own error (``ValidationFailed``, 422, naming the field; ``InvalidRequest``, 400)."""

from datetime import date, datetime
from typing import Any

from mem0g_site import unknown_fields
from mem0g_site.exceptions import InvalidRequest, ValidationFailed
from mem0g_site.inputs import parse_day_or_moment, parse_moment


def body_of(request) -> dict[str, Any]:
    data = request.data if request.data is not None else {}
    if data == {} and not request.body:
        return {}
    if not isinstance(data, dict):
        raise InvalidRequest("The request body must be a JSON object")
    return data


def refuse_unknown(data: dict, allowed: set[str], *, where: str = "body") -> None:
    """Fields of ``data`` not in ``allowed``: a 400, or ignored on the Mem0 dialects' views (the
    view's ``unknown_fields`` policy, mem0g_site/unknown_fields.py)."""
    unknown_fields.check(data, allowed, where=where)


def as_bool(value: Any, field: str, default: bool = False) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "1", "yes"):
        return True
    if isinstance(value, str) and value.lower() in ("false", "0", "no"):
        return False
    raise ValidationFailed(f"{field} must be true or false", field=field)


def as_int(value: Any, field: str, default: int, *, minimum: int, maximum: int) -> int:
    if value is None or value == "":
        return default
    try:
        number = int(value) if not isinstance(value, bool) else None
    except (TypeError, ValueError):
        number = None
    if number is None or (isinstance(value, float) and not value.is_integer()) or not minimum <= number <= maximum:
        raise ValidationFailed(f"{field} must be a whole number from {minimum} to {maximum}", field=field)
    return number


def as_float(value: Any, field: str, default: float | None, *, minimum: float, maximum: float) -> float | None:
    if value is None or value == "":
        return default
    try:
        number = float(value) if not isinstance(value, bool) else None
    except (TypeError, ValueError):
        number = None
    if number is None or not minimum <= number <= maximum:
        raise ValidationFailed(f"{field} must be a number from {minimum} to {maximum}", field=field)
    return number


def as_moment(value: Any, field: str) -> datetime | None:
    """The one moment parser (``mem0g_site.inputs``): ISO 8601, a bare date (its start, UTC), Unix seconds."""
    return parse_moment(value, field=field)


def as_expiration(value: Any, field: str = "expiration_date") -> date | datetime | None:
    return parse_day_or_moment(value, field=field)


def as_object(value: Any, field: str) -> dict | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValidationFailed(f"{field} must be a JSON object", field=field)
    return value
