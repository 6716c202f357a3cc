"""Where a new-question search spends its time in-process, by part, on the peer harness's data.

    MEM0G_DATA_DIR=<a data directory holding the peer set> EMBEDDING_THREADS=1 \\
        .venv/bin/python benchmarks/search_parts.py [--project bench] [--queries 200]

The data directory is one a mem0g server wrote ``side_by_side.sh g_add10000`` into (the project is
the key's, ``bench`` by default). Each of the peer harness's questions is searched as the Platform
route searches (the user in ``filters``, ``include_superseded``, threshold 0.1) with the query-vector
cache emptied first, so the model runs every time; the first 20 warm up. Prints the mean time per
search spent in the query embedding, the SQL statements, the statement's building and its rows, and
the whole ``memory_search``.
"""

import argparse
import collections
import functools
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, os.environ.get("PEER_BENCH", str(ROOT.parent / "shared" / "peer-bench")))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mem0g_site.settings")

import django  # noqa: E402

django.setup()

import bench as peer  # noqa: E402  (the peer harness's data generator)
from django.db import connection  # noqa: E402
from django.db.models import Q  # noqa: E402

from accounts.models import Project  # noqa: E402
from memories import embedding, search  # noqa: E402

PARTS = {
    search: (
        "embed_query",
        "vector_text",
        "_scope_size",
        "_exact_statement",
        "hybrid_rows",
        "hybrid_rows_counted",
        "fuse",
    ),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", default="bench", help="the project's slug (default bench)")
    parser.add_argument("--queries", type=int, default=200)
    options = parser.parse_args()
    project = Project.objects.get(slug=options.project)
    spent: dict[str, float] = collections.defaultdict(float)
    for module, names in PARTS.items():
        for name in names:
            setattr(module, name, _timed(getattr(module, name), name, spent))

    def sql(execute, statement, params, many, context):
        started = time.perf_counter()
        try:
            return execute(statement, params, many, context)
        finally:
            spent["SQL (every statement)"] += time.perf_counter() - started

    questions = peer.synthetic_queries(options.queries, 100)
    with connection.execute_wrapper(sql):
        for index, (user, question, _) in enumerate(questions):
            if index == 20:
                spent.clear()
            embedding.clear_query_cache()
            started = time.perf_counter()
            search.memory_search(
                project=project, query=question, where=Q(user_id=user), threshold=0.1, include_superseded=True
            )
            spent["memory_search (whole)"] += time.perf_counter() - started
    timed = len(questions) - 20
    for name, seconds in sorted(spent.items(), key=lambda item: -item[1]):
        print(f"{name:28s} {seconds / timed * 1000:7.3f} ms")


def _timed(function, name, spent):
    @functools.wraps(function)
    def timed(*args, **kwargs):
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            spent[name] += time.perf_counter() - started

    return timed


if __name__ == "__main__":
    main()
