"""Counters that every web process shares: the per-key rate-limit windows and the request metrics.

Without ``REDIS_URL`` they live in PostgreSQL, in the UNLOGGED table ``accounts_counter`` (model
``Counter``): one ``INSERT ... ON CONFLICT DO UPDATE SET count = count + n ... RETURNING count``
counts in all of a request's windows at once (one round trip) and is atomic, so two processes never
read the same count (``n`` is 1, or the size of a lease of slots: accounts/leases.py). Windows are
fixed, aligned to the database clock (``now()``), so every process, on any machine, agrees on where
a window starts. Rows of ended windows are deleted by
whichever process next notices that ``PRUNE_SECONDS`` have passed since it last pruned.

With ``REDIS_URL`` they live in Redis: ``SET key 0 EX ttl NX`` then ``INCRBY key n`` per window,
in one pipeline (windows aligned to the web process's clock).

Errors of either store reach the caller (``StoreError``); the rate limit lets a request through
uncounted when its store fails (``RATE_LIMIT_FAIL_OPEN``), and metrics are skipped.
"""

import math
import threading
import time
from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass

import redis
from django.conf import settings
from django.db import DatabaseError, connection, transaction

StoreError = (DatabaseError, redis.RedisError)
PRUNE_SECONDS = 60
TABLE = "accounts_counter"


@dataclass(frozen=True)
class Window:
    """A fixed counting window: ``name`` (e.g. ``rl:w:42``) over ``seconds``."""

    name: str
    seconds: int


@dataclass(frozen=True)
class Count:
    """A window after counting: the count so far (what was just counted included), the whole
    seconds until the window ends (at least 1), and ``ends``, the ``time.monotonic()`` by which the
    window has ended: measured from before the store was asked, so never later than the true end."""

    count: int
    seconds_left: int
    ends: float


def _savepoint():
    # Inside a transaction (tests, or a caller's atomic block) a failed statement must not break
    # the caller's transaction; in autocommit (a normal request) no extra round trips.
    return transaction.atomic() if connection.in_atomic_block else nullcontext()


class DatabaseStore:
    _last_prune = 0.0
    _lock = threading.Lock()

    def hit(self, windows: Sequence[Window], amounts: Mapping[str, int]) -> dict[str, Count]:
        windows = sorted(windows, key=lambda w: w.name)  # one lock order for every request
        values = ", ".join(["(%s, %s::bigint, %s::bigint)"] * len(windows))
        params = [item for window in windows for item in (window.name, window.seconds, amounts[window.name])]
        sql = f"""
            WITH clock AS (SELECT floor(extract(epoch FROM now()))::bigint AS t)
            INSERT INTO {TABLE} AS c (name, window_start, expires_at, count)
            SELECT w.name, clock.t / w.period * w.period, clock.t / w.period * w.period + w.period, w.amount
            FROM clock, (VALUES {values}) AS w (name, period, amount)
            WHERE true
            ORDER BY w.name
            ON CONFLICT (name, window_start) DO UPDATE SET count = c.count + EXCLUDED.count
            RETURNING c.name, c.count, (c.expires_at - extract(epoch FROM now()))::float8
        """
        sent = time.monotonic()
        with _savepoint(), connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
            self._maybe_prune(cursor)
        return {
            name: Count(count=count, seconds_left=max(1, math.ceil(left)), ends=sent + left)
            for name, count, left in rows
        }

    def _maybe_prune(self, cursor) -> None:
        now = time.monotonic()
        with self._lock:
            if now - DatabaseStore._last_prune < PRUNE_SECONDS:
                return
            DatabaseStore._last_prune = now
        cursor.execute(f"DELETE FROM {TABLE} WHERE expires_at < extract(epoch FROM now())")

    def add(self, amounts: Mapping[str, int]) -> None:
        names = sorted(amounts)
        values = ", ".join(["(%s, 0, NULL::bigint, %s::bigint)"] * len(names))
        params = [item for name in names for item in (name, amounts[name])]
        sql = f"""
            INSERT INTO {TABLE} AS c (name, window_start, expires_at, count) VALUES {values}
            ON CONFLICT (name, window_start) DO UPDATE SET count = c.count + EXCLUDED.count
        """
        with _savepoint(), connection.cursor() as cursor:
            cursor.execute(sql, params)

    def value(self, name: str) -> int:
        with _savepoint(), connection.cursor() as cursor:
            cursor.execute(f"SELECT count FROM {TABLE} WHERE name = %s AND window_start = 0", [name])
            row = cursor.fetchone()
        return int(row[0]) if row else 0

    def totals(self, prefix: str) -> dict[str, int]:
        with _savepoint(), connection.cursor() as cursor:
            cursor.execute(
                f"SELECT name, count FROM {TABLE} WHERE window_start = 0 AND starts_with(name, %s)", [prefix]
            )
            return dict(cursor.fetchall())


