"""Request metrics per endpoint, kept in the shared counter store (accounts/counters.py:
PostgreSQL, or Redis with ``REDIS_URL``) so every worker process adds to the same numbers.
Latencies go into fixed histogram buckets, from which percentiles are read (to the bucket's upper
bound), as Prometheus does.

Off the request path: a request only adds its three counters to this process's pending totals;
a background thread writes them, summed, every ``METRICS_FLUSH_SECONDS`` (one upsert for all the
requests of that second), and a read of the metrics first writes this process's pending totals.
So another process's last second may be missing from a read. ``METRICS_FLUSH_SECONDS=0`` writes
each request's counters as it is answered (one upsert per request, after the response is built)."""

import atexit
import logging
import math
import os
import threading
import time

from django.conf import settings

from accounts import counters

logger = logging.getLogger("mem0g.metrics")

BUCKETS_MS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, math.inf)
STATUS_CLASSES = ("2xx", "3xx", "4xx", "5xx")
PREFIX = "metrics:"
# Counter names are "metrics:<endpoint>|<suffix>"; endpoints are "<METHOD> <view name>".
SEPARATOR = "|"


def _prefix(project_id=None) -> str:
    """Server-wide counters, or those of one project's keys (``metrics@<project id>:``)."""
    return PREFIX if project_id is None else f"metrics@{project_id}:"


def record(endpoint: str, status: int, duration_ms: float, project_id=None) -> None:
    """Count one answer server-wide and, for a request made with a key, for the key's project too
    (one statement either way)."""
    status_class = f"{min(max(status // 100, 2), 5)}xx"
    bucket = next(index for index, bound in enumerate(BUCKETS_MS) if duration_ms <= bound)
    amounts = {}
    for prefix in (PREFIX, _prefix(project_id)) if project_id is not None else (PREFIX,):
        base = f"{prefix}{endpoint}{SEPARATOR}"
        amounts |= {base + status_class: 1, base + f"le{bucket}": 1, base + "sum_us": int(duration_ms * 1000)}
    if not settings.METRICS_FLUSH_SECONDS:
        counters.add(amounts)
        return
    with _lock:
        for name, amount in amounts.items():
            _pending[name] = _pending.get(name, 0) + amount
        _ensure_flusher()


_lock = threading.Lock()
_pending: dict[str, int] = {}
_flusher = {"pid": None}
# Pending totals kept while the store is failing, at most this many names (then they are dropped).
PENDING_MAX_NAMES = 100_000


def flush() -> None:
    """Write this process's pending totals to the shared store (one statement)."""
    with _lock:
        if not _pending:
            return
        batch = dict(_pending)
        _pending.clear()
    try:
        counters.add(batch)
    except counters.StoreError:
        logger.warning("could not write request metrics; keeping them for the next try", exc_info=True)
        with _lock:
            if len(_pending) + len(batch) <= PENDING_MAX_NAMES:
                for name, amount in batch.items():
                    _pending[name] = _pending.get(name, 0) + amount


def _ensure_flusher() -> None:
    """Start this process's writer thread (once per process: a forked child starts its own)."""
    if _flusher["pid"] == os.getpid():
        return
    _flusher["pid"] = os.getpid()
    threading.Thread(target=_flush_forever, name="metrics-flusher", daemon=True).start()


def _flush_forever() -> None:
    from django.db import close_old_connections

    while True:
        time.sleep(settings.METRICS_FLUSH_SECONDS or 1.0)
        try:
            close_old_connections()  # a broken connection is replaced, as a request's would be
            flush()
        except Exception:  # the thread must survive anything (the database restarting, say)
            logger.warning("metrics writer failed", exc_info=True)


atexit.register(lambda: _pending and _safe_flush())


def _safe_flush() -> None:
    try:
        flush()
    except Exception:
        pass


def _percentile(buckets: list[int], total: int, fraction: float) -> float | None:
    if not total:
        return None
    rank = math.ceil(total * fraction)
    seen = 0
    for bound, count in zip(BUCKETS_MS, buckets, strict=True):
        seen += count
        if seen >= rank:
            return bound if math.isfinite(bound) else BUCKETS_MS[-2]
    return BUCKETS_MS[-2]


def snapshot(project_id=None) -> dict[str, dict]:
    """``{endpoint: {requests, 4xx, 5xx, error_rate, latency_ms: {mean, p50, p95, p99}, buckets}}``,
    server-wide or (``project_id``) of the requests made with that project's keys."""
    flush()  # this process's own requests, up to now
    prefix = _prefix(project_id)
    by_endpoint: dict[str, dict[str, int]] = {}
    for name, count in counters.totals(prefix).items():
        endpoint, _, suffix = name[len(prefix) :].rpartition(SEPARATOR)
        by_endpoint.setdefault(endpoint, {})[suffix] = int(count)
    result = {}
    for endpoint in sorted(by_endpoint):
        values = by_endpoint[endpoint]
        by_class = {name: values.get(name, 0) for name in STATUS_CLASSES}
        buckets = [values.get(f"le{i}", 0) for i in range(len(BUCKETS_MS))]
        total = sum(by_class.values())
        errors = by_class["4xx"] + by_class["5xx"]
        result[endpoint] = {
            "requests": total,
            "responses": by_class,
            "error_rate": round(errors / total, 4) if total else 0.0,
            "server_error_rate": round(by_class["5xx"] / total, 4) if total else 0.0,
            "latency_ms": {
                "mean": round(values.get("sum_us", 0) / 1000 / total, 2) if total else None,
                "p50": _percentile(buckets, total, 0.50),
                "p95": _percentile(buckets, total, 0.95),
                "p99": _percentile(buckets, total, 0.99),
            },
            "buckets": buckets,
            "sum_ms": values.get("sum_us", 0) / 1000,
        }
    return result


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def prometheus_text(stats: dict[str, dict]) -> str:
    lines = [
        "# HELP mem0g_requests_total Requests answered, by endpoint and status class.",
        "# TYPE mem0g_requests_total counter",
    ]
    for endpoint, data in stats.items():
        for status_class, count in data["responses"].items():
            lines.append(f'mem0g_requests_total{{endpoint="{_label(endpoint)}",status="{status_class}"}} {count}')
    lines += [
        "# HELP mem0g_request_duration_seconds Time to answer a request.",
        "# TYPE mem0g_request_duration_seconds histogram",
    ]
    for endpoint, data in stats.items():
        cumulative = 0
        for bound, count in zip(BUCKETS_MS, data["buckets"], strict=True):
            cumulative += count
            le = "+Inf" if not math.isfinite(bound) else f"{bound / 1000:g}"
            lines.append(
                f'mem0g_request_duration_seconds_bucket{{endpoint="{_label(endpoint)}",le="{le}"}} {cumulative}'
            )
        lines.append(f'mem0g_request_duration_seconds_sum{{endpoint="{_label(endpoint)}"}} {data["sum_ms"] / 1000:g}')
        lines.append(f'mem0g_request_duration_seconds_count{{endpoint="{_label(endpoint)}"}} {data["requests"]}')
    return "\n".join(lines) + "\n"
