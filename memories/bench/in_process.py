"""``manage.py bench`` (``bench load`` without ``--url``): synthetic memories at scale, added and searched
in this process.

Every write goes through :func:`memories.services.memories_add` (validation, batched embedding,
insert with history) and every search through :func:`memories.search.memory_search`, exactly as
the API calls them; this module only adds timers around them. It reports add throughput (and how
much of it is the embedding model), user-filtered search latency (end to end, query embedding
alone, SQL alone), whether every search returned the full top-k, ``EXPLAIN (ANALYZE, BUFFERS)`` of
the search SQL the selector really ran, database and index sizes and peak memory.

The rows live in a project of their own (``bench-<timestamp>``) and are deleted at the end unless
``--keep``. Figures go to stdout (``--json PATH`` also writes them as JSON); the progress bar goes
to stderr. Nothing is written to docs/: copy the figures into docs/BENCHMARKS.md by hand.
"""

import os
import random
import statistics
import time
from collections import Counter
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from memories.bench.common import (
    HNSW_INDEX,
    TOP_K,
    check_database,
    delete_bench_project,
    environment,
    new_bench_project,
    write_json,
)
from memories.bench.data import StderrForTqdm, summary, synthetic_fact, synthetic_question, zipf_counts
from memories.bench.in_process_report import print_report
from memories.bench.measure import (
    SqlLog,
    Statement,
    backend_peak_rss_mb,
    execution_ms,
    indexes_in_plan,
    peak_rss_mb,
    planning_ms,
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

WARMUP_QUERIES = 10  # at most; a quarter of --queries for small runs
FAR_QUERY_REPEATS = 10  # at most; a tenth of --queries (3 or more) for small runs
# The planning time reported is the median of this many plain EXPLAINs of the statement.
PLANNING_REPEATS = 5
# Nothing like the personal facts of memories.bench.data: the nearest rows of any user are far from it.
FAR_QUERY = "torque specification in newton metres for the cylinder head bolts of a 1998 marine diesel engine"


def check_options(options: dict[str, Any]) -> None:
    """Refuse out-of-range options (and clamp the default user count to ``--n``)."""
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


class LoadBench:
    """One in-process run: a throw-away project, the load, ANALYZE, the searches, EXPLAIN, sizes, clean-up."""

    def __init__(self, command: BaseCommand, options: dict[str, Any]):
        self.stdout = command.stdout
        self.stderr = command.stderr
        self.options = options

    def run(self) -> dict[str, Any]:
        options = self.options
        check_database()
        rng = random.Random(options["seed"])
        started = time.perf_counter()
        organization, project, slug = new_bench_project("bench")
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
            "environment": environment(),
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
                report["cleanup"] = delete_bench_project(project, organization)
        report["peak_rss_mb"] = peak_rss_mb()
        report["postgres_backend_peak_rss_mb"] = backend_peak_rss_mb(report["environment"]["backend_pid"])
        report["wall_seconds"] = round(time.perf_counter() - started, 1)
        print_report(report, self.stdout.write)
        write_json(options["json"], report, self.stdout.write)
        return report

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
            # The statement that answered: the last search (a scope's first search in a process
            # tries the exact path's statement, which counts the scope, before it walks).
            search = [s for s in log.statements if s.kind == "search"][-1]
            probe = next((s for s in log.statements if s.kind == "probe"), None)
            settings_sql = [sql for statement in log.statements for sql in statement.settings]
            entry = {
                "label": label,
                "user": user,
                "rows": owned[user],
                "strategy": sample["strategy"],
                "results": sample["results"],
                "session_settings": settings_sql,
                "sql": search.body,
                "plan": self._explain_analyze(search, settings_sql),
            }
            entry["indexes_used"] = indexes_in_plan(entry["plan"])
            entry["execution_ms"] = execution_ms(entry["plan"])
            entry["planning_ms"] = self._planning_ms(search, settings_sql)
            if probe is not None:
                entry["probe_sql"] = probe.sql
                entry["probe_plan"] = self._explain_analyze(probe, settings_sql)
                entry["probe_indexes_used"] = indexes_in_plan(entry["probe_plan"])
                entry["probe_execution_ms"] = execution_ms(entry["probe_plan"])
                entry["probe_planning_ms"] = self._planning_ms(probe, settings_sql)
            out.append(entry)
        return out

    @staticmethod
    def _explain_analyze(statement: Statement, settings_sql: list[str]) -> list[str]:
        """EXPLAIN (ANALYZE, BUFFERS) the statement with the same SET LOCALs, in one transaction."""
        [plan] = _explained(statement, settings_sql, "ANALYZE, BUFFERS")
        return [shorten_vectors(line) for line in plan]

    @staticmethod
    def _planning_ms(statement: Statement, settings_sql: list[str]) -> float | None:
        """How long PostgreSQL takes to plan the statement (with the same SET LOCALs): the median of
        ``PLANNING_REPEATS`` plain EXPLAINs, which plan it without running it. Each plans afresh, as
        a search does (its statements are not prepared on the server), with warm catalog caches:
        the searches before it ran in this connection."""
        plans = _explained(statement, settings_sql, "SUMMARY", repeats=PLANNING_REPEATS)
        found = [value for value in map(planning_ms, plans) if value is not None]
        return round(statistics.median(found), 3) if found else None

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


def _explained(statement: Statement, settings_sql: list[str], options: str, *, repeats: int = 1) -> list[list[str]]:
    """The plans of ``repeats`` EXPLAINs (``options``) of the statement, in one transaction after
    the same SET LOCALs it ran with."""
    plans = []
    with transaction.atomic(), connection.cursor() as cursor:
        for sql in settings_sql:
            cursor.execute(sql)
        for _ in range(repeats):
            cursor.execute(f"EXPLAIN ({options}) " + statement.body, statement.params)
            plans.append([row[0] for row in cursor.fetchall()])
    return plans
