"""The printed figures of ``manage.py bench`` in process (:mod:`memories.bench.in_process`)."""

import re
from typing import Any

from memories.bench.common import HNSW_INDEX, TOP_K


def print_report(report: dict[str, Any], write) -> None:
    """The figures of an in-process run, as the command prints them."""
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
    _rows(write, rows)
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
            f"{entry['results']} results) indexes {entry['indexes_used']}, planning {entry['planning_ms']} ms, "
            f"execution {entry['execution_ms']} ms"
        )
        for line in entry["plan"]:
            if (
                re.search(r"Scan|Limit|Sort|Order By|Index Cond|Rows Removed|Buffers|Execution Time", line)
                and "Planning" not in line
            ):
                write(f"      {line}")
        if "probe_plan" in entry:
            write(
                f"    size probe: indexes {entry['probe_indexes_used']}, planning {entry['probe_planning_ms']} ms, "
                f"execution {entry['probe_execution_ms']} ms"
            )
    write("")
    sizes = report["sizes"]
    write("sizes (before clean-up)")
    _rows(
        write,
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
        ],
    )
    cleanup = report["cleanup"]
    if not cleanup.get("kept"):
        write(
            f"clean-up: deleted {cleanup['deleted_memories']} memories and {cleanup['deleted_history']} history "
            f"rows in {cleanup['seconds']} s"
        )


def _rows(write, rows: list[tuple[str, str]]) -> None:
    for name, value in rows:
        write(f"  {name:<23}{value}")
