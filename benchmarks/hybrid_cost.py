"""What hybrid search costs beyond vector-only search, in this process, on a throw-away project:
``memory_search`` with ``keyword_search`` off, on with the two sides in one statement (the default),
and on with two statements (as before), alternating the three on the same queries so a busy
machine's noise falls on each alike. The query vectors come from the per-process cache (each query
is embedded once first), so the figures are search without embedding: SQL plus Python.

    MEM0G_DATA_DIR=$(mktemp -d) .venv/bin/python benchmarks/hybrid_cost.py [--users 20] [--per-user 100] \\
        [--queries 200]

Users own ``--per-user`` memories each (the synthetic facts of ``manage.py bench``), so with the
defaults every search takes the exact path (at most SEARCH_EXACT_MAX_ROWS rows in scope).
"""

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--per-user", type=int, default=100)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mem0g_site.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from accounts.models import Organization, Project
    from memories import search
    from memories.bench.data import synthetic_fact, synthetic_question
    from memories.embedding import embed_query
    from memories.inputs import NewMemory, Scope
    from memories.services import memories_add

    rng = random.Random(5)
    slug = f"hybrid-cost-{int(time.time())}"
    organization = Organization.objects.create(name=slug, slug=slug)
    project = Project.objects.create(organization=organization, name=slug, slug=slug)
    users = [f"u{n:03d}" for n in range(args.users)]
    for user in users:
        items = [NewMemory(text=synthetic_fact(rng)[1], scope=Scope(user_id=user)) for _ in range(args.per_user)]
        memories_add(project=project, items=items)
    plan = [(rng.choice(users), synthetic_question(rng)) for _ in range(args.queries)]
    for _, question in plan:
        embed_query(question)

    def vector_only(user, question):
        return search.memory_search(project=project, query=question, scope=Scope(user_id=user), keyword_search=False)

    def hybrid_one(user, question):
        search.HYBRID_ONE_STATEMENT = True
        return search.memory_search(project=project, query=question, scope=Scope(user_id=user))

    def hybrid_two(user, question):
        search.HYBRID_ONE_STATEMENT = False
        try:
            return search.memory_search(project=project, query=question, scope=Scope(user_id=user))
        finally:
            search.HYBRID_ONE_STATEMENT = True

    variants = {"vector only": vector_only, "hybrid, one statement": hybrid_one, "hybrid, two statements": hybrid_two}
    times = {name: [] for name in variants}
    same = 0
    for user, question in plan[:10]:  # warm-up (plans, scope-size cache)
        for run in variants.values():
            run(user, question)
    for user, question in plan:
        order = list(variants.items())
        rng.shuffle(order)
        results = {}
        for name, run in order:
            started = time.perf_counter()
            results[name] = [(m.pk, round(m.score, 9)) for m in run(user, question)]
            times[name].append((time.perf_counter() - started) * 1000)
        same += results["hybrid, one statement"] == results["hybrid, two statements"]
    project.delete()
    organization.delete()
    print(f"load average {os.getloadavg()}; {len(plan)} queries, {args.users} users x {args.per_user} memories")
    base = statistics.median(times["vector only"])
    for name, values in times.items():
        values.sort()
        p50, p95 = statistics.median(values), values[int(0.95 * (len(values) - 1))]
        print(f"  {name:<24} p50 {p50:6.2f} ms  p95 {p95:6.2f} ms  ({p50 / base:.2f}x vector-only p50)")
    print(f"  identical results (ids and scores), one vs two statements: {same} of {len(plan)}")


if __name__ == "__main__":
    main()
