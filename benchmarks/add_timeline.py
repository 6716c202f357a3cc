"""Where one verbatim add's wall time goes, in order, in this process, through the view
(``POST /v3/memories/add/``, one message or ``--messages``, ``infer: false``, as the peer harness
sends it): the
median moment, from the request's start, at which the add asks for its text's vector, gets it,
sends each statement, and returns. Compare with ``add_path.py`` (CPU and ``Server-Timing``):
this shows what overlaps what.

    MEM0G_DATA_DIR=$(mktemp -d) EMBEDDING_THREADS=1 RATE_LIMIT_BURST=0 RATE_LIMIT_REQUESTS=1000000 \\
        .venv/bin/python benchmarks/add_timeline.py [--calls 400] [--warm 20] [--messages 20]

Marks: ``model asked`` (the add hands its text to ``embed_texts`` or ``embed_later``), ``model
waited`` (the add has the vector: the call returned, or the add's wait for a vector started
earlier), ``queued INSERT`` (a row is queued: ``mem0g_site.deferred``), ``sent`` (a statement
leaves for the database; the queue goes with the first one after it, the scope's lock),
``returned`` (its result is back), ``end``.
Only the calls whose marks came in the most common order are summarised.
"""

import argparse
import collections
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=400)
    parser.add_argument("--warm", type=int, default=20)
    parser.add_argument("--messages", type=int, default=1, help="messages per add (the peer's batch: 20)")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mem0g_site.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from django.db import connection
    from rest_framework.test import APIClient

    from accounts.models import Organization, Project
    from accounts.services import apikey_create
    from memories.services import records

    marks: list[tuple[str, float]] = []

    def mark(name: str) -> None:
        marks.append((name, time.perf_counter()))

    def watched_now(real):
        def embed(texts):
            mark("model asked")
            vectors = real(texts)
            mark("model waited")
            return vectors

        return embed

    def watched_later(real):
        def embed(texts):
            mark("model asked")
            wait = real(texts)

            def waited():
                vectors = wait()
                if not any(name == "model waited" for name, _ in marks):
                    mark("model waited")
                return vectors

            return waited

        return embed

    records.embed_texts = watched_now(records.embed_texts)
    if hasattr(records, "embed_later"):
        records.embed_later = watched_later(records.embed_later)

    def statements(execute, sql, params, many, context):
        words = sql.split(None, 3)
        if words[0] == "INSERT":
            mark(f"queued INSERT {words[2].strip(chr(34))}")
            return execute(sql, params, many, context)
        mark(f"sent {words[0]} {words[1]}")
        result = execute(sql, params, many, context)
        mark(f"returned {words[0]} {words[1]}")
        return result

    slug = f"add-timeline-{int(time.time())}"
    organization = Organization.objects.create(name=slug, slug=slug)
    project = Project.objects.create(organization=organization, name=slug, slug=slug)
    client = APIClient(SERVER_NAME="localhost")
    client.credentials(HTTP_AUTHORIZATION=f"Token {apikey_create(project=project, name=slug, scopes='write')[1]}")
    runs: dict[tuple, list[list[float]]] = collections.defaultdict(list)
    for n in range(args.warm + args.calls):
        body = {
            "messages": [
                {"role": "user", "content": f"Note {n}.{m}: a parcel for flat {(n + m) * 7 % 50} is due on day {n % 9}"}
                for m in range(args.messages)
            ],
            "user_id": f"user-{n % 10}",
            "infer": False,
            "metadata": {"source": "add-timeline"},
        }
        marks.clear()
        with connection.execute_wrapper(statements):
            mark("start")
            response = client.post("/v3/memories/add/", data=json.dumps(body), content_type="application/json")
            mark("end")
        if response.status_code != 200:
            raise SystemExit(f"add failed: {response.status_code} {response.content[:300]!r}")
        if n >= args.warm:
            runs[tuple(name for name, _ in marks)].append([(t - marks[0][1]) * 1000 for _, t in marks])
    order, rows = max(runs.items(), key=lambda item: len(item[1]))
    print(f"{len(rows)} of {args.calls} calls in this order; median ms from the request's start:")
    previous = 0.0
    for i, name in enumerate(order):
        at = statistics.median(row[i] for row in rows)
        print(f"  {at:7.2f}  (+{at - previous:5.2f})  {name}")
        previous = at


if __name__ == "__main__":
    main()
