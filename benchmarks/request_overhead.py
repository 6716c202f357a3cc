"""Per-request cost of the edge of the API (authentication, rate-limit counting, metrics): starts
``manage.py serve`` as ``make run`` does, on a throw-away embedded database, and times one trivial
authenticated call (``GET /v1/ping/``) many times over one keep-alive connection.

    .venv/bin/python benchmarks/request_overhead.py [--requests 2000] [--warmup 200]

Prints p50/p90/p99 of the client-side round trip and of the server's own ``X-Response-Time-ms``
(measured by the first middleware; the metrics write after it is in the round trip only). The limits
are set so high that nothing is refused, but both the window and the burst counter are counted.
Then, in this process, on the same database while the server runs, it times the two statements a
request adds: counting a key's window and burst (``accounts.counters.hit``) and recording its
metrics (``mem0g_site.metrics.record``), which a loaded machine's noise hides in the round trip.
"""

import argparse
import http.client
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KEY = "mem0_request-overhead-bench-key-00000000"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def time_statements(data_dir: str, count: int) -> list[tuple[str, list[float]]]:
    os.environ.update(MEM0G_DATA_DIR=data_dir, DJANGO_SETTINGS_MODULE="mem0g_site.settings")
    os.environ.pop("DATABASE_URL", None)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    try:
        from accounts import counters
        from mem0g_site import metrics
    except ImportError:  # before the shared counters: nothing to time
        return []
    from django.db import connection

    connection.ensure_connection()
    hits, records = [], []
    for n in range(count):
        windows = [counters.Window(f"rl:w:bench{n % 50}", 60), counters.Window(f"rl:b:bench{n % 50}", 10)]
        started = time.perf_counter()
        counters.hit(windows)
        hits.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        metrics.record("GET bench", 200, 3.0)
        records.append((time.perf_counter() - started) * 1000)
    return [("counters.hit (window + burst)", hits), ("metrics.record", records)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=200)
    args = parser.parse_args()

    port = free_port()
    with tempfile.TemporaryDirectory(prefix="mem0g-overhead-") as data_dir:
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        env.update(
            PORT=str(port),
            HOST="127.0.0.1",
            MEM0G_DATA_DIR=data_dir,
            API_KEYS=KEY,
            TASK_WORKERS="0",
            RATE_LIMIT_REQUESTS="100000000",
            RATE_LIMIT_BURST="100000000",
            LOG_LEVEL="WARNING",
        )
        server = subprocess.Popen(
            [sys.executable, "manage.py", "serve"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                    connection.request("GET", "/health")
                    connection.getresponse().read()
                    break
                except OSError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise SystemExit("the server did not start") from None
                    time.sleep(0.5)
            headers = {"Authorization": f"Token {KEY}"}
            client_ms, server_ms = [], []
            for n in range(args.warmup + args.requests):
                started = time.perf_counter()
                connection.request("GET", "/v1/ping/", headers=headers)
                response = connection.getresponse()
                response.read()
                elapsed = (time.perf_counter() - started) * 1000
                if response.status != 200:
                    raise SystemExit(f"GET /v1/ping/ answered {response.status}")
                if response.getheader("Connection", "").lower() == "close":
                    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                if n >= args.warmup:
                    client_ms.append(elapsed)
                    server_ms.append(float(response.getheader("X-Response-Time-ms")))
            statements = time_statements(data_dir, args.requests)
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=60)
    for name, values in (("round trip", client_ms), ("server (X-Response-Time-ms)", server_ms), *statements):
        print(
            f"{name}: p50 {statistics.median(values):.2f} ms, p90 {percentile(values, 0.9):.2f} ms, "
            f"p99 {percentile(values, 0.99):.2f} ms over {len(values)} requests"
        )


if __name__ == "__main__":
    main()
