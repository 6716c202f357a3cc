"""The heaviest users' searches in-process, round after round on the same questions: p50/p95/p99,
how many took over 25 ms, the SQL's share and the Python around it, and for the slowest the time of
each SQL statement (which one was the walk, the exact fallback, the keyword side). On a data set
``bench --keep`` left behind:

    MEM0G_DATA_DIR=/tmp/mem0g-bench-1m .venv/bin/python benchmarks/heavy_users.py [--users 10]
        [--questions 20] [--rounds 3] [--project bench-...]

Query vectors are embedded first (the rounds time the search without the model). The first round
reads what is not yet in PostgreSQL's buffers; the later ones show the warm state.
"""

import argparse
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mem0g_site.settings")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402

from accounts.models import Project  # noqa: E402
from memories.bench.data import summary, synthetic_question  # noqa: E402
from memories.embedding import embed_query  # noqa: E402
from memories.inputs import Scope  # noqa: E402
from memories.search import memory_search  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", default=None, help="the bench project's slug (default: the newest bench-*)")
    parser.add_argument("--users", type=int, default=10, help="the N heaviest users (bench-user-00001...)")
    parser.add_argument("--questions", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=11)
    options = parser.parse_args()
    projects = Project.objects.filter(slug__startswith="bench-").order_by("-id")
    project = projects.get(slug=options.project) if options.project else projects.first()
    rng = random.Random(options.seed)
    questions = list(dict.fromkeys(synthetic_question(rng) for _ in range(options.questions * 2)))
    questions = questions[: options.questions]
    for question in questions:
        embed_query(question)
    statements: list[tuple[str, float]] = []

    def timed(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            statements.append((" ".join(sql.split())[:40], (time.perf_counter() - started) * 1000))

    users = [f"bench-user-{rank:05d}" for rank in range(1, options.users + 1)]
    for number in range(options.rounds):
        times, sql_times, slow = [], [], []
        for user in users:
            for question in questions:
                statements.clear()
                with connection.execute_wrapper(timed):
                    started = time.perf_counter()
                    memory_search(project=project, query=question, scope=Scope(user_id=user), top_k=10)
                    took = (time.perf_counter() - started) * 1000
                times.append(took)
                sql_times.append(sum(ms for _, ms in statements))
                if took > 25:
                    slow.append((took, user, question, [(sql, round(ms, 1)) for sql, ms in statements]))
        figures, sql = summary(times), summary(sql_times)
        rest = summary([took - in_sql for took, in_sql in zip(times, sql_times, strict=True)])
        print(
            f"round {number}: {len(times)} searches, p50 {figures['p50']:.1f} p95 {figures['p95']:.1f} "
            f"p99 {figures['p99']:.1f} ms, {len(slow)} over 25 ms; SQL p50 {sql['p50']:.1f} p95 {sql['p95']:.1f}, "
            f"the rest p50 {rest['p50']:.1f}"
        )
    for took, user, question, parts in sorted(slow, reverse=True)[:10]:
        print(f"  {took:.1f} ms {user} {question!r}: {parts}")


if __name__ == "__main__":
    main()
