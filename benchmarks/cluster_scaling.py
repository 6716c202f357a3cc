"""Past one machine, measured: ``bench load`` through HAProxy with 1, 2 and 3 app nodes, reads on the
primary or on the replica, then an app node and the replica killed during the load
(docs/SCALING.md, "Figures").

    .venv/bin/python benchmarks/cluster_scaling.py [--clients 16] [--duration 30] [--json PATH]

Every set-up is a fresh loopback cluster (mem0g_site/cluster.py: a PostgreSQL primary, a streaming
replica, Redis, N app nodes with one gunicorn worker of WEB_THREADS threads each, HAProxy). The load
is memories/bench/http_load.py's mix (search 40%, add 20%, get 15%, list 10%, update 10%, delete 5%),
verbatim adds, distinct search questions. While it runs, the primary's ``pg_stat_replication`` is
read every half second for the replica's replay lag.

The failure run (2 nodes, reads on the replica) kills node2 with SIGKILL a third of the way in and
the replica two thirds of the way in, and reports per failure the client-visible errors, the time
from the kill to the last error, and afterwards whether every memory an add acknowledged (and no
client deleted) can still be read.
"""

import argparse
import json
import os
import secrets
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import django  # noqa: E402

# memories.bench.http_load takes its synthetic texts from the bench command, which needs settings (no database).
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mem0g_site.settings")
os.environ.setdefault("DATABASE_URL", "postgres://unused@127.0.0.1:1/unused")
django.setup()

from mem0g_site.cluster import LocalCluster  # noqa: E402
from memories.bench.http_load import Client, LoadRun  # noqa: E402


