"""``manage.py bench graph``: traversal and export latency on one user's large graph.

One user gets ``memories`` memories and ``edges`` random relationships between them in a
throw-away project. The rows are inserted fast, with ``bulk_create`` and precomputed random unit
vectors instead of the embedding model: the graph queries never read the vectors, and going through
``memories_add`` would only make the set-up slower. Then :func:`graph.selectors.related_memories`
(depth 1, 2, 3) and :func:`graph.selectors.graph_at` plus the API's JSON serialisation (limit 100
and 1,000) are timed, ``repeat`` times ``queries`` calls each, and ``EXPLAIN (ANALYZE, BUFFERS)``
of the depth-2 walk is kept. The project and its rows are deleted at the end unless ``keep``.
"""

import random
import statistics
import time
from datetime import timedelta
from typing import Any

import numpy
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Organization, Project
from graph.models import Origin, Relationship
from graph.selectors import graph_at, related_memories
from graph.shapes import related_memories_data, relationships_data
from memories.bench.data import summary
from memories.inputs import Scope
from memories.models import EMBEDDING_DIMENSIONS, Memory, MemoryHistory, memory_hash
from memories.shapes import memories_data

USER = "bench-graph-user"
# Relations in rough proportion to what auto-linking and people make.
RELATIONS = [("related_to", 0.6), ("part_of", 0.15), ("applies_to", 0.1), ("caused_by", 0.1), ("contradicts", 0.05)]
DEPTHS = (1, 2, 3)
EXPORT_LIMITS = (100, 1000)
INSERT_BATCH = 5000


def _unit_vectors(rng: numpy.random.Generator, n: int) -> numpy.ndarray:
    vectors = rng.standard_normal((n, EMBEDDING_DIMENSIONS)).astype(numpy.float32)
    return vectors / numpy.linalg.norm(vectors, axis=1, keepdims=True)


def _load(project, *, memories: int, edges: int, seed: int, progress) -> dict[str, Any]:
    """Insert the user's memories and random edges (no self-loops, no duplicate open edge)."""
    rng = random.Random(seed)
    vectors = _unit_vectors(numpy.random.default_rng(seed), memories)
    now = timezone.now()
    started = time.perf_counter()
    rows = []
    with progress(total=memories + edges, unit="row", desc="graph rows") as bar:
        for i in range(memories):
            text = f"Bench graph memory {i}: fact number {rng.randrange(10**6)}"
            rows.append(
                Memory(
                    project=project,
                    user_id=USER,
                    memory=text,
                    hash=memory_hash(text),
                    embedding=vectors[i],
                    embedding_model="random-unit-vectors",
                    created_at=now - timedelta(seconds=memories - i),
                    valid_from=now - timedelta(days=30),
                )
            )
        for start in range(0, memories, INSERT_BATCH):
            Memory.objects.bulk_create(rows[start : start + INSERT_BATCH])
            bar.update(len(rows[start : start + INSERT_BATCH]))
        ids = [row.pk for row in rows]
        pairs: set[tuple[int, int, str]] = set()
        names, weights = zip(*RELATIONS, strict=True)
        while len(pairs) < edges:
            source, target = rng.randrange(memories), rng.randrange(memories)
            if source != target:
                pairs.add((source, target, rng.choices(names, weights)[0]))
        edge_rows = [
            Relationship(
                project=project,
                source_id=ids[source],
                target_id=ids[target],
                relation=relation,
                weight=round(rng.random(), 3),
                origin=Origin.AUTO,
                valid_from=now - timedelta(days=30),
                created_at=now - timedelta(days=30),
            )
            for source, target, relation in pairs
        ]
        for start in range(0, edges, INSERT_BATCH):
            Relationship.objects.bulk_create(edge_rows[start : start + INSERT_BATCH])
            bar.update(len(edge_rows[start : start + INSERT_BATCH]))
    load_seconds = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Memory._meta.db_table}")
        cursor.execute(f"ANALYZE {Relationship._meta.db_table}")
    return {"memories": memories, "edges": edges, "seconds": round(load_seconds, 1), "ids": ids}


