"""Read-your-writes on a replica: what each strategy costs (docs/DEPLOY.md, "Reads from a replica").

    .venv/bin/python benchmarks/read_your_writes.py [--turns 60]

Starts a loopback cluster (mem0g_site/cluster.py) with two app nodes, node1 with
``READ_YOUR_WRITES=lsn`` and node2 with ``window``, and on each runs the chat loop a memory server
sees: add a memory, then search (one API key, one user). Prints per strategy the p50/p95 of both
calls (the server's own X-Response-Time-ms) and the share of searches the replica answered (each
search carries a marker word, counted in the replica's statement log). Then it times, with plain
SQL, how long the replica takes to replay a commit: what the ``lsn`` strategy waits for.
"""

import argparse
import json
import os
import secrets
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mem0g_site.cluster import LocalCluster  # noqa: E402

MODES = ("lsn", "window")


class BenchCluster(LocalCluster):
    def node_env(self, index: int) -> dict[str, str]:
        return {**super().node_env(index), "READ_YOUR_WRITES": MODES[index]}


def post(url: str, key: str, body: dict) -> float:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Token {key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        assert response.status == 200
        response.read()
        return float(response.headers["X-Response-Time-ms"])


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, default=60)
    args = parser.parse_args()
    key = f"mem0_{secrets.token_urlsafe(24)}"
    env = {**os.environ, "API_KEYS": key, "RATE_LIMIT_REQUESTS": "100000", "RATE_LIMIT_BURST": "0"}
    root = Path(tempfile.mkdtemp(prefix="mem0g-ryw-")) / "cluster"
    with BenchCluster(root, nodes=2, env=env, log_statements=True) as cluster:
        for index, mode in enumerate(MODES):
            base = cluster.node_url(index)
            user = f"bench-{mode}"
            post(f"{base}/v3/memories/search/", key, {"query": "warm up", "filters": {"user_id": user}})
            adds, searches, markers = [], [], []
            for turn in range(args.turns):
                text = f"Turn {turn}: I mentioned topic {secrets.token_hex(3)}"
                adds.append(
                    post(
                        f"{base}/v1/memories/",
                        key,
                        {"messages": [{"role": "user", "content": text}], "user_id": user, "infer": False},
                    )
                )
                marker = f"mk{secrets.token_hex(6)}"
                markers.append(marker)
                searches.append(
                    post(f"{base}/v3/memories/search/", key, {"query": f"topic {marker}", "filters": {"user_id": user}})
                )
            log = (cluster.root / "replica.log").read_text()
            on_replica = sum(marker in log for marker in markers)
            print(
                f"{mode:6}: add p50 {statistics.median(adds):.1f} ms p95 {pct(adds, 0.95):.1f} ms | "
                f"search p50 {statistics.median(searches):.1f} ms p95 {pct(searches, 0.95):.1f} ms | "
                f"searches on the replica: {on_replica}/{args.turns}"
            )
        delays = []
        with (
            psycopg.connect(cluster.primary_url, autocommit=True) as primary,
            psycopg.connect(cluster.replica_url, autocommit=True) as replica,
        ):
            primary.execute("CREATE TABLE IF NOT EXISTS ryw_probe (n int)")
            for n in range(200):
                primary.execute("INSERT INTO ryw_probe VALUES (%s)", [n])
                lsn = primary.execute("SELECT pg_current_wal_lsn()::text").fetchone()[0]
                started = time.perf_counter()
                while not replica.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [lsn]).fetchone()[0]:
                    pass
                delays.append((time.perf_counter() - started) * 1000)
            check = []
            for _ in range(200):
                started = time.perf_counter()
                replica.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [lsn]).fetchone()
                check.append((time.perf_counter() - started) * 1000)
        print(
            f"commit on the primary -> replayed on the replica: p50 {statistics.median(delays):.2f} ms, "
            f"p95 {pct(delays, 0.95):.2f} ms, max {max(delays):.2f} ms; one replay-position check "
            f"p50 {statistics.median(check):.2f} ms"
        )


if __name__ == "__main__":
    main()