class BenchCluster(LocalCluster):
    def __init__(self, *args, replica_reads: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.replica_reads = replica_reads

    def node_env(self, index: int) -> dict[str, str]:
        env = super().node_env(index)
        if not self.replica_reads:
            env["DATABASE_REPLICA_URL"] = ""
        return env


class LagProbe(threading.Thread):
    """The replica's replay lag as the primary sees it, every half second."""

    def __init__(self, url: str):
        super().__init__(daemon=True)
        self.url, self.values, self.stopping = url, [], threading.Event()

    def run(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self.stopping.wait(0.5):
                try:
                    row = conn.execute(
                        "SELECT extract(epoch FROM coalesce(replay_lag, interval '0')) * 1000 FROM pg_stat_replication"
                    ).fetchone()
                except psycopg.Error:
                    return
                if row is not None:
                    self.values.append(float(row[0]))


def environment(key: str) -> dict[str, str]:
    return {
        **os.environ,
        "API_KEYS": key,
        "RATE_LIMIT_REQUESTS": "100000000",
        "RATE_LIMIT_BURST": "0",
        "LOG_LEVEL": "WARNING",
    }


def summary(report: dict, lag: list[float]) -> dict:
    ops = report["operations"]
    out = {
        "requests_per_second": report["requests_per_second"],
        "errors": report["errors"],
        "adds_per_second": ops["add"]["per_second"],
        "searches_per_second": ops["search"]["per_second"],
        "add_ms": ops["add"].get("latency_ms"),
        "search_ms": ops["search"].get("latency_ms"),
        "all_ms": report["latency_ms"],
    }
    if lag:
        out["replay_lag_ms"] = {
            "p50": round(float(numpy.percentile(lag, 50)), 1),
            "p95": round(float(numpy.percentile(lag, 95)), 1),
        }
    return out


def load_once(nodes: int, replica_reads: bool, args, key: str) -> dict:
    with tempfile.TemporaryDirectory(prefix="mem0g-scaling-") as root:
        with BenchCluster(Path(root), nodes=nodes, env=environment(key), replica_reads=replica_reads) as cluster:
            probe = LagProbe(cluster.primary_url)
            probe.start()
            run = LoadRun(
                url=cluster.balancer_url, api_key=key, clients=args.clients, duration=args.duration,
                users=args.users, seed_memories=args.seed_memories, seed=args.seed,
            )  # fmt: skip
            report = run.run()
            probe.stopping.set()
            probe.join()
            return {"nodes": nodes, "replica_reads": replica_reads, **summary(report, probe.values), "raw": report}


def failure_run(args, key: str) -> dict:
    with tempfile.TemporaryDirectory(prefix="mem0g-failure-") as root:
        with BenchCluster(Path(root), nodes=2, env=environment(key), replica_reads=True) as cluster:
            run = LoadRun(
                url=cluster.balancer_url, api_key=key, clients=args.clients, duration=args.failure_duration,
                users=args.users, seed_memories=args.seed_memories, seed=args.seed + 1,
            )  # fmt: skip
            kills: dict[str, float] = {}

            def killer() -> None:
                # Seeding happens before the clock starts: wait until the first timed sample exists.
                while not any(run.samples):
                    time.sleep(0.05)
                began = time.perf_counter()
                time.sleep(args.failure_duration / 3)
                kills["node2"] = time.perf_counter()
                os.killpg(cluster.processes["node2"].pid, signal.SIGKILL)
                time.sleep(max(0.0, began + 2 * args.failure_duration / 3 - time.perf_counter()))
                kills["replica"] = time.perf_counter()
                os.killpg(cluster.processes["replica"].pid, signal.SIGKILL)

            thread = threading.Thread(target=killer, daemon=True)
            thread.start()
            report = run.run()
            thread.join()
            samples = sorted((s for client in run.samples for s in client), key=lambda s: s.at)
            bad = [s for s in samples if not 200 <= s.status < 300]
            out: dict = {"errors_total": len(bad), "requests": len(samples), "kills": {}}
            order = sorted(kills.items(), key=lambda item: item[1])
            for n, (name, at) in enumerate(order):
                until = order[n + 1][1] if n + 1 < len(order) else float("inf")
                window = [s for s in bad if at <= s.at < until]
                out["kills"][name] = {
                    "errors": len(window),
                    "statuses": sorted({s.status for s in window}),
                    "last_error_after_s": round(max(s.at for s in window) - at, 2) if window else 0.0,
                }
            out["errors_before_first_kill"] = len([s for s in bad if s.at < order[0][1]])
            # Recovery without errors is the slowdown: the slowest answers after each kill, and how
            # long until a whole second's p95 is back under 1.5x the p95 before the first kill.
            before = [s.ms for s in samples if s.at < order[0][1] and 200 <= s.status < 300]
            normal = float(numpy.percentile(before, 95)) if before else 0.0
            out["p95_before_kills_ms"] = round(normal, 1)
            for n, (name, at) in enumerate(order):
                until = order[n + 1][1] if n + 1 < len(order) else float("inf")
                after = [s for s in samples if at <= s.at < until]
                entry = out["kills"][name]
                entry["slowest_ms"] = round(max((s.ms for s in after), default=0.0), 1)
                entry["requests_per_second"] = round(len(after) / max(0.001, min(until, samples[-1].at) - at), 1)
                second = 0
                while True:
                    window = [s.ms for s in after if at + second <= s.at < at + second + 1]
                    if not window or float(numpy.percentile(window, 95)) <= 1.5 * normal:
                        break
                    second += 1
                entry["seconds_until_p95_normal"] = second
            # Nothing lost: every memory an add acknowledged and no client deleted is still there.
            client = Client(cluster.balancer_url, key)
            kept = list(run.shared.ids)
            missing = [memory_id for memory_id, _ in kept if client.call("GET", f"/v1/memories/{memory_id}/")[0] != 200]
            out["acknowledged_memories_checked"] = len(kept)
            out["lost"] = len(missing)
            out["raw"] = report
            return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--failure-duration", type=float, default=45.0)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seed-memories", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--setups", default="1p,2p,3p,2r,3r", help="nodes and reads: p primary, r replica")
    parser.add_argument("--no-failure", action="store_true")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    key = f"mem0_{secrets.token_urlsafe(24)}"
    results: dict = {"load_average_start": os.getloadavg(), "cpus": os.cpu_count(), "setups": []}
    for setup in args.setups.split(","):
        nodes, reads = int(setup[:-1]), setup[-1] == "r"
        result = load_once(nodes, reads, args, key)
        results["setups"].append(result)
        print(json.dumps({k: v for k, v in result.items() if k != "raw"}), flush=True)
    if not args.no_failure:
        results["failure"] = failure_run(args, key)
        print(json.dumps({k: v for k, v in results["failure"].items() if k != "raw"}), flush=True)
    results["load_average_end"] = os.getloadavg()
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
