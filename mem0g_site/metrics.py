"""Request metrics per endpoint, kept in the shared counter store (accounts/counters.py:
PostgreSQL, or Redis with ``REDIS_URL``) so every worker process adds to the same numbers: one
upsert of three counters per request. Latencies go into fixed histogram buckets, from which
percentiles are read (to the bucket's upper bound), as Prometheus does."""

import math

from accounts import counters

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
    counters.add(amounts)


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
