"""The one paginator: page numbers are checked, offsets computed and pages cut here, for the API
dialects, the web UI and the selectors alike.

Pages count from 1. A page past the end is empty (not an error), and its ``count`` is still the
whole count, so a client can tell how far the rows go.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mem0g_site.exceptions import ValidationFailed

# The highest page number anyone may ask for (far past any real page; keeps offsets in range).
PAGE_MAX = 10**9


def positive_int(value: Any, *, field: str, maximum: int) -> int:
    """``value`` when it is a whole number from 1 to ``maximum`` (not a bool), else a 422 naming ``field``."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise ValidationFailed(f"{field} must be a whole number from 1 to {maximum}", field=field)
    return value


def has_next(*, page: int, page_size: int, count: int) -> bool:
    """Whether rows come after page ``page`` of ``page_size`` rows, ``count`` in all."""
    return page * page_size < count


@dataclass(frozen=True)
class Page:
    """One page of rows, with the count of all of them."""

    results: list
    count: int
    page: int
    page_size: int

    @property
    def has_next(self) -> bool:
        return has_next(page=self.page, page_size=self.page_size, count=self.count)

    @property
    def has_previous(self) -> bool:
        return self.page > 1


@dataclass(frozen=True)
class PageRequest:
    """A checked page number and size (see :func:`page_request`)."""

    page: int
    page_size: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size

    def cut(self, rows: Any, *, count: int | None = None) -> Page:
        """This page of ``rows`` (an ordered queryset or a sequence); ``count``: their number when the
        caller knows it already. A queryset costs one count query and, unless the page is past the
        end, one query for the page."""
        if count is None:
            count = len(rows) if isinstance(rows, Sequence) else rows.count()
        offset = self.offset
        results = list(rows[offset : offset + self.page_size]) if offset < count else []
        return Page(results=results, count=count, page=self.page, page_size=self.page_size)


def page_request(page: Any, page_size: Any, *, maximum: int) -> PageRequest:
    """``page`` (from 1) and ``page_size`` (from 1 to ``maximum``) checked, or a 422 naming the field."""
    return PageRequest(
        page=positive_int(page, field="page", maximum=PAGE_MAX),
        page_size=positive_int(page_size, field="page_size", maximum=maximum),
    )
