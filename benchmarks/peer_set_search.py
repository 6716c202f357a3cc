"""The peer harness's data set searched in-process: where a search spends its time outside HTTP.

    MEM0G_DATA_DIR=/tmp/peer-set .venv/bin/python benchmarks/peer_set_search.py [--passes 2]

Loads the 10,000 memories of ``../shared/peer-bench`` (``bench.synthetic_memories``: 100 users, the
user's name in every text) into the default project once (verbatim, in batches), then times its
200 questions (``bench.synthetic_queries``) through ``memory_search`` as the Platform route calls it:
the user in ``filters``, ``include_superseded``, threshold 0.1. The query vectors are computed
before the clock starts (the route's cache would hold them), so only the search is timed. Each pass
prints the p50 and p95 of hybrid search (the default) and of vector-only search, in that order.
Run it in two worktrees in turn to compare them on the same data directory.
"""

import argparse
import os
import statistics
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
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models import Q  # noqa: E402

from accounts.selectors import project_default  # noqa: E402
from memories.embedding import embed_query  # noqa: E402
from memories.inputs import NewMemory, Scope  # noqa: E402
from memories.models import Memory  # noqa: E402
from memories.search import memory_search  # noqa: E402
from memories.services import memories_add  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passes", type=int, default=2, help="hybrid and vector-only passes (default 2 each)")
    options = parser.parse_args()
    call_command("migrate", verbosity=0)
    project = project_default()
    if not Memory.objects.filter(project=project).exists():
        items = peer.synthetic_memories(10000, 100)
        for start in range(0, len(items), 500):
            memories_add(
                project=project,
                items=[NewMemory(text=t, scope=Scope(user_id=u), metadata=m) for u, t, m in items[start : start + 500]],
            )
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    questions = peer.synthetic_queries(200, 100)
    for _, question, _ in questions:
        embed_query(question)
    for _ in range(options.passes):
        for keyword_search in (True, False):
            times = []
            for user, question, _ in questions:
                started = time.perf_counter()
                memory_search(
                    project=project,
                    query=question,
                    where=Q(user_id=user),
                    include_superseded=True,
                    threshold=0.1,
                    keyword_search=keyword_search,
                )
                times.append(1000 * (time.perf_counter() - started))
            times.sort()
            print(
                f"{'hybrid' if keyword_search else 'vector'}: p50 {statistics.median(times):.2f} "
                f"p95 {times[int(0.95 * len(times))]:.2f} ms"
            )


if __name__ == "__main__":
    main()
