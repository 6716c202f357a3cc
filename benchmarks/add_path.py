"""Where a verbatim add's time goes, in this process, through the view (``POST /v3/memories/add/``,
``infer: false``, as the peer harness sends it) on a throw-away project: statements by kind, then
CPU per call of this process (the app: parsing, embedding, building SQL) and of its PostgreSQL
backend (``/proc/<pid>/stat``), for one message and for ``--batch`` messages per call, and the
medians of the responses' ``Server-Timing`` stages. Compare CPU time: on a shared machine wall time
is mostly waiting for a core.

    MEM0G_DATA_DIR=$(mktemp -d) EMBEDDING_THREADS=1 RATE_LIMIT_BURST=0 RATE_LIMIT_REQUESTS=1000000 \\
        .venv/bin/python benchmarks/add_path.py [--batch 20] [--calls 30] [--rounds 3] \\
        [--profile 25 [--sort cumulative]]

``--profile N``: also the N costliest functions of ``--calls`` batched calls under cProfile.
"""

import argparse
import collections
import cProfile
import json
import os
import pstats
import re
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _cpu_ms() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return (usage.ru_utime + usage.ru_stime) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--calls", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", type=int, default=0)
    parser.add_argument("--sort", default="tottime", choices=["tottime", "cumulative"], help="order of --profile")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mem0g_site.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework.test import APIClient

    from accounts.models import Organization, Project
    from accounts.services import apikey_create
    from memories.embedding import embed_texts

    slug = f"add-path-{int(time.time())}"
    organization = Organization.objects.create(name=slug, slug=slug)
    project = Project.objects.create(organization=organization, name=slug, slug=slug)
    client = APIClient(SERVER_NAME="localhost")
    client.credentials(HTTP_AUTHORIZATION=f"Token {apikey_create(project=project, name=slug, scopes='write')[1]}")
    made = iter(range(10**9))

    def texts(count: int) -> list[str]:
        n = next(made)
        return [f"Note {n}-{i}: the parcel for flat {i * 7 + n % 50} arrives on day {i % 28 + 1}" for i in range(count)]

    stages: dict[str, list[float]] = collections.defaultdict(list)

    def add(count: int) -> None:
        body = {
            "messages": [{"role": "user", "content": text} for text in texts(count)],
            "user_id": f"user-{next(made) % 10}",
            "infer": False,
            "metadata": {"source": "add-path"},
        }
        response = client.post("/v3/memories/add/", data=json.dumps(body), content_type="application/json")
        if response.status_code != 200:
            raise SystemExit(f"add failed: {response.status_code} {response.content[:300]!r}")
        for part in response.headers.get("Server-Timing", "").split(","):
            name, _, duration = part.strip().partition(";dur=")
            if duration:
                stages[name].append(float(duration))

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        stat = Path(f"/proc/{cursor.fetchone()[0]}/stat")

    def backend_cpu_ms() -> float:
        fields = stat.read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")

    for count in (1, args.batch):
        for _ in range(3):
            add(count)
        with CaptureQueriesContext(connection) as context:
            add(count)
        kinds = collections.Counter()
        for query in context.captured_queries:
            if query["sql"] is None:  # an INSERT queued by mem0g_site.deferred: sent with the next statement
                kinds["(INSERT queued)"] += 1
                continue
            table = re.search(r'(?:INTO|FROM|UPDATE)\s+"?(\w+)', query["sql"])
            kinds[f"{query['sql'].split()[0]} {table.group(1) if table else ''}".strip()] += 1
        print(f"\n{count} message(s) per call: {len(context.captured_queries)} statements")
        for kind, n in kinds.most_common():
            print(f"  {n:3d}  {kind}")
        rows = []
        stages.clear()
        for _ in range(args.rounds):
            app, backend = _cpu_ms(), backend_cpu_ms()
            for _ in range(args.calls):
                add(count)
            rows.append(((_cpu_ms() - app) / args.calls, (backend_cpu_ms() - backend) / args.calls))
        alone = texts(count)
        started = _cpu_ms()
        for _ in range(args.calls):
            embed_texts(alone)
        embedding = (_cpu_ms() - started) / args.calls
        app, backend = min(rows)
        print(
            f"  CPU per call (best of {args.rounds} x {args.calls}): app {app:.1f} ms, of which embedding "
            f"about {embedding:.1f}; PostgreSQL backend {backend:.1f} ms"
        )
        print(
            "  Server-Timing medians, wall ms: "
            + ", ".join(f"{k} {statistics.median(v):.1f}" for k, v in stages.items())
        )
    if args.profile:
        profile = cProfile.Profile()
        profile.enable()
        for _ in range(args.calls):
            add(args.batch)
        profile.disable()
        print(f"\ncProfile of {args.calls} calls of {args.batch} messages:")
        pstats.Stats(profile).sort_stats(args.sort).print_stats(args.profile)


if __name__ == "__main__":
    main()
