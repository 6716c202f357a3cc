"""Measurement helpers for ``manage.py bench``: the SQL a search ran (and which branch it took),
the embedding model's share of an add, EXPLAIN output, peak memory and the machine it ran on.
"""

import platform
import re
import resource
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection

from memories.embedding import get_embedder

# A SET at the start of a message, up to its semicolon.
_LEADING_SET = re.compile(r"\s*(SET\s[^;]*;)", re.IGNORECASE)


@dataclass
class Statement:
    """One message Django sent. A message may start with settings for the statement after them (the
    HNSW walk outside a transaction carries its ``SET LOCAL``s so: ``ranking._walk_settings``)."""

    sql: str
    params: Any
    seconds: float

    @property
    def settings(self) -> list[str]:
        """The SET statements the message starts with (all of it, for a message of settings only)."""
        return self._split()[0]

    @property
    def body(self) -> str:
        """The message without its leading settings: the statement to classify and EXPLAIN."""
        return self._split()[1]

    def _split(self) -> tuple[list[str], str]:
        found, at = [], 0
        while match := _LEADING_SET.match(self.sql, at):
            found.append(match.group(1))
            at = match.end()
        rest = self.sql[at:]
        if rest.lstrip().upper().startswith("SET "):  # a last one without its semicolon
            return [*found, rest.strip()], ""
        return found, rest

    @property
    def kind(self) -> str:
        body = self.body
        text = body.lstrip().upper()
        if not text:
            return "set"
        if text.startswith("INSERT"):
            return "insert"
        if "search_vector" in body and "semantic AS MATERIALIZED (SELECT unnest(" in body:
            return "keyword"  # the full-text half fused around the HNSW walk's rows (the HNSW path)
        if "search_vector" in body and "semantic AS MATERIALIZED" in body:
            return "search"  # a hybrid search's two sides in one statement (the exact path)
        if "search_vector" in body:
            return "keyword"  # the full-text half of a hybrid search
        if "<=>" in body and "ORDER BY" in text:
            return "search"
        if "COUNT(" in text:
            return "probe"
        return "other"


@dataclass
class SqlLog:
    """Every statement Django sends while active, with its time (``connection.execute_wrapper``)."""

    statements: list[Statement] = field(default_factory=list)

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.statements.append(Statement(sql, params, time.perf_counter() - started))

    def seconds(self, *kinds: str) -> float:
        return sum(s.seconds for s in self.statements if not kinds or s.kind in kinds)


@contextmanager
def sql_log():
    log = SqlLog()
    with connection.execute_wrapper(log):
        yield log


@contextmanager
def timed_embedder(totals: dict[str, float]):
    """Time every call of the process-wide embedder (the one memories_add uses) into ``totals``."""
    embedder = get_embedder()
    original = embedder.embed

    def embed(texts):
        started = time.perf_counter()
        try:
            return original(texts)
        finally:
            totals["seconds"] += time.perf_counter() - started
            totals["texts"] += len(texts)

    embedder.embed = embed
    try:
        yield
    finally:
        del embedder.embed  # back to the class's method


_INDEX_USED = re.compile(r"(?:Index Scan|Index Only Scan|Index Scan Backward) using (\w+)|Bitmap Index Scan on (\w+)")


_VECTOR_LITERAL = re.compile(r"'\[[-+0-9.e,]+\]'::vector")


def shorten_vectors(line: str) -> str:
    """A plan line with the 384 floats of the query vector elided."""
    return _VECTOR_LITERAL.sub("'[...]'::vector", line)


def indexes_in_plan(lines: list[str]) -> list[str]:
    found: list[str] = []
    for line in lines:
        for match in _INDEX_USED.finditer(line):
            name = match.group(1) or match.group(2)
            if name not in found:
                found.append(name)
    return found


def peak_rss_mb() -> float:
    # ru_maxrss is in kilobytes on Linux (bytes on macOS).
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


def backend_peak_rss_mb(pid: int) -> float | None:
    """VmHWM of our PostgreSQL backend, when the server runs on this machine (embedded)."""
    if not settings.DATABASE_IS_EMBEDDED:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def search_strategy(log: SqlLog) -> str:
    """The branch memory_search took: ``exact`` (scope index, every row scored), ``hnsw`` (it set
    ``hnsw.iterative_scan``, in a message of its own or in the walk's) or ``hnsw+exact`` (the HNSW
    walk came back short and it re-ran exactly)."""
    if not any(s.settings for s in log.statements):
        return "exact"
    return "hnsw" if sum(1 for s in log.statements if s.kind == "search") == 1 else "hnsw+exact"


def execution_ms(plan: list[str]) -> float | None:
    return _stage_ms(plan, "Execution")


def planning_ms(plan: list[str]) -> float | None:
    return _stage_ms(plan, "Planning")


def _stage_ms(plan: list[str], stage: str) -> float | None:
    """The time EXPLAIN's summary gives a stage (``Planning``, ``Execution``), in ms."""
    for line in plan:
        match = re.match(rf"\s*{stage} Time: ([\d.]+) ms", line)
        if match:
            return float(match.group(1))
    return None
