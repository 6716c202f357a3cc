"""Serve settings from measurement: starts ``manage.py serve`` (as ``make run`` does, no job
workers) with each ``WEB_CONCURRENCY`` x ``WEB_THREADS`` pair in turn, all on one throw-away embedded
database, runs ``manage.py bench load`` against it and prints one line per run; the pairs are run
``--rounds`` times in alternating order, so a busy machine's noise falls on each alike.

    .venv/bin/python benchmarks/load_matrix.py [--pairs 2x4,1x8,3x2] [--clients 32] [--duration 30] [--rounds 2]
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KEY = "mem0_load-matrix-bench-key-000000000000000"


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_pair(workers: int, threads: int, args, data_dir: str) -> dict:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        PORT=str(port),
        HOST="127.0.0.1",
        MEM0G_DATA_DIR=data_dir,
        API_KEYS=KEY,
        WEB_CONCURRENCY=str(workers),
        WEB_THREADS=str(threads),
        TASK_WORKERS="0",
        RATE_LIMIT_REQUESTS="100000000",
        RATE_LIMIT_BURST="0",
        LOG_LEVEL="WARNING",
    )
    server = subprocess.Popen(
        [sys.executable, "manage.py", "serve"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5).read()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit(f"serve {workers}x{threads} did not start") from None
                time.sleep(0.5)
        time.sleep(8)  # each worker loads the embedding model in the background as it starts
        with tempfile.NamedTemporaryFile(suffix=".json") as out:
            bench_env = {k: v for k, v in env.items() if k not in ("PORT",)}
            subprocess.run(
                [sys.executable, "manage.py", "bench", "load", "--url", f"http://127.0.0.1:{port}", "--api-key", KEY,
                 "--clients", str(args.clients), "--duration", str(args.duration), "--json", out.name],
                cwd=ROOT, env=bench_env, check=True, stdout=subprocess.DEVNULL,
            )  # fmt: skip
            return json.loads(Path(out.name).read_text())
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", default="2x4,1x8,3x2,2x8")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--duration", type=float, default=30)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    pairs = [tuple(int(x) for x in pair.split("x")) for pair in args.pairs.split(",")]
    with tempfile.TemporaryDirectory(prefix="mem0g-load-") as data_dir:
        for round_ in range(args.rounds):
            for workers, threads in pairs if round_ % 2 == 0 else list(reversed(pairs)):
                report = run_pair(workers, threads, args, data_dir)
                ops = report["operations"]
                print(
                    f"round {round_ + 1} {workers}x{threads}: {report['requests_per_second']} req/s "
                    f"({report['errors']} errors), all p50 {report['latency_ms'].get('p50')} ms "
                    f"p95 {report['latency_ms'].get('p95')} ms; search p50/p95 "
                    f"{ops['search'].get('latency_ms', {}).get('p50')}/{ops['search'].get('latency_ms', {}).get('p95')}"
                    f" ms, add p50 {ops['add'].get('latency_ms', {}).get('p50')} ms; load {os.getloadavg()[0]:.1f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
