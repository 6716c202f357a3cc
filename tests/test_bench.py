"""``manage.py bench`` at toy size: it measures through the real services, reports full top-k
results and the indexes the search SQL used, and leaves no rows behind.

One run of the command (about 10-20 s, most of it the embedding model) feeds all the checks.
"""

import json

import pytest
from django.core.management import call_command

from accounts.models import Organization, Project
from memories.models import Memory, MemoryHistory


# A plain test transaction: the command's own transactions become savepoints and its raw DELETE
# runs inside it, so the checks below see its clean-up, and the rollback leaves the database (and
# the default project other tests use) exactly as it was. A transactional test would flush it.
@pytest.mark.django_db
def test_bench_measures_through_the_real_services_and_cleans_up(tmp_path, settings):
    # The heaviest of 7 users owns ~114 of the 300 rows: over this limit, so its searches take the
    # selector's HNSW branch while everyone else's take the exact one.
    settings.SEARCH_EXACT_MAX_ROWS = 60
    path = tmp_path / "bench.json"

    call_command("bench", n=300, users=7, queries=20, repeat=1, seed=7, json=path)

    figures = json.loads(path.read_text())

    # Add: two memories_add calls (256 + 44), all rows written, embedding timed inside them.
    add = figures["add"]
    assert (add["memories"], add["calls"]) == (300, 2)
    assert add["per_second"] > 0
    assert 0 < add["embed_share"] < 1
    assert add["embed_only_per_second"] > add["per_second"]
    assert figures["sizes"]["rows_in_bench_project"] == 300
    assert figures["sizes"]["hnsw_index_mb"] > 0

    # Search: the full top-k for every user owning at least 10 rows, on both selector branches,
    # and for a question far from every memory.
    search = figures["search"]
    assert len(search["samples"]) == 20
    assert all(sample["results"] == 10 for sample in search["samples"] if sample["rows"] >= 10)
    assert search["short_results"] == 0
    assert set(search["strategies"]) == {"exact", "hnsw"}
    for far in figures["far_query"]:
        assert far["results"] == [far["expected"]] * len(far["results"]), far

    # Latency: ordered percentiles, and the end-to-end time covers the SQL.
    for name in ("total_ms", "embed_ms", "sql_ms"):
        assert search[name]["p95"] >= search[name]["p50"] > 0, name
    assert search["total_ms"]["mean"] > search["sql_ms"]["mean"]

    # EXPLAIN (ANALYZE, BUFFERS) of the SQL the selector really ran.
    explain = {entry["label"]: entry for entry in figures["explain"]}
    assert explain["most rows"]["strategy"] == "hnsw"
    assert explain["most rows"]["session_settings"]  # replayed SET LOCAL hnsw.iterative_scan ...
    few = explain["fewest rows"]
    assert few["strategy"] == "exact"
    assert few["indexes_used"], few["plan"]
    assert any("Index" in line for line in few["plan"])
    assert any(line.strip().startswith("Execution Time") for line in few["plan"])
    assert all("<=>" in entry["sql"] for entry in explain.values())

    # Peak memory is reported; the bench project and its rows are gone.
    assert figures["peak_rss_mb"] > 0
    project_id = figures["project"]["id"]
    assert (figures["cleanup"]["deleted_memories"], figures["cleanup"]["deleted_history"]) == (300, 300)
    assert not Memory.objects.filter(project_id=project_id).exists()
    assert not MemoryHistory.objects.filter(project_id=project_id).exists()
    assert not Project.objects.filter(pk=project_id).exists()
    assert not Organization.objects.filter(slug=figures["project"]["slug"]).exists()


@pytest.mark.django_db
def test_bench_graph_times_related_and_exports_on_a_generated_graph_and_cleans_up(tmp_path):
    from graph.models import Relationship

    path = tmp_path / "graph.json"
    call_command("bench", "graph", memories=60, edges=240, queries=3, repeat=2, seed=3, json=path)
    figures = json.loads(path.read_text())

    assert (figures["load"]["memories"], figures["load"]["edges"]) == (60, 240)
    latency = figures["latency_ms"]
    assert set(latency) == {"related_depth_1", "related_depth_2", "related_depth_3", "graph_limit_100",
                            "graph_limit_1000"}  # fmt: skip
    for name, case in latency.items():
        assert case["count"] == 6 and len(case["run_medians"]) == 2, name
        assert case["p95"] >= case["p50"] > 0, name
        assert case["with_json"]["p50"] >= case["p50"], name
    # Random edges, 4 per memory on average: deeper walks reach more memories.
    depth = [latency[f"related_depth_{d}"]["mean_items"] for d in (1, 2, 3)]
    assert 0 < depth[0] < depth[1] <= depth[2]
    # Every memory and every edge fits in both exports.
    assert latency["graph_limit_100"]["mean_items"] == latency["graph_limit_1000"]["mean_items"] == 60 + 240
    plan = figures["explain_depth_2"]
    assert any("Recursive Union" in line for line in plan)
    assert any(line.strip().startswith("Execution Time") for line in plan)

    project_id = figures["project"]["id"]
    assert figures["cleanup"] == {"deleted_memories": 60, "deleted_edges": 240}
    assert not Memory.objects.filter(project_id=project_id).exists()
    assert not Relationship.objects.filter(project_id=project_id).exists()
    assert not Project.objects.filter(pk=project_id).exists()