def _measure(project, ids: list, *, queries: int, repeat: int, seed: int, progress) -> dict[str, Any]:
    rng = random.Random(seed + 1)
    scope = Scope(user_id=USER)
    cases = [(f"related_depth_{d}", d) for d in DEPTHS] + [(f"graph_limit_{n}", n) for n in EXPORT_LIMITS]
    # The selector (SQL and model rows), and the selector plus the API's JSON serialisation.
    samples: dict[str, list[float]] = {name: [] for name, _ in cases}
    samples_json: dict[str, list[float]] = {name: [] for name, _ in cases}
    sizes: dict[str, list[int]] = {name: [] for name, _ in cases}
    runs: dict[str, list[float]] = {name: [] for name, _ in cases}
    for depth in DEPTHS:  # warm the caches and the plans once
        related_memories(project=project, memory_id=ids[0], depth=depth)
    with progress(total=repeat * queries * len(cases), unit="call", desc="graph queries") as bar:
        for _ in range(repeat):
            for name, value in cases:
                run = []
                for _ in range(queries):
                    started = time.perf_counter()
                    if name.startswith("related"):
                        found = related_memories(project=project, memory_id=rng.choice(ids), depth=value, limit=100)
                        selected = time.perf_counter()
                        _ = related_memories_data(found)  # what the API answers
                        size = len(found)
                    else:
                        graph = graph_at(project=project, scope=scope, limit=value)
                        selected = time.perf_counter()
                        _ = memories_data(graph.nodes), relationships_data(graph.edges)
                        size = len(graph.nodes) + len(graph.edges)
                    done = time.perf_counter()
                    run.append((selected - started) * 1000)
                    samples_json[name].append((done - started) * 1000)
                    sizes[name].append(size)
                    bar.update(1)
                samples[name] += run
                runs[name].append(round(statistics.median(run), 3))
    return {
        name: {
            **summary(samples[name]),
            "run_medians": runs[name],
            "with_json": summary(samples_json[name]),
            "mean_items": round(statistics.fmean(sizes[name]), 1),
        }
        for name, _ in cases
    }


def _explain(project, ids: list, depth: int = 2) -> list[str]:
    """``EXPLAIN (ANALYZE, BUFFERS)`` of the walk SQL ``related_memories`` really ran."""
    with CaptureQueriesContext(connection) as captured:
        related_memories(project=project, memory_id=ids[len(ids) // 2], depth=depth, limit=100)
    sql = captured.captured_queries[-1]["sql"]
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
        return [row[0] for row in cursor.fetchall()]


def _cleanup(project, organization) -> dict[str, Any]:
    quote = connection.ops.quote_name
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {quote(Relationship._meta.db_table)} WHERE project_id = %s", [project.pk])
        edges = cursor.rowcount
        cursor.execute(f"DELETE FROM {quote(Memory._meta.db_table)} WHERE project_id = %s", [project.pk])
        memories = cursor.rowcount
        cursor.execute(f"DELETE FROM {quote(MemoryHistory._meta.db_table)} WHERE project_id = %s", [project.pk])
        project.delete()
        organization.delete()
    return {"deleted_memories": memories, "deleted_edges": edges}


def run_graph_bench(
    *, memories: int, edges: int, queries: int, repeat: int, seed: int, keep: bool, progress
) -> dict[str, Any]:
    """Load, measure, explain, clean up; returns the figures. ``progress`` is a tqdm-like factory."""
    if memories < 2 or edges < 1 or edges > memories * (memories - 1):
        raise ValueError("need at least 2 memories and 1 edge, and no more edges than ordered pairs")
    slug = f"bench-graph-{timezone.now():%Y%m%d-%H%M%S}-{random.Random().randrange(16**4):04x}"
    organization = Organization.objects.create(name=slug, slug=slug)
    project = Project.objects.create(organization=organization, name=slug, slug=slug)
    report: dict[str, Any] = {
        "config": {"memories": memories, "edges": edges, "queries": queries, "repeat": repeat, "seed": seed},
        "project": {"slug": slug, "id": str(project.pk)},
        "vectors": "random unit vectors (bulk_create; the embedding model is not used)",
    }
    try:
        loaded = _load(project, memories=memories, edges=edges, seed=seed, progress=progress)
        ids = loaded.pop("ids")
        report["load"] = loaded
        report["latency_ms"] = _measure(project, ids, queries=queries, repeat=repeat, seed=seed, progress=progress)
        report["explain_depth_2"] = _explain(project, ids)
    finally:
        report["cleanup"] = {"kept": True} if keep else _cleanup(project, organization)
    return report
