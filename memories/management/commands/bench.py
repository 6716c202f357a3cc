"""``manage.py bench``: load synthetic memories into a throw-away project and measure the hot paths.

Every write goes through :func:`memories.services.memories_add` (validation, batched embedding,
insert with history) and every search through :func:`memories.search.memory_search`, exactly as
the API calls them; the command only adds timers around them. It reports add throughput (and how
much of it is the embedding model), user-filtered search latency (end to end, query embedding
alone, SQL alone), whether every search returned the full top-k, ``EXPLAIN (ANALYZE, BUFFERS)`` of
the search SQL the selector really ran, database and index sizes and peak memory.

The rows live in a project of their own (``bench-<timestamp>``) and are deleted at the end unless
``--keep``. Figures go to stdout (``--json PATH`` also writes them as JSON); the progress bar goes
to stderr. Nothing is written to docs/: copy the figures into docs/BENCHMARKS.md by hand.
"""

import json
import os
import platform
import random
import re
import secrets
import statistics
import time
from collections import Counter
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.db.utils import OperationalError
from django.utils import timezone

from accounts.models import Organization, Project
from graph.bench import DEPTHS, EXPORT_LIMITS, run_graph_bench
from memories.bench_data import StderrForTqdm, summary, synthetic_fact, synthetic_question, zipf_counts
from memories.bench_load import LoadRun, print_report
from memories.bench_locomo import LOCOMO_DEFAULT_DATA, LOCOMO_VARIANTS, LocomoBench
from memories.bench_measure import (
    SqlLog,
    Statement,
    backend_peak_rss_mb,
    cpu_model,
    execution_ms,
    indexes_in_plan,
    peak_rss_mb,
    search_strategy,
    shorten_vectors,
    sql_log,
    timed_embedder,
)
from memories.embedding import clear_query_cache, embed_query, get_embedder
from memories.inputs import NewMemory, Scope
from memories.models import Memory, MemoryHistory
from memories.search import memory_search
from memories.services import memories_add

HNSW_INDEX = "memory_embedding_hnsw"
TOP_K = 10
WARMUP_QUERIES = 10  # at most; a quarter of --queries for small runs
FAR_QUERY_REPEATS = 10  # at most; a tenth of --queries (3 or more) for small runs
# Nothing like the personal facts of memories.bench_data: the nearest rows of any user are far from it.
FAR_QUERY = "torque specification in newton metres for the cylinder head bolts of a 1998 marine diesel engine"

# --- The command -----------------------------------------------------------------------------


