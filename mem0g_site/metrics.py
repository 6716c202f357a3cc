"""Request metrics per endpoint, kept in the Django cache so every worker process (and, with
Redis, every machine) adds to the same numbers. Latencies go into fixed histogram buckets, from
which percentiles are read (to the bucket's upper bound), as Prometheus does."""

import math
import time

from django.core.cache import cache

BUCKETS_MS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, math.inf)
STATUS_CLASSES = ("2xx", "3xx", "4xx", "5xx")
PREFIX = "mem0g:metrics:"
ENDPOINTS_KEY = PREFIX + "endpoints"
_MEMO_SECONDS = 300

_known: dict[str, float] = {}


def _incr(key: str, delta: int = 1) -> None:
    try:
        cache.incr(key, delta)
    except ValueError:  # first time: the key does not exist yet
        if not cache.add(key, delta, timeout=None):
            cache.incr(key, delta)


def _base(endpoint: str) -> str:
    return f"{PREFIX}{endpoint.replace(' ', '_')}:"


def _register(endpoint: str) -> None:
    now = time.monotonic()
    if now - _known.get(endpoint, -math.inf) < _MEMO_SECONDS:
        return
    endpoints = set(cache.get(ENDPOINTS_KEY) or ())
    if endpoint not in endpoints:
        endpoints.add(endpoint)
        cache.set(ENDPOINTS_KEY, sorted(endpoints), timeout=None)
    _known[endpoint] = now


def record(endpoint: str, status: int, duration_ms: float) -> None:
    _register(endpoint)
    base = _base(endpoint)
    status_class = f"{min(max(status // 100, 2), 5)}xx"
    bucket = next(index for index, bound in enumerate(BUCKETS_MS) if duration_ms <= bound)
    _incr(base + status_class)
    _incr(base + f"le{bucket}")
    _incr(base + "sum_us", int(duration_ms * 1000))


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


def snapshot() -> dict[str, dict]:
    """``{endpoint: {requests, 4xx, 5xx, error_rate, latency_ms: {mean, p50, p95, p99}, buckets}}``."""
    endpoints = cache.get(ENDPOINTS_KEY) or []
    keys = [
        _base(endpoint) + suffix
        for endpoint in endpoints
        for suffix in (*STATUS_CLASSES, *(f"le{i}" for i in range(len(BUCKETS_MS))), "sum_us")
    ]
    values = cache.get_many(keys)
    result = {}
    for endpoint in endpoints:
        base = _base(endpoint)
        by_class = {name: int(values.get(base + name, 0)) for name in STATUS_CLASSES}
        buckets = [int(values.get(base + f"le{i}", 0)) for i in range(len(BUCKETS_MS))]
        total = sum(by_class.values())
        errors = by_class["4xx"] + by_class["5xx"]
        result[endpoint] = {
            "requests": total,
            "responses": by_class,
            "error_rate": round(errors / total, 4) if total else 0.0,
            "server_error_rate": round(by_class["5xx"] / total, 4) if total else 0.0,
            "latency_ms": {
                "mean": round(int(values.get(base + "sum_us", 0)) / 1000 / total, 2) if total else None,
                "p50": _percentile(buckets, total, 0.50),
                "p95": _percentile(buckets, total, 0.95),
                "p99": _percentile(buckets, total, 0.99),
            },
            "buckets": buckets,
            "sum_ms": int(values.get(base + "sum_us", 0)) / 1000,
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
