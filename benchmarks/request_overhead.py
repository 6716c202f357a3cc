"""Per-request cost of the edge of the API (authentication, rate-limit counting, metrics, parsing,
rendering): starts ``manage.py serve`` as ``make run`` does (one web worker each), once per variant,
all on one throw-away embedded database, and times one trivial authenticated call
(``GET /v1/ping/``) over one keep-alive connection per server, alternating the servers in blocks so
that a busy machine's noise falls on every variant alike.

    .venv/bin/python benchmarks/request_overhead.py [--requests 2000] [--warmup 200] [--block 50] \\
        [--variant NAME:VAR=VALUE,VAR=VALUE ...]

Without ``--variant`` it compares the defaults with the API-key cache turned off
(``API_KEY_CACHE_SECONDS=0``). For each variant it prints p50/p90/p99 of the client's round trip,
of the server's own total, of the SQL time (``db``) and of what is neither SQL nor embedding
(``total - db - embed``, the target of issue #15: at most 2 ms at p50), all read from the
``Server-Timing`` header, plus the p50 of every stage. The limits are set so high that nothing is
refused, but both the window and the burst counter are counted.
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
DEFAULT_VARIANTS = ["default:", "no-key-cache:API_KEY_CACHE_SECONDS=0"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def parse_server_timing(header: str) -> dict[str, float]:
    out = {}
    for part in header.split(","):
        name, _, duration = part.strip().partition(";dur=")
        if duration:
            out[name] = float(duration)
    return out


def parse_variant(text: str) -> tuple[str, dict[str, str]]:
    name, _, assignments = text.partition(":")
    env = {}
    for item in filter(None, assignments.split(",")):
        var, _, value = item.partition("=")
        env[var.strip()] = value.strip()
    return name or "variant", env


class Server:
    def __init__(self, name: str, overrides: dict[str, str], data_dir: str):
        self.name = name
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        env.update(
            PORT=str(self.port),
            HOST="127.0.0.1",
            MEM0G_DATA_DIR=data_dir,
            API_KEYS=KEY,
            WEB_CONCURRENCY="1",
            TASK_WORKERS="0",
            RATE_LIMIT_REQUESTS="100000000",
            RATE_LIMIT_BURST="100000000",
            LOG_LEVEL="WARNING",
            **overrides,
        )
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "serve"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.connection = None
        self.samples: list[dict[str, float]] = []

    def wait(self) -> None:
        deadline = time.monotonic() + 180
        while True:
            try:
                self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                self.connection.request("GET", "/health")
                self.connection.getresponse().read()
                return
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise SystemExit(f"the server {self.name} did not start") from None
                time.sleep(0.5)

    def ping(self, keep: bool) -> None:
        try:
            started = time.perf_counter()
            self.connection.request("GET", "/v1/ping/", headers={"Authorization": f"Token {KEY}"})
            response = self.connection.getresponse()
        except (http.client.HTTPException, ConnectionError):  # the keep-alive connection timed out
            self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            started = time.perf_counter()
            self.connection.request("GET", "/v1/ping/", headers={"Authorization": f"Token {KEY}"})
            response = self.connection.getresponse()
        response.read()
        elapsed = (time.perf_counter() - started) * 1000
        if response.status != 200:
            raise SystemExit(f"GET /v1/ping/ answered {response.status} ({self.name})")
        if response.getheader("Connection", "").lower() == "close":
            self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        if keep:
            stages = parse_server_timing(response.getheader("Server-Timing", ""))
            self.samples.append({"round trip": elapsed, **stages})

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="timed requests per variant")
    parser.add_argument("--warmup", type=int, default=200, help="untimed requests per variant first")
    parser.add_argument("--block", type=int, default=50, help="requests to one server before the next")
    parser.add_argument(
        "--variant", action="append", default=None, help="NAME:VAR=VALUE,... (repeat; default: key cache on/off)"
    )
    args = parser.parse_args()
    variants = [parse_variant(text) for text in (args.variant or DEFAULT_VARIANTS)]

    with tempfile.TemporaryDirectory(prefix="mem0g-overhead-") as data_dir:
        servers: list[Server] = []
        try:
            for name, overrides in variants:  # one at a time: the first one creates the database
                servers.append(Server(name, overrides, data_dir))
                servers[-1].wait()
            for server in servers:
                for _ in range(args.warmup):
                    server.ping(keep=False)
            done = 0
            while done < args.requests:
                count = min(args.block, args.requests - done)
                for server in servers:
                    for _ in range(count):
                        server.ping(keep=True)
                done += count
        finally:
            for server in servers:
                server.stop()
    print(f"load average {os.getloadavg()}; {args.requests} requests per variant, alternating blocks of {args.block}")
    for server in servers:
        rows = server.samples
        outside = [s["total"] - s.get("db", 0) - s.get("embed", 0) for s in rows]
        print(f"\n{server.name} {dict(variants)[server.name] or '(defaults)'}")
        for label, values in (
            ("round trip", [s["round trip"] for s in rows]),
            ("server total", [s["total"] for s in rows]),
            ("db (SQL)", [s.get("db", 0) for s in rows]),
            ("outside SQL+embed", outside),
        ):
            print(
                f"  {label:<18} p50 {statistics.median(values):7.3f} ms  p90 {percentile(values, 0.9):7.3f} ms  "
                f"p99 {percentile(values, 0.99):7.3f} ms"
            )
        stages = [name for name in rows[0] if name not in ("round trip", "total")]
        print("  stage p50 (ms): " + ", ".join(f"{n} {statistics.median(s[n] for s in rows):.3f}" for n in stages))


if __name__ == "__main__":
    main()
