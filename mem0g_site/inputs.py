"""Input rules every app shares: ``UNSET`` and the one date-and-moment parser.

``UNSET`` is the default of an optional keyword argument that was not given, so that ``None`` can
mean "clear it" (``memory_update(expiration_date=None)``) and absence "leave it as it is".

Moments (``as_of``, ``known_at``, ``timestamp``, observation times, relationship times, the web UI's
"as of", archive fields) are read by :func:`read_moment` and :func:`parse_moment`, here only:

- ISO 8601 text: a date and time with ``Z`` or an offset, or without one (then UTC);
- a bare date, ``YYYY-MM-DD``: **the start of that day, 00:00:00 UTC** (where a single moment is
  wanted; the filter grammar reads a date as the whole day, and ``expiration_date`` as "through that
  day": both ask for :func:`read_moment`'s ``date`` and apply their own day rule);
- Unix seconds, as a number or as digits (with a decimal part or not);
- ``datetime`` and ``date`` objects, by the same rules.

Anything else is refused with the field's name.
"""

from collections.abc import Callable
from datetime import UTC, date, datetime, time
from typing import Any

from mem0g_site.exceptions import ValidationFailed

UNSET: Any = object()


def changes_given(given: dict[str, tuple[Any, Callable[[Any], Any]]]) -> dict[str, Any]:
    """The changes of an update: each field given (not ``UNSET``) as its cleaner returns it, checked
    in order; nothing given is a 422 ``nothing to update: give a, b or c``. ``given`` maps each
    field to its ``(value, cleaner)``."""
    changes = {field: clean(value) for field, (value, clean) in given.items() if value is not UNSET}
    if not changes:
        *others, last = given
        raise ValidationFailed(f"nothing to update: give {', '.join(others)} or {last}")
    return changes


MOMENT_FORMATS = "an ISO 8601 date or time (a bare date YYYY-MM-DD: its start, UTC), or Unix seconds"


def read_moment(value: Any) -> date | datetime | None:
    """``value`` read as a day (a ``date``: a bare date) or an aware UTC moment (a ``datetime``); None
    for None or blank text. Raises ``ValueError`` (or ``OverflowError``/``OSError`` for Unix
    seconds out of range) for anything else."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, tz=UTC)
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        if text.replace(".", "", 1).isdigit():
            return datetime.fromtimestamp(float(text), tz=UTC)
        if len(text) == 10:
            return date.fromisoformat(text)
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
    if isinstance(value, date):
        return value
    raise ValueError(value)


def day_start(day: date) -> datetime:
    """The moment a day begins, UTC: what a bare date means where one moment is wanted."""
    return datetime.combine(day, time.min, tzinfo=UTC)


def parse_moment(value: Any, *, field: str) -> datetime | None:
    """``value`` as an aware UTC moment (a bare date: the start of that day, UTC), None when absent,
    or a 422 naming ``field``."""
    try:
        moment = read_moment(value)
    except (ValueError, OverflowError, OSError):
        raise ValidationFailed(f"{field} must be {MOMENT_FORMATS}", field=field) from None
    if moment is None or isinstance(moment, datetime):
        return moment
    return day_start(moment)


def parse_day_or_moment(value: Any, *, field: str) -> date | datetime | None:
    """Like :func:`parse_moment`, but a bare date stays a ``date``, for rules about whole days
    (``expiration_date``: served through that day)."""
    try:
        return read_moment(value)
    except (ValueError, OverflowError, OSError):
        raise ValidationFailed(f"{field} must be {MOMENT_FORMATS}", field=field) from None
