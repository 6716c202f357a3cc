"""Time one add whose messages hold many short facts ("I like x1. I like x2. ...").

    MEM0G_DATA_DIR=$(mktemp -d) .venv/bin/python benchmarks/add_many_facts.py --facts 5000 [--unlimited] [--profile]

Runs ``memories.services.memories_ingest`` (the function every add path calls) against the
embedded PostgreSQL in a throw-away project, with the built-in extractor (no LLM), and prints the
wall and CPU time. ``--unlimited`` raises MAX_MESSAGE_CHARS, MAX_FACTS_PER_ADD and MEMORY_BATCH_MAX above
the size of the add, so the whole pipeline runs; without it the configured limits apply (a refusal is timed too).
"""

import argparse
import cProfile
import os
import pstats
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mem0g_site.settings")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--facts", type=int, default=5000)
    parser.add_argument("--messages", type=int, default=1, help="spread the facts over this many messages")
    parser.add_argument("--unlimited", action="store_true", help="lift the add limits above the add's size")
    parser.add_argument("--profile", action="store_true", help="print the 25 most expensive functions")
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from accounts.models import Organization, Project
    from mem0g_site.exceptions import ApplicationError
    from memories.embedding import embed_texts
    from memories.inputs import Scope
    from memories.services import memories_ingest

    call_command("migrate", verbosity=0)
    embed_texts(["warm up"])  # load the model outside the timing
    tag = f"bench-add-{uuid.uuid4().hex[:8]}"
    organization = Organization.objects.create(name=tag, slug=tag)
    project = Project.objects.create(organization=organization, name=tag, slug=tag)

    sentences = [f"I like x{index}." for index in range(1, args.facts + 1)]
    per_message = -(-len(sentences) // args.messages)
    messages = [
        {"role": "user", "content": " ".join(sentences[start : start + per_message])}
        for start in range(0, len(sentences), per_message)
    ]
    if args.unlimited:
        for name in ("MAX_MESSAGES_PER_ADD", "MAX_MESSAGE_CHARS", "MAX_FACTS_PER_ADD", "MEMORY_BATCH_MAX"):
            if hasattr(settings, name):
                setattr(settings, name, 10**9)
    body_bytes = sum(len(m["content"]) for m in messages)
    profiler = cProfile.Profile() if args.profile else None
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        if profiler:
            profiler.enable()
        events = memories_ingest(project=project, messages=messages, scope=Scope(user_id="bench"))
        outcome = f"{len(events)} memories written"
    except ApplicationError as exc:
        outcome = f"refused ({exc.status} {exc.code}): {exc.message}"
    finally:
        if profiler:
            profiler.disable()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"{args.facts} facts in {len(messages)} message(s), {body_bytes} characters: {outcome}")
    print(f"wall {wall:.2f} s, cpu {cpu:.2f} s")
    if profiler:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    project.delete()
    organization.delete()


if __name__ == "__main__":
    main()
