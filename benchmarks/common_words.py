"""Heavy users' searches with and without the common-word rule of large scopes, in-process.

    MEM0G_DATA_DIR=<the data directory bench --n 1000000 --users 10000 --keep left> \\
        .venv/bin/python benchmarks/common_words.py [--users 10] [--questions 20] [--rounds 2]

For the ``--users`` heaviest users of the newest bench project (``bench-user-00001`` onwards) and
the bench's questions (query vectors cached first: the search without the model), each question is
searched with the rule off (``memories.search.KEYWORD_COMMON_ROWS`` None: every query word read in
up to ``KEYWORD_TERM_ROWS_MAX`` rows, weighted from its capped count) and on (the default), in
alternating rounds. Prints each round's p50/p95 and how far the two rankings' top 10 agree, and the
questions whose results changed most, with the similarity and keyword score of their first results.
"""

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mem0g_site.settings")

import django  # noqa: E402

django.setup()

from accounts.models import Project  # noqa: E402
from memories import search  # noqa: E402
from memories.bench.data import synthetic_question  # noqa: E402
from memories.embedding import embed_query  # noqa: E402
from memories.inputs import Scope  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--questions", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seed", type=int, default=11)
    options = parser.parse_args()

    project = Project.objects.filter(slug__startswith="bench-").order_by("-id").first()
    if project is None:
        raise SystemExit("no bench project here: run manage.py bench --keep first")
    users = [f"bench-user-{rank:05d}" for rank in range(1, options.users + 1)]
    rng = random.Random(options.seed)
    questions = list(dict.fromkeys(synthetic_question(rng) for _ in range(options.questions)))
    for question in questions:
        embed_query(question)
    rule = search.KEYWORD_COMMON_ROWS

    def searched(common_rows):
        search.KEYWORD_COMMON_ROWS = common_rows
        found, times = {}, []
        for user in users:
            for question in questions:
                started = time.perf_counter()
                results = search.memory_search(
                    project=project, query=question, scope=Scope(user_id=user), top_k=10, explain=True
                )
                times.append((time.perf_counter() - started) * 1000)
                found[(user, question)] = results
        return found, times

    def p95(values):
        return sorted(values)[int(len(values) * 0.95)]

    for _ in range(options.rounds):
        for label, common_rows in (("rule off", None), ("rule on", rule)):
            found, times = searched(common_rows)
            full = sum(len(results) == 10 for results in found.values())
            print(
                f"{label}: p50 {statistics.median(times):.1f} p95 {p95(times):.1f} ms, full top-10 {full}/{len(found)}"
            )
            if common_rows is None:
                off = found
            else:
                on = found
    search.KEYWORD_COMMON_ROWS = rule

    def ids(results):
        return {memory.pk for memory in results}

    overlap = {key: len(ids(off[key]) & ids(on[key])) / 10 for key in off}
    same = sum([m.pk for m in off[key]] == [m.pk for m in on[key]] for key in off)

    def similarity(results):
        return statistics.mean(m.score_breakdown["semantic"] for m in results)

    print(
        f"top-10 overlap mean {statistics.mean(overlap.values()):.3f}, identical lists {same}/{len(off)}; "
        f"mean similarity of the ten {statistics.mean(similarity(off[k]) for k in off):.4f} (off) "
        f"{statistics.mean(similarity(on[k]) for k in on):.4f} (on)"
    )
    for key in sorted(overlap, key=overlap.get)[:3]:
        print(f"\n{key[0]} {key[1]!r}: overlap {overlap[key]:.1f}")
        for label, results in (("off", off[key]), ("on", on[key])):
            shown = [
                (round(m.score_breakdown["semantic"], 3), round(m.score_breakdown["keyword"], 3), m.memory[:40])
                for m in results[:3]
            ]
            print(f"  {label}: {shown}")


if __name__ == "__main__":
    main()