class RedisStore:
    KEY_PREFIX = "mem0g:"
    NAMES = "mem0g:counter-names"

    def __init__(self, url: str):
        self.client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)

    def hit(self, windows: Sequence[Window], amounts: Mapping[str, int]) -> dict[str, Count]:
        now, sent = time.time(), time.monotonic()
        pipe = self.client.pipeline(transaction=False)
        ends = []
        for window in windows:
            start = int(now) // window.seconds * window.seconds
            key = f"{self.KEY_PREFIX}{window.name}:{start}"
            ends.append(start + window.seconds)
            pipe.set(key, 0, ex=start + window.seconds - int(now) + 1, nx=True)
            pipe.incrby(key, amounts[window.name])
        results = pipe.execute()
        return {
            window.name: Count(
                count=int(results[2 * i + 1]), seconds_left=max(1, math.ceil(end - now)), ends=sent + end - now
            )
            for i, (window, end) in enumerate(zip(windows, ends, strict=True))
        }

    def add(self, amounts: Mapping[str, int]) -> None:
        pipe = self.client.pipeline(transaction=False)
        for name, amount in amounts.items():
            pipe.incrby(self.KEY_PREFIX + name, amount)
        pipe.sadd(self.NAMES, *amounts)
        pipe.execute()

    def value(self, name: str) -> int:
        raw = self.client.get(self.KEY_PREFIX + name)
        return int(raw) if raw is not None else 0

    def totals(self, prefix: str) -> dict[str, int]:
        names = sorted(name.decode() for name in self.client.smembers(self.NAMES) if name.decode().startswith(prefix))
        if not names:
            return {}
        values = self.client.mget([self.KEY_PREFIX + name for name in names])
        return {name: int(value) for name, value in zip(names, values, strict=True) if value is not None}


_redis_stores: dict[str, RedisStore] = {}
_database_store = DatabaseStore()


def store() -> DatabaseStore | RedisStore:
    """Redis when ``REDIS_URL`` is set, else PostgreSQL."""
    url = settings.REDIS_URL
    if not url:
        return _database_store
    if url not in _redis_stores:
        _redis_stores[url] = RedisStore(url)
    return _redis_stores[url]


def hit(windows: Sequence[Window], amounts: Mapping[str, int] | None = None) -> dict[str, Count]:
    """Count one request in each window, or ``amounts[window name]``; ``{window name: Count}``."""
    return store().hit(windows, amounts or {window.name: 1 for window in windows})


def add(amounts: Mapping[str, int]) -> None:
    """Add to counters that never expire (metrics)."""
    if amounts:
        store().add(amounts)


def totals(prefix: str) -> dict[str, int]:
    """Every never-expiring counter whose name starts with ``prefix``."""
    return store().totals(prefix)


def value(name: str) -> int:
    """One never-expiring counter (0 when it was never added to): one indexed read."""
    return store().value(name)
