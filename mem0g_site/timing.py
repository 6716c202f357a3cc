"""Where a request's time goes, for the ``Server-Timing`` response header.

``RequestEdgeMiddleware`` opens a :class:`Timings` for each request (a context variable, so each
gunicorn thread has its own) and installs :class:`SqlTimer` on the database connection. The stages
add to it as they run:

- ``auth``: finding the API key (``accounts.authentication``), its SQL included;
- ``ratelimit``: counting the request in the key's windows (``accounts.permissions``), its SQL included;
- ``parse``: reading and checking the JSON body (``mem0g_site.parsers``);
- ``embed``: turning query or memory texts into vectors (``memories.embedding``); a text embedded
  while the request goes on (a verbatim add's one message: ``embed_later``) counts the time the
  request spent starting it and waiting for it, not the time the model ran beside it;
- ``db``: every SQL statement of the request, wherever it ran (so it overlaps ``auth`` and ``ratelimit``);
- ``serialize``: rendering the response body (``mem0g_site.renderers``);
- ``total``: from the first middleware's start to the moment the headers are written.

Outside a request (commands, job workers, tests calling services) nothing is recorded and the
helpers cost one context-variable read.
"""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

STAGES = ("auth", "ratelimit", "parse", "embed", "db", "serialize")
HEADER = "Server-Timing"


class Timings:
    """Seconds spent in each stage of one request."""

    __slots__ = ("started", "seconds")

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.seconds = dict.fromkeys(STAGES, 0.0)

    def add(self, stage: str, seconds: float) -> None:
        self.seconds[stage] += seconds

    def header(self, total_seconds: float) -> str:
        """``auth;dur=0.412, ratelimit;dur=0.301, ..., total;dur=3.904`` (milliseconds)."""
        parts = [f"{stage};dur={1000 * self.seconds[stage]:.3f}" for stage in STAGES]
        parts.append(f"total;dur={1000 * total_seconds:.3f}")
        return ", ".join(parts)


_current: ContextVar[Timings | None] = ContextVar("mem0g_timings", default=None)


def begin() -> tuple[Timings, object]:
    timings = Timings()
    return timings, _current.set(timings)


def end(token) -> None:
    _current.reset(token)


def current() -> Timings | None:
    return _current.get()


@contextmanager
def stage(name: str) -> Iterator[None]:
    """Add the time the block takes to ``name`` of the current request, if there is one."""
    timings = _current.get()
    if timings is None:
        yield
        return
    started = time.perf_counter()
    try:
        yield
    finally:
        timings.add(name, time.perf_counter() - started)


class SqlTimer:
    """A ``connection.execute_wrapper`` adding every statement's time to ``db``."""

    __slots__ = ("timings",)

    def __init__(self, timings: Timings) -> None:
        self.timings = timings

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.timings.seconds["db"] += time.perf_counter() - started