class Command(BaseCommand):
    help = (
        "Benchmark: load N synthetic memories (batched memories_add) into a throw-away project, then "
        "measure user-filtered memory_search latency, EXPLAIN the search SQL, and report sizes and peak RSS."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "mode",
            nargs="?",
            choices=["load", "graph", "locomo"],
            default="load",
            help="load: synthetic memories at scale, add and search, in this process (the default); with --url, "
            "many HTTP clients at once against a running server instead (memories/bench_load.py); graph: "
            "related/graph on one user's large graph; locomo: retrieval recall on the LOCOMO set",
        )
        parser.add_argument("--memories", type=int, default=10_000, help="graph: the user's memories (default 10000)")
        parser.add_argument("--edges", type=int, default=50_000, help="graph: relationships (default 50000)")
        parser.add_argument("--n", type=int, default=100_000, help="memories to load (default 100000)")
        parser.add_argument(
            "--users",
            type=int,
            default=None,
            help="users the memories are spread over (default 1000, at most --n; with --url: 100)",
        )
        parser.add_argument(
            "--zipf", type=float, default=1.0, help="skew of rows per user: user k owns ~1/k**zipf (default 1.0)"
        )
        parser.add_argument("--batch", type=int, default=256, help="memories per memories_add call (default 256)")
        parser.add_argument("--queries", type=int, default=200, help="search calls per repeat (default 200)")
        parser.add_argument("--repeat", type=int, default=3, help="times the search phase runs (default 3)")
        parser.add_argument("--seed", type=int, default=1, help="random seed for texts, users and queries")
        parser.add_argument("--json", type=Path, default=None, metavar="PATH", help="also write the figures here")
        parser.add_argument("--keep", action="store_true", help="keep the bench project and its rows")
        http = parser.add_argument_group("load over HTTP (load --url)")
        http.add_argument("--url", default=None, help="a running server's base URL, e.g. http://127.0.0.1:8000")
        http.add_argument(
            "--api-key", default=None, help="a read,write key of the server (default: the MEM0G_KEY variable)"
        )
        http.add_argument("--clients", type=int, default=32, help="concurrent clients (default 32)")
        http.add_argument("--duration", type=float, default=30.0, help="seconds of load (default 30)")
        http.add_argument(
            "--seed-memories", type=int, default=500, help="memories added before the clock starts (default 500)"
        )
        http.add_argument(
            "--repeat-queries",
            action="store_true",
            help="let search questions repeat (the server's query-vector cache then skips the model for most)",
        )
        locomo = parser.add_argument_group("locomo")
        locomo.add_argument(
            "--data", default=None, metavar="PATH", help=f"the LOCOMO JSON file (default {LOCOMO_DEFAULT_DATA})"
        )
        locomo.add_argument("--samples", type=int, default=None, help="only the first N conversations (all 10)")
        locomo.add_argument("--questions", type=int, default=None, help="only the first N questions of each")
        locomo.add_argument(
            "--variants",
            default="vector,hybrid",
            help=f"comma-separated search variants: {', '.join(LOCOMO_VARIANTS)} (default vector,hybrid)",
        )
        locomo.add_argument(
            "--captions", action="store_true", help="append each shared photo's caption to its turn's text"
        )
        locomo.add_argument(
            "--infer",
            action="store_true",
            help="locomo: also add every turn with infer: true (one add per turn, role user, the speaker as name, "
            "the session date as timestamp) and report its recall beside the verbatim figure; load --url: adds "
            "send infer: true (fact extraction) instead of storing the text verbatim",
        )
        locomo.add_argument(
            "--include-sources",
            action="store_true",
            help="with --infer: also search the infer copy with include_sources (the messages beside the facts) "
            "and report it as a third mode",
        )

    def handle(self, *args, **options):
        if options["url"] is not None:
            if options["mode"] != "load":
                raise CommandError("--url goes with the load mode: bench load --url URL --api-key KEY")
            return self._load_over_http(options)
        if options["mode"] == "graph":
            return self._graph(options)
        if options["mode"] == "locomo":
            self._check_database()
            report = LocomoBench(self, options).run()
            if options["json"]:
                options["json"].parent.mkdir(parents=True, exist_ok=True)
                options["json"].write_text(json.dumps(report, indent=2) + "\n")
                self.stdout.write(f"figures written to {options['json']}")
            return
        self._check_options(options)
        self._check_database()
        rng = random.Random(options["seed"])
        started = time.perf_counter()
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        slug = f"bench-{stamp}-{secrets.token_hex(2)}"
        organization = Organization.objects.create(name=slug, slug=slug)
        project = Project.objects.create(organization=organization, name=slug, slug=slug)
        report: dict[str, Any] = {
            "config": {
                key: (str(options[key]) if key == "json" and options[key] else options[key])
                for key in ("n", "users", "zipf", "batch", "queries", "repeat", "seed", "keep", "json")
            }
            | {
                "top_k": TOP_K,
                "search_exact_max_rows": settings.SEARCH_EXACT_MAX_ROWS,
                "embedding_batch_size": settings.EMBEDDING_BATCH_SIZE,
            },
            "project": {"slug": slug, "id": str(project.pk)},
            "environment": self._environment(),
        }
        self.stdout.write(f"bench project {slug}: {options['n']} memories over {options['users']} users")
        try:
            counts = zipf_counts(options["n"], options["users"], options["zipf"])
            users = [f"bench-user-{rank:05d}" for rank in range(1, len(counts) + 1)]
            owned = dict(zip(users, counts, strict=True))
            report["distribution"] = self._distribution(counts)
            report["load_average"] = {"start": os.getloadavg()}
            report["add"] = self._load(project, owned, options, rng)
            report["load_average"]["after_add"] = os.getloadavg()
            report["analyze_seconds"] = self._analyze()
            report["search"] = self._search(project, owned, options, rng)
            report["load_average"]["after_search"] = os.getloadavg()
            far_repeats = min(FAR_QUERY_REPEATS, max(3, options["queries"] // 10))
            report["far_query"] = self._far_query(project, owned, far_repeats)
            report["explain"] = self._explain(project, owned)
            report["sizes"] = self._sizes(project)
        finally:
            if options["keep"]:
                report["cleanup"] = {"kept": True}
                self.stdout.write(f"kept project {slug} (id {project.pk})")
            else:
                report["cleanup"] = self._cleanup(project, organization)
        report["peak_rss_mb"] = peak_rss_mb()
        report["postgres_backend_peak_rss_mb"] = backend_peak_rss_mb(report["environment"]["backend_pid"])
        report["wall_seconds"] = round(time.perf_counter() - started, 1)
        self._print(report)
        if options["json"]:
            options["json"].parent.mkdir(parents=True, exist_ok=True)
            options["json"].write_text(json.dumps(report, indent=2) + "\n")
            self.stdout.write(f"figures written to {options['json']}")

    # --- load over HTTP -------------------------------------------------------------------------

    def _load_over_http(self, options) -> None:

        key = options["api_key"] or os.environ.get("MEM0G_KEY", "")
        if not key:
            raise CommandError("--api-key (or the MEM0G_KEY variable) is needed with --url")
        for name, low in (("clients", 1), ("duration", 0.1), ("seed_memories", 0)):
            if options[name] < low:
                raise CommandError(f"--{name.replace('_', '-')} must be at least {low} (got {options[name]})")
        users = options["users"] if options["users"] is not None else 100
        if users < 1:
            raise CommandError(f"--users must be at least 1 (got {users})")
        try:
            run = LoadRun(
                url=options["url"],
                api_key=key,
                clients=options["clients"],
                duration=options["duration"],
                users=users,
                seed_memories=options["seed_memories"],
                infer=options["infer"],
                seed=options["seed"],
                repeat_queries=options["repeat_queries"],
            )
            report = run.run()
        except (ValueError, RuntimeError, OSError) as exc:
            raise CommandError(f"bench load: {exc}") from None
        report["load_average"] = os.getloadavg()
        print_report(report, self.stdout.write)
        self.stdout.write(f"load average (1/5/15 min) at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        if options["json"]:
            options["json"].parent.mkdir(parents=True, exist_ok=True)
            options["json"].write_text(json.dumps(report, indent=2) + "\n")
            self.stdout.write(f"figures written to {options['json']}")

    # --- graph mode -----------------------------------------------------------------------------

    def _graph(self, options) -> None:
        """``bench graph``: related memories at depth 1-3 and graph exports on one user with
        ``--memories`` memories and ``--edges`` relationships (graph.bench)."""
        from tqdm import tqdm

        for name in ("memories", "edges", "queries", "repeat"):
            if options[name] < 1:
                raise CommandError(f"--{name} must be at least 1 (got {options[name]})")
        self._check_database()
        progress_out = StderrForTqdm(self.stderr)

        def progress(**kwargs):
            return tqdm(file=progress_out, mininterval=1.0, **kwargs)

        self.stdout.write(f"bench graph: {options['memories']} memories, {options['edges']} edges, one user")
        load_average = {"start": os.getloadavg()}
        try:
            report = run_graph_bench(
                memories=options["memories"],
                edges=options["edges"],
                queries=options["queries"],
                repeat=options["repeat"],
                seed=options["seed"],
                keep=options["keep"],
                progress=progress,
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        report["load_average"] = {**load_average, "end": os.getloadavg()}
        report["environment"] = self._environment()
        report["peak_rss_mb"] = peak_rss_mb()
        write = self.stdout.write
        write(f"loaded in {report['load']['seconds']} s ({report['vectors']})")
        write(f"load average at start {load_average['start']}, at end {report['load_average']['end']}")
        write("selector = the graph.selectors call; +json = with the API's serialisation")
        header = ("case", "p50 ms", "p95 ms", "p99 ms", "+json p50", "+json p95", "items")
        write("{:<19}{:>9}{:>9}{:>9}{:>11}{:>11}{:>7}  run medians".format(*header))
        cases = [f"related_depth_{d}" for d in DEPTHS] + [f"graph_limit_{n}" for n in EXPORT_LIMITS]
        for name in cases:
            f = report["latency_ms"][name]
            write(
                f"{name:<19}{f['p50']:>9.2f}{f['p95']:>9.2f}{f['p99']:>9.2f}{f['with_json']['p50']:>11.2f}"
                f"{f['with_json']['p95']:>11.2f}{f['mean_items']:>7.0f}  {f['run_medians']}"
            )
        write("EXPLAIN (ANALYZE, BUFFERS) of the depth-2 walk:")
        for line in report["explain_depth_2"]:
            write("  " + line)
        if options["json"]:
            options["json"].parent.mkdir(parents=True, exist_ok=True)
            options["json"].write_text(json.dumps(report, indent=2, default=str) + "\n")
            write(f"figures written to {options['json']}")

    # --- set-up -------------------------------------------------------------------------------

    def _check_options(self, options) -> None:
        checks = [
            ("n", 1, None),
            ("users", 1, None),
            ("batch", 1, settings.MEMORY_BATCH_MAX),
            ("queries", 1, None),
            ("repeat", 1, None),
        ]
        if options["users"] is None:
            # The default user count is clamped to --n (bench --n 300 spreads 300 memories over 300 users).
            options["users"] = min(1000, max(1, options["n"]))
        for name, low, high in checks:
            value = options[name]
            if value < low or (high is not None and value > high):
                bound = f"from {low} to {high}" if high is not None else f"at least {low}"
                raise CommandError(f"--{name} must be {bound} (got {value})")
        if options["users"] > options["n"]:
            raise CommandError("--users must not exceed --n")
        if options["zipf"] < 0:
            raise CommandError("--zipf must not be negative")

    def _check_database(self) -> None:
        try:
            connection.ensure_connection()
        except OperationalError as exc:
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
            raise CommandError(f"DATABASE_URL: cannot connect to the database ({first_line})") from None
        executor = MigrationExecutor(connection)
        if executor.migration_plan(executor.loader.graph.leaf_nodes()):
            raise CommandError("the database has unapplied migrations: run `python manage.py migrate` first")

    def _environment(self) -> dict[str, Any]:
        import django
        import torch

        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT current_setting('server_version'), "
                "(SELECT extversion FROM pg_extension WHERE extname = 'vector'), "
                "current_setting('shared_buffers'), current_setting('work_mem'), "
                "current_setting('maintenance_work_mem'), current_setting('synchronous_commit'), "
                "current_setting('max_parallel_workers_per_gather'), pg_backend_pid()"
            )
            row = cursor.fetchone()
        return {
            "cpu": cpu_model(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "django": django.get_version(),
            "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(),
            "postgres": row[0],
            "pgvector": row[1],
            "shared_buffers": row[2],
            "work_mem": row[3],
            "maintenance_work_mem": row[4],
            "synchronous_commit": row[5],
            "max_parallel_workers_per_gather": row[6],
            "backend_pid": row[7],
            "embedded_database": settings.DATABASE_IS_EMBEDDED,
        }

    @staticmethod
    def _distribution(counts: list[int]) -> dict[str, Any]:
        ordered = sorted(counts, reverse=True)
        total = sum(ordered)
        return {
            "users": len(ordered),
            "max_rows": ordered[0],
            "median_rows": statistics.median(ordered),
            "min_rows": ordered[-1],
            "top_1pct_users_share": round(sum(ordered[: max(1, len(ordered) // 100)]) / total, 3),
            "users_under_10_rows": sum(1 for c in ordered if c < TOP_K),
            "users_over_exact_limit": sum(1 for c in ordered if c > settings.SEARCH_EXACT_MAX_ROWS),
        }

    # --- load ---------------------------------------------------------------------------------

    def _load(self, project, owned: dict[str, int], options, rng: random.Random) -> dict[str, Any]:
        from tqdm import tqdm

        n, batch_size = options["n"], options["batch"]
        owners = [user for user, count in owned.items() for _ in range(count)]
        rng.shuffle(owners)  # batches mix users, as concurrent clients would
        get_embedder()  # load the model outside the timed region
        embedded = {"seconds": 0.0, "texts": 0}
        calls: list[dict[str, float]] = []
        progress_out = StderrForTqdm(self.stderr)
        with (
            tqdm(total=n, unit="mem", desc="loading", file=progress_out, mininterval=1.0, smoothing=0.1) as bar,
            timed_embedder(embedded),
        ):
            for start in range(0, n, batch_size):
                items = []
                for user in owners[start : start + batch_size]:
                    topic, text = synthetic_fact(rng)
                    items.append(
                        NewMemory(
                            text=text,
                            scope=Scope(user_id=user),
                            metadata={"topic": topic, "source": "bench"},
                            categories=[topic],
                        )
                    )
                embed_before = embedded["seconds"]
                with sql_log() as log:
                    call_started = time.perf_counter()
                    memories_add(project=project, items=items)
                    seconds = time.perf_counter() - call_started
                memory_table = Memory._meta.db_table
                calls.append(
                    {
                        "rows": len(items),
                        "seconds": seconds,
                        "embed": embedded["seconds"] - embed_before,
                        "insert_memory": sum(
                            s.seconds for s in log.statements if s.kind == "insert" and f'"{memory_table}"' in s.sql
                        ),
                        "insert_history": sum(
                            s.seconds for s in log.statements if s.kind == "insert" and f'"{memory_table}"' not in s.sql
                        ),
                    }
                )
                bar.update(len(items))

        total = sum(c["seconds"] for c in calls)
        embed = sum(c["embed"] for c in calls)
        insert_memory = sum(c["insert_memory"] for c in calls)
        insert_history = sum(c["insert_history"] for c in calls)
        decile = max(1, len(calls) // 10)
        bounds = sorted({len(calls) * i // 10 for i in range(11)})
        deciles = list(zip(bounds, bounds[1:], strict=False))

        def rate(chunk):
            return round(sum(c["rows"] for c in chunk) / sum(c["seconds"] for c in chunk), 1)

        def insert_ms_per_row(chunk):
            return round(1000 * sum(c["insert_memory"] for c in chunk) / sum(c["rows"] for c in chunk), 3)

        return {
            "memories": n,
            "calls": len(calls),
            "batch": batch_size,
            "seconds": round(total, 2),
            "per_second": round(n / total, 1),
            "embed_seconds": round(embed, 2),
            "embed_share": round(embed / total, 3),
            "embed_only_per_second": round(embedded["texts"] / embed, 1) if embed else None,
            "insert_memory_seconds": round(insert_memory, 2),
            "insert_history_seconds": round(insert_history, 2),
            "insert_share": round((insert_memory + insert_history) / total, 3),
            "other_seconds": round(total - embed - insert_memory - insert_history, 2),
            "per_second_first_decile": rate(calls[:decile]),
            "per_second_last_decile": rate(calls[-decile:]),
            "insert_memory_ms_per_row_first_decile": insert_ms_per_row(calls[:decile]),
            "insert_memory_ms_per_row_last_decile": insert_ms_per_row(calls[-decile:]),
            "call_ms": summary([1000 * c["seconds"] for c in calls]),
            "by_decile": [
                {
                    "rows_before": sum(c["rows"] for c in calls[:start]),
                    "per_second": rate(calls[start:stop]),
                    "embed_per_second": round(
                        sum(c["rows"] for c in calls[start:stop]) / sum(c["embed"] for c in calls[start:stop]), 1
                    ),
                    "insert_memory_ms_per_row": insert_ms_per_row(calls[start:stop]),
                }
                for start, stop in deciles
            ],
        }

    def _analyze(self) -> float:
        """Fresh planner statistics, as autovacuum would have gathered during a real load."""
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(Memory._meta.db_table)}")
        return round(time.perf_counter() - started, 2)

    # --- search -------------------------------------------------------------------------------

    def _timed_search(self, project, user: str, question: str) -> dict[str, Any]:
        # The model is timed, not the per-process cache of query vectors: emptied before each.
        clear_query_cache()
        embed_started = time.perf_counter()
        embed_query(question)
        embed_seconds = time.perf_counter() - embed_started
        clear_query_cache()
        with sql_log() as log:
            started = time.perf_counter()
            results = memory_search(project=project, query=question, scope=Scope(user_id=user), top_k=TOP_K)
            total = time.perf_counter() - started
        return {
            "user": user,
            "results": len(results),
            "strategy": search_strategy(log),
            "total_ms": 1000 * total,
            "embed_ms": 1000 * embed_seconds,
            "sql_ms": 1000 * log.seconds(),
            "probe_ms": 1000 * log.seconds("probe"),
            "search_sql_ms": 1000 * log.seconds("search"),
            "keyword_sql_ms": 1000 * log.seconds("keyword"),
            "log": log,
        }

    def _search(self, project, owned: dict[str, int], options, rng: random.Random) -> dict[str, Any]:
        users = list(owned)
        weights = list(owned.values())
        # Half the queries ask about a user picked uniformly (most own few rows), half about a user
        # picked in proportion to their rows (the heavy ones); the heaviest and lightest always appear.
        picked = [users[0], users[-1]]
        while len(picked) < options["queries"]:
            if len(picked) % 2:
                picked.append(rng.choice(users))
            else:
                picked.append(rng.choices(users, weights=weights)[0])
        plan = [(user, synthetic_question(rng)) for user in picked[: options["queries"]]]
        for user, question in plan[: min(WARMUP_QUERIES, max(1, options["queries"] // 4))]:
            self._timed_search(project, user, question)

        samples: list[dict[str, Any]] = []
        per_repeat = []
        for repeat in range(options["repeat"]):
            round_samples = []
            for user, question in plan:
                sample = self._timed_search(project, user, question)
                sample.pop("log")
                sample["rows"] = owned[user]
                sample["repeat"] = repeat
                round_samples.append(sample)
            samples.extend(round_samples)
            per_repeat.append(
                {
                    "total_ms": summary([s["total_ms"] for s in round_samples]),
                    "sql_ms": summary([s["sql_ms"] for s in round_samples]),
                }
            )

        def block(chosen):
            return {
                "total_ms": summary([s["total_ms"] for s in chosen]),
                "embed_ms": summary([s["embed_ms"] for s in chosen]),
                "sql_ms": summary([s["sql_ms"] for s in chosen]),
                "total_minus_embed_ms": summary([s["total_ms"] - s["embed_ms"] for s in chosen]),
                "probe_ms": summary([s["probe_ms"] for s in chosen]),
                "search_sql_ms": summary([s["search_sql_ms"] for s in chosen]),
            }

        full = [s for s in samples if s["rows"] >= TOP_K]
        by_strategy = {
            name: block([s for s in samples if s["strategy"] == name])
            for name in sorted({s["strategy"] for s in samples})
        }
        for name in by_strategy:
            by_strategy[name]["users"] = len({s["user"] for s in samples if s["strategy"] == name})
        return {
            **block(samples),
            "per_repeat": per_repeat,
            "by_strategy": by_strategy,
            "strategies": dict(Counter(s["strategy"] for s in samples)),
            "distinct_users": len({s["user"] for s in samples}),
            "results_mean": round(statistics.fmean(s["results"] for s in samples), 3),
            "results_mean_users_with_10_rows": round(statistics.fmean(s["results"] for s in full), 3) if full else None,
            "short_results": sum(1 for s in full if s["results"] < TOP_K),
            "samples": [
                {key: (round(value, 3) if isinstance(value, float) else value) for key, value in s.items()}
                for s in samples
            ],
        }

    def _far_query(self, project, owned: dict[str, int], repeats: int) -> list[dict[str, Any]]:
        """A question far from everything, asked repeatedly, for a light, a ~1% and the heaviest user."""
        users = list(owned)
        total = sum(owned.values())
        one_percent = min(users, key=lambda u: abs(owned[u] - total / 100))
        chosen = {"fewest rows": users[-1], "~1% of rows": one_percent, "most rows": users[0]}
        out = []
        for label, user in chosen.items():
            runs = [self._timed_search(project, user, FAR_QUERY) for _ in range(repeats)]
            out.append(
                {
                    "label": label,
                    "user": user,
                    "rows": owned[user],
                    "expected": min(TOP_K, owned[user]),
                    "strategy": runs[0]["strategy"],
                    "results": [run["results"] for run in runs],
                    "total_ms": summary([run["total_ms"] for run in runs]),
                }
            )
        return out

    # --- EXPLAIN ------------------------------------------------------------------------------

    def _explain(self, project, owned: dict[str, int]) -> list[dict[str, Any]]:
        users = list(owned)
        limit = settings.SEARCH_EXACT_MAX_ROWS
        chosen = {"most rows": users[0]}
        exact_users = [u for u in users if owned[u] <= limit]
        if exact_users and exact_users[0] != users[0]:
            chosen["most rows on the exact path"] = exact_users[0]
        chosen["fewest rows"] = users[-1]
        question = "what food does the user like?"
        out = []
        for label, user in chosen.items():
            sample = self._timed_search(project, user, question)
            log: SqlLog = sample["log"]
            search = next(s for s in log.statements if s.kind == "search")
            probe = next((s for s in log.statements if s.kind == "probe"), None)
            settings_sql = [s.sql for s in log.statements if s.kind == "set"]
            entry = {
                "label": label,
                "user": user,
                "rows": owned[user],
                "strategy": sample["strategy"],
                "results": sample["results"],
                "session_settings": settings_sql,
                "sql": search.sql,
                "plan": self._explain_analyze(search, settings_sql),
            }
            entry["indexes_used"] = indexes_in_plan(entry["plan"])
            entry["execution_ms"] = execution_ms(entry["plan"])
            if probe is not None:
                entry["probe_sql"] = probe.sql
                entry["probe_plan"] = self._explain_analyze(probe, settings_sql)
                entry["probe_indexes_used"] = indexes_in_plan(entry["probe_plan"])
                entry["probe_execution_ms"] = execution_ms(entry["probe_plan"])
            out.append(entry)
        return out

    @staticmethod
    def _explain_analyze(statement: Statement, settings_sql: list[str]) -> list[str]:
        """EXPLAIN (ANALYZE, BUFFERS) the statement with the same SET LOCALs, in one transaction."""
        with transaction.atomic(), connection.cursor() as cursor:
            for sql in settings_sql:
                cursor.execute(sql)
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement.sql, statement.params)
            return [shorten_vectors(row[0]) for row in cursor.fetchall()]

    # --- sizes and clean-up -------------------------------------------------------------------

    def _sizes(self, project) -> dict[str, Any]:
        memory_table = Memory._meta.db_table
        history_table = MemoryHistory._meta.db_table
        mb = 1024 * 1024
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_database_size(current_database()), pg_total_relation_size(%s::regclass), "
                "pg_relation_size(%s::regclass), pg_relation_size(%s::regclass), "
                "pg_total_relation_size(%s::regclass), pg_indexes_size(%s::regclass)",
                [memory_table, memory_table, HNSW_INDEX, history_table, memory_table],
            )
            database, memory_total, memory_heap, hnsw, history_total, memory_indexes = cursor.fetchone()
        return {
            "database_mb": round(database / mb, 1),
            "memory_table_total_mb": round(memory_total / mb, 1),
            "memory_table_heap_mb": round(memory_heap / mb, 1),
            "memory_indexes_mb": round(memory_indexes / mb, 1),
            "hnsw_index_mb": round(hnsw / mb, 1),
            "history_table_total_mb": round(history_total / mb, 1),
            "rows_in_memory_table": Memory.objects.count(),
            "rows_in_bench_project": Memory.objects.for_project(project).count(),
        }

    def _cleanup(self, project, organization) -> dict[str, Any]:
        started = time.perf_counter()
        quote = connection.ops.quote_name
        with transaction.atomic(), connection.cursor() as cursor:
            # Raw deletes: the ORM would load 100k rows to cascade. Foreign keys to memories are
            # checked at commit, after project.delete() has removed anything else the project owns.
            cursor.execute(f"DELETE FROM {quote(Memory._meta.db_table)} WHERE project_id = %s", [project.pk])
            memories = cursor.rowcount
            cursor.execute(f"DELETE FROM {quote(MemoryHistory._meta.db_table)} WHERE project_id = %s", [project.pk])
            history = cursor.rowcount
            project_id = project.pk
            project.delete()
            organization.delete()
        return {
            "deleted_memories": memories,
            "deleted_history": history,
            "remaining_memories": Memory.objects.filter(project_id=project_id).count(),
            "remaining_history": MemoryHistory.objects.filter(project_id=project_id).count(),
            "seconds": round(time.perf_counter() - started, 2),
        }

    # --- output -------------------------------------------------------------------------------

    def _print(self, report: dict[str, Any]) -> None:
        write = self.stdout.write
        env, add, search = report["environment"], report["add"], report["search"]
        write("")
        write(
            f"machine: {env['cpu']}, {env['cpus']} CPUs; PostgreSQL {env['postgres']}, pgvector {env['pgvector']}, "
            f"torch {env['torch']} ({env['torch_threads']} threads)"
        )
        loads = report.get("load_average", {})
        write(
            "load average (1/5/15 min): "
            + "; ".join(f"{phase} {' '.join(f'{x:.2f}' for x in value)}" for phase, value in loads.items())
        )
        dist = report["distribution"]
        write(
            f"users: {dist['users']}, rows per user max {dist['max_rows']} / median {dist['median_rows']} / "
            f"min {dist['min_rows']}; {dist['users_over_exact_limit']} user(s) over SEARCH_EXACT_MAX_ROWS="
            f"{report['config']['search_exact_max_rows']}"
        )
        write("")
        write("add (memories_add, batched)")
        rows = [
            ("memories", f"{add['memories']} in {add['calls']} calls of {add['batch']}"),
            ("throughput", f"{add['per_second']} memories/s ({add['seconds']} s)"),
            (
                "embedding share",
                f"{add['embed_seconds']} s = {100 * add['embed_share']:.1f}% "
                f"(embedding alone: {add['embed_only_per_second']} texts/s)",
            ),
            (
                "INSERT share",
                f"{add['insert_memory_seconds']} s memories + {add['insert_history_seconds']} s history "
                f"= {100 * add['insert_share']:.1f}%",
            ),
            ("other", f"{add['other_seconds']} s (validation, objects, commit)"),
            (
                "first / last 10%",
                f"{add['per_second_first_decile']} / {add['per_second_last_decile']} memories/s; memory INSERT "
                f"{add['insert_memory_ms_per_row_first_decile']} / {add['insert_memory_ms_per_row_last_decile']} "
                "ms per row",
            ),
        ]
        self._rows(rows)
        write("")
        write(
            f"search (memory_search, scope=user, top_k={TOP_K}; {search['total_ms']['count']} calls, "
            f"{search['distinct_users']} users, {report['config']['repeat']} repeat(s))"
        )
        write(f"  {'ms':<26}{'p50':>9}{'p95':>9}{'p99':>9}{'mean':>9}")
        lines = [
            ("total (incl. embedding)", search["total_ms"]),
            ("query embedding alone", search["embed_ms"]),
            ("SQL (all statements)", search["sql_ms"]),
            ("total minus embedding", search["total_minus_embed_ms"]),
            ("  size probe (COUNT)", search["probe_ms"]),
            ("  search SELECT", search["search_sql_ms"]),
        ]
        for name, stats in search["by_strategy"].items():
            if stats["total_ms"]["count"]:
                lines.append((f"total, {name} path ({stats['total_ms']['count']})", stats["total_ms"]))
                lines.append((f"SQL, {name} path", stats["sql_ms"]))
        for label, stats in lines:
            write(f"  {label:<26}{stats['p50']:>9.2f}{stats['p95']:>9.2f}{stats['p99']:>9.2f}{stats['mean']:>9.2f}")
        for index, rep in enumerate(search["per_repeat"], start=1):
            write(f"  repeat {index}: total p50 {rep['total_ms']['p50']:.2f} / p95 {rep['total_ms']['p95']:.2f} ms")
        write(
            f"  results per query: mean {search['results_mean']} (users with >= {TOP_K} rows: "
            f"{search['results_mean_users_with_10_rows']}, short: {search['short_results']})"
        )
        for far in report["far_query"]:
            write(
                f"  far query, {far['label']} ({far['rows']} rows, {far['strategy']}): results "
                f"{sorted(set(far['results']))} over {len(far['results'])} calls (expected {far['expected']})"
            )
        write("")
        write("EXPLAIN (ANALYZE, BUFFERS) of the search SQL")
        for entry in report["explain"]:
            write(
                f"  {entry['label']}: {entry['user']} ({entry['rows']} rows, {entry['strategy']} path, "
                f"{entry['results']} results) indexes {entry['indexes_used']}, execution {entry['execution_ms']} ms"
            )
            for line in entry["plan"]:
                if (
                    re.search(r"Scan|Limit|Sort|Order By|Index Cond|Rows Removed|Buffers|Execution Time", line)
                    and "Planning" not in line
                ):
                    write(f"      {line}")
            if "probe_plan" in entry:
                write(
                    f"    size probe: indexes {entry['probe_indexes_used']}, execution {entry['probe_execution_ms']} ms"
                )
        write("")
        sizes = report["sizes"]
        write("sizes (before clean-up)")
        self._rows(
            [
                ("database", f"{sizes['database_mb']} MB"),
                (
                    "memory table",
                    f"{sizes['memory_table_total_mb']} MB total, {sizes['memory_table_heap_mb']} MB heap, "
                    f"{sizes['memory_indexes_mb']} MB indexes",
                ),
                (HNSW_INDEX, f"{sizes['hnsw_index_mb']} MB"),
                ("history table", f"{sizes['history_table_total_mb']} MB total"),
                (
                    "rows",
                    f"{sizes['rows_in_memory_table']} in the memory table, "
                    f"{sizes['rows_in_bench_project']} in the bench project",
                ),
                ("peak RSS", f"{report['peak_rss_mb']} MB (this process)"),
                ("postgres backend", f"{report['postgres_backend_peak_rss_mb']} MB peak RSS"),
                ("ANALYZE", f"{report['analyze_seconds']} s"),
                ("wall time", f"{report['wall_seconds']} s"),
            ]
        )
        cleanup = report["cleanup"]
        if not cleanup.get("kept"):
            write(
                f"clean-up: deleted {cleanup['deleted_memories']} memories and {cleanup['deleted_history']} history "
                f"rows in {cleanup['seconds']} s"
            )

    def _rows(self, rows: list[tuple[str, str]]) -> None:
        for name, value in rows:
            self.stdout.write(f"  {name:<23}{value}")
