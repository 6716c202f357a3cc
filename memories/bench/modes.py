"""The entry points of ``manage.py bench``'s other modes: load over HTTP (``--url``), the graph
benchmark (``graph``, run by :mod:`graph.bench`) and LOCOMO recall (``locomo``)."""

import os
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from graph.bench import DEPTHS, EXPORT_LIMITS, run_graph_bench
from memories.bench.common import check_database, environment, write_json
from memories.bench.data import StderrForTqdm
from memories.bench.http_load import LoadRun, print_report
from memories.bench.locomo import LocomoBench
from memories.bench.measure import peak_rss_mb


def run_over_http(command: BaseCommand, options: dict[str, Any]) -> None:
    """``bench load --url URL``: many clients against a running server (memories/bench/http_load.py)."""
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
    write = command.stdout.write
    print_report(report, write)
    write(f"load average (1/5/15 min) at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    write_json(options["json"], report, write)


def run_graph(command: BaseCommand, options: dict[str, Any]) -> None:
    """``bench graph``: related memories at depth 1-3 and graph exports on one user with
    ``--memories`` memories and ``--edges`` relationships (graph.bench)."""
    from tqdm import tqdm

    for name in ("memories", "edges", "queries", "repeat"):
        if options[name] < 1:
            raise CommandError(f"--{name} must be at least 1 (got {options[name]})")
    check_database()
    progress_out = StderrForTqdm(command.stderr)

    def progress(**kwargs):
        return tqdm(file=progress_out, mininterval=1.0, **kwargs)

    write = command.stdout.write
    write(f"bench graph: {options['memories']} memories, {options['edges']} edges, one user")
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
    report["environment"] = environment()
    report["peak_rss_mb"] = peak_rss_mb()
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
    write_json(options["json"], report, write, default=str)


def run_locomo(command: BaseCommand, options: dict[str, Any]) -> None:
    """``bench locomo``: recall@k on the LOCOMO conversations (memories/bench/locomo.py)."""
    check_database()
    report = LocomoBench(command, options).run()
    write_json(options["json"], report, command.stdout.write)
