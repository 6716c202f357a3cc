"""Body fields and query parameters a view does not know.

Each API view says what happens to them (``ApiView.unknown_fields``):

- ``REFUSE`` (our own extension routes: the graph, ``/v1/users/{id}/...``, ``/status``, ``/metrics``):
  a 400 naming them, so a typo never passes silently;
- ``IGNORE`` (Mem0's dialects: the Platform routes, the OSS server's, the Platform admin routes): they
  are ignored and named in the ``X-Mem0g-Ignored-Fields`` response header and the request's log line,
  because Mem0's clients add fields from one release to the next (the official CLI sends
  ``"source": "CLI"`` with every call) and one new field must not break every call of every client.

Either way a known field of the wrong type is refused. The policy of the view being served is held
in a context variable, so the parsing helpers (``mem0g_site.api_kit.parsing.refuse_unknown``) need no
request argument; outside a view (services, commands, the MCP tools) unknown fields are refused.
"""

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any
from urllib.parse import quote

from mem0g_site.exceptions import InvalidRequest

REFUSE = "refuse"
IGNORE = "ignore"
HEADER = "X-Mem0g-Ignored-Fields"
# Mem0 clients add these to many calls; every endpoint accepts them without naming them.
TOLERATED = frozenset({"org_id", "project_id"})

_current: ContextVar[tuple[str, Any]] = ContextVar("mem0g_unknown_fields", default=(REFUSE, None))


@contextmanager
def policy(kind: str, request: Any) -> Iterator[None]:
    """Apply ``kind`` to the unknown fields met while ``request`` (Django's) is served."""
    if kind not in (REFUSE, IGNORE):
        raise ValueError(f"unknown_fields must be {REFUSE!r} or {IGNORE!r}, not {kind!r}")
    token = _current.set((kind, request))
    try:
        yield
    finally:
        _current.reset(token)


def check(names: Iterable[str], allowed: Iterable[str], *, where: str) -> None:
    """Refuse (400) or ignore and record the names that are neither ``allowed`` nor tolerated."""
    unknown = sorted(set(names) - set(allowed) - TOLERATED)
    if not unknown:
        return
    kind, request = _current.get()
    if kind == REFUSE:
        raise InvalidRequest(f"Unknown {where} parameter(s): {', '.join(unknown)}", details={"unknown": unknown})
    if request is not None:
        ignored = ignored_fields(request)
        ignored.extend(name for name in unknown if name not in ignored)
        request.ignored_fields = ignored


def ignored_fields(request: Any) -> list[str]:
    """What was ignored while serving ``request`` (Django's), in the order met."""
    return list(getattr(request, "ignored_fields", ()))


def header_value(names: Iterable[str]) -> str:
    """The ignored names as the header's value: ``source, colour``. A name with anything but printable
    ASCII (or with a comma) is percent-encoded (UTF-8), so no name can break the header."""
    return ", ".join(quote(name, safe=" !\"#$&'()*+-./:;<=>?@[\\]^_`{|}~") for name in names)
