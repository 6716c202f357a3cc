"""Search over HTTP against a project that already holds memories (e.g. the one ``bench --n 1000000
--users 10000 --keep`` leaves behind): light and heavy users, new questions and repeated ones.

    .venv/bin/python benchmarks/search_http.py --url http://127.0.0.1:18000 --key KEY \\
        --n 1000000 --users 10000 [--users-prefix bench-user-] [--queries 300] [--json PATH]

The bench names its users ``bench-user-00001`` (the heaviest, Zipf rank 1) to ``bench-user-NNNNN``
(the lightest). Half the questions go to the ten heaviest users, half to users drawn uniformly from
the lighter half; every question is new (its vector is not in the server's cache), then the same
questions are asked again (cached vectors: SQL and HTTP only). One keep-alive connection, as an SDK
keeps one; ``POST /v3/memories/search/`` with the user in ``filters``, as the Mem0 clients send it,
and ``threshold: 0`` so that every answer should hold ``min(top_k, the user's rows)`` results (the
rows per user are the bench's Zipf split of ``--n`` over ``--users``).

Reports, per user class and pass, the client's round trip and the server's own ``Server-Timing``
(``total``, ``db``, ``embed``) as p50/p95/p99, and whether every answer held the full top-k.
"""

import argparse
import json
import os
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from memories.bench.data import summary, synthetic_question, zipf_counts  # noqa: E402
from memories.bench.http_load import Client  # noqa: E402

TOP_K = 10


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--key", default=os.environ.get("MEM0G_KEY"))
    parser.add_argument("--users-prefix", default="bench-user-")
    parser.add_argument("--n", type=int, required=True, help="how many memories the bench loaded")
    parser.add_argument("--users", type=int, default=10000, help="how many users the bench spread them over")
    parser.add_argument("--zipf", type=float, default=1.0)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--json", type=Path, default=None)
    options = parser.parse_args()
    if not options.key:
        parser.error("--key (or MEM0G_KEY) is required")

    rows = dict(enumerate(zipf_counts(options.n, options.users, options.zipf), start=1))
    rows = {f"{options.users_prefix}{rank:05d}": count for rank, count in rows.items()}
    rng = random.Random(options.seed)
    heavy = [f"{options.users_prefix}{rank:05d}" for rank in range(1, 11)]
    light = [f"{options.users_prefix}{rank:05d}" for rank in range(options.users // 2, options.users + 1)]
    plan = [
        ("heavy" if i % 2 == 0 else "light", rng.choice(heavy if i % 2 == 0 else light), synthetic_question(rng))
        for i in range(options.queries)
    ]
    client = Client(options.url, options.key)
    for _, user, question in plan[:5]:  # warm the connection and the process (these five are repeated)
        client.call("POST", "/v3/memories/search/", {"query": question, "filters": {"user_id": user}})

    report = {"url": options.url, "queries": options.queries, "load_average_start": os.getloadavg(), "passes": {}}
    for name in ("new questions", "repeated questions"):
        samples = {"heavy": [], "light": []}
        for kind, user, question in plan:
            status, payload, timing, ms = client.call(
                "POST",
                "/v3/memories/search/",
                {"query": question, "filters": {"user_id": user}, "top_k": TOP_K, "threshold": 0},
            )
            if status != 200:
                raise SystemExit(f"search answered {status}: {payload!r:.300}")
            found = len(payload["results"])
            samples[kind].append({"ms": ms, **timing, "results": found, "full": found == min(TOP_K, rows[user])})
        report["passes"][name] = {
            kind: {
                "client_ms": summary([s["ms"] for s in found]),
                "server_total_ms": summary([s.get("total", 0.0) for s in found]),
                "server_db_ms": summary([s.get("db", 0.0) for s in found]),
                "server_embed_ms": summary([s.get("embed", 0.0) for s in found]),
                "results_mean": round(sum(s["results"] for s in found) / len(found), 3),
                "full_top_k_rate": round(sum(s["full"] for s in found) / len(found), 4),
            }
            for kind, found in samples.items()
        }
    report["load_average_end"] = os.getloadavg()

    for name, by_kind in report["passes"].items():
        print(name)
        for kind, figures in by_kind.items():
            client_ms, server = figures["client_ms"], figures["server_total_ms"]
            print(
                f"  {kind:5}: client p50 {client_ms['p50']:.1f} p95 {client_ms['p95']:.1f} "
                f"p99 {client_ms['p99']:.1f} ms; "
                f"server p50 {server['p50']:.1f} p95 {server['p95']:.1f} p99 {server['p99']:.1f} ms "
                f"(db p50 {figures['server_db_ms']['p50']:.1f}, embed p50 {figures['server_embed_ms']['p50']:.1f}); "
                f"results mean {figures['results_mean']}, full top-k {100 * figures['full_top_k_rate']:.1f}%"
            )
    if options.json:
        options.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
