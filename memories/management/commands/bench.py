"""``manage.py bench``: load synthetic memories into a throw-away project and measure the hot paths.

The command parses its options and hands over to the workloads in :mod:`memories.bench`: in process
(the default, :mod:`memories.bench.in_process`), many HTTP clients against a running server
(``load --url``, :mod:`memories.bench.http_load`), the graph benchmark (``graph``) and LOCOMO recall
(``locomo``). Figures go to stdout (``--json PATH`` also writes them as JSON); progress bars go to
stderr. Nothing is written to docs/: copy the figures into docs/BENCHMARKS.md by hand.
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from memories.bench.in_process import LoadBench, check_options
from memories.bench.locomo import LOCOMO_DEFAULT_DATA, LOCOMO_VARIANTS
from memories.bench.modes import run_graph, run_locomo, run_over_http


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
            "many HTTP clients at once against a running server instead (memories/bench/http_load.py); graph: "
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
            run_over_http(self, options)
        elif options["mode"] == "graph":
            run_graph(self, options)
        elif options["mode"] == "locomo":
            run_locomo(self, options)
        else:
            check_options(options)
            LoadBench(self, options).run()
