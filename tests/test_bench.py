"""``manage.py bench`` at toy size: it measures through the real services, reports full top-k
results and the indexes the search SQL used, and leaves no rows behind.

One run of the command (about 10-20 s, most of it the embedding model) feeds all the checks.
"""

import json

import pytest
from django.core.management import call_command

from accounts.models import Organization, Project
from memories.bench.measure import SqlLog, Statement, search_strategy
from memories.models import Memory, MemoryHistory, MemorySource


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
    assert figures["environment"]["huge_pages"] in {"on", "off"}  # PostgreSQL 18 says which

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
    # Planning time, apart from the execution: the issue asks that it stay flat as the data grows.
    assert all(entry["planning_ms"] > 0 for entry in explain.values()), explain

    # Peak memory is reported; the bench project and its rows are gone.
    assert figures["peak_rss_mb"] > 0
    project_id = figures["project"]["id"]
    assert (figures["cleanup"]["deleted_memories"], figures["cleanup"]["deleted_history"]) == (300, 300)
    assert not Memory.objects.filter(project_id=project_id).exists()
    assert not MemoryHistory.objects.filter(project_id=project_id).exists()
    assert not Project.objects.filter(pk=project_id).exists()
    assert not Organization.objects.filter(slug=figures["project"]["slug"]).exists()


# Transactional, as the command runs for real: outside a transaction the HNSW walk goes as one
# message with its SET LOCALs before it (ranking._walk_settings), which the bench has to read as the
# walk. In a test transaction (above) the settings go as a statement of their own.
@pytest.mark.django_db(transaction=True)
def test_bench_outside_a_transaction_reads_and_explains_the_walk_that_carries_its_settings(tmp_path, settings):
    settings.SEARCH_EXACT_MAX_ROWS = 60
    path = tmp_path / "bench.json"

    call_command("bench", n=300, users=7, queries=12, repeat=1, seed=7, json=path)

    figures = json.loads(path.read_text())
    assert set(figures["search"]["strategies"]) == {"exact", "hnsw"}  # the walk, not "hnsw+exact"
    most = {entry["label"]: entry for entry in figures["explain"]}["most rows"]
    assert most["strategy"] == "hnsw" and most["results"] == 10
    assert most["session_settings"] == [
        "SET LOCAL hnsw.iterative_scan = strict_order;",
        f"SET LOCAL hnsw.ef_search = {settings.SEARCH_HNSW_EF_SEARCH};",
    ]
    assert most["sql"].lstrip().startswith("WITH walked")  # the walk itself, its settings apart
    # The walk's own plan (whether it reads memory_embedding_hnsw or sorts a project this small is
    # the planner's choice, which other tests' statistics can sway), planned with its settings.
    assert any(line.lstrip().startswith("CTE walked") for line in most["plan"]), most["plan"]
    assert most["planning_ms"] > 0
    assert not Project.objects.filter(pk=figures["project"]["id"]).exists()


def test_a_message_is_read_apart_from_the_settings_it_starts_with():
    walk = Statement("SET LOCAL a = on; SET LOCAL b = 40; WITH w AS (SELECT 1) SELECT x <=> y ORDER BY 1", [], 0.0)
    assert walk.settings == ["SET LOCAL a = on;", "SET LOCAL b = 40;"]
    assert walk.body.startswith(" WITH w") and walk.kind == "search"
    only_settings = Statement("SET LOCAL a = on; SET LOCAL b = 40; ", None, 0.0)
    assert (only_settings.kind, len(only_settings.settings), only_settings.body.strip()) == ("set", 2, "")
    assert Statement("set enable_sort = off", None, 0.0).settings == ["set enable_sort = off"]
    plain = Statement("SELECT x <=> y FROM t ORDER BY 1", None, 0.0)
    assert (plain.settings, plain.kind) == ([], "search")
    log = SqlLog([Statement("SELECT 1", None, 0.0), walk])
    assert search_strategy(log) == "hnsw"
    assert search_strategy(SqlLog([plain])) == "exact"


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


def _locomo_subset(path) -> dict:
    """The first LOCOMO conversation cut to its first two sessions, with the questions whose
    evidence lies in them (the repo's copy of the data set)."""
    from memories.bench.locomo import LOCOMO_DEFAULT_DATA

    sample = json.loads(LOCOMO_DEFAULT_DATA.read_text())[0]
    conversation = {k: v for k, v in sample["conversation"].items() if k.startswith("speaker_")}
    for number in (1, 2):
        conversation[f"session_{number}"] = sample["conversation"][f"session_{number}"]
        conversation[f"session_{number}_date_time"] = sample["conversation"][f"session_{number}_date_time"]
    questions = [
        qa for qa in sample["qa"] if qa["evidence"] and all(e.split(":")[0] in ("D1", "D2") for e in qa["evidence"])
    ]
    subset = {"sample_id": sample["sample_id"], "conversation": conversation, "qa": questions}
    path.write_text(json.dumps([subset]))
    return subset


@pytest.mark.django_db
def test_bench_locomo_reports_recall_per_category_and_cleans_up(tmp_path, capsys):
    data, figures_path = tmp_path / "locomo.json", tmp_path / "locomo-figures.json"
    subset = _locomo_subset(data)
    turns = len(subset["conversation"]["session_1"]) + len(subset["conversation"]["session_2"])

    call_command("bench", "locomo", data=str(data), samples=1, questions=10, json=figures_path)

    figures = json.loads(figures_path.read_text())
    printed = capsys.readouterr().out
    assert figures["config"]["turns"] == turns
    assert figures["config"]["questions"] == 10
    assert set(figures["results"]) == {"vector", "hybrid"}
    for variant, result in figures["results"].items():
        assert set(result["recall"]) == {"5", "10", "20"}
        for k, recall in result["recall"].items():
            assert 0.0 <= recall["overall"] <= 1.0, (variant, k)
            asked = [c for c, n in result["questions_per_category"].items() if n]
            assert all(0.0 <= recall[c] <= 1.0 for c in asked)
        # Recall can only grow with k: the top 5 are among the top 20.
        overall = [result["recall"][k]["overall"] for k in ("5", "10", "20")]
        assert overall == sorted(overall)
        assert sum(result["questions_per_category"].values()) == 10
        assert result["latency_ms"]["count"] == 30
        assert result["latency_ms"]["p95"] >= result["latency_ms"]["p50"] > 0
    # Two sessions of ~20 turns each: recall@20 finds at least some evidence.
    assert figures["results"]["hybrid"]["recall"]["20"]["overall"] > 0
    for name in ("multi-hop", "temporal", "open-domain", "single-hop", "overall", "recall@k"):
        assert name in printed
    assert "p50" in printed and "p95" in printed
    project_id = figures["project"]["id"]
    assert figures["cleanup"]["deleted_memories"] == turns
    assert not Memory.objects.filter(project_id=project_id).exists()
    assert not Project.objects.filter(pk=project_id).exists()


def test_bench_locomo_refuses_a_missing_file_and_unknown_variants(tmp_path, db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="no LOCOMO file"):
        call_command("bench", "locomo", data=str(tmp_path / "missing.json"))
    with pytest.raises(CommandError, match="--variants"):
        call_command("bench", "locomo", variants="vector,telepathy")
    with pytest.raises(CommandError, match="--include-sources needs --infer"):
        call_command("bench", "locomo", include_sources=True)


@pytest.mark.django_db
def test_bench_locomo_infer_reports_both_modes_and_the_extraction_shares(tmp_path, capsys):
    data, figures_path = tmp_path / "locomo.json", tmp_path / "locomo-infer.json"
    subset = _locomo_subset(data)
    turns = len(subset["conversation"]["session_1"]) + len(subset["conversation"]["session_2"])

    call_command(
        "bench",
        "locomo",
        data=str(data),
        samples=1,
        questions=5,
        variants="hybrid",
        infer=True,
        include_sources=True,
        json=figures_path,
    )

    figures = json.loads(figures_path.read_text())
    printed = capsys.readouterr().out
    assert figures["config"]["infer"] is True and figures["config"]["include_sources"] is True
    assert set(figures["infer_sources_results"]) == {"hybrid"} and "infer+sources" in printed
    assert set(figures["results"]) == set(figures["infer_results"]) == {"hybrid"}
    load = figures["infer_load"]
    assert load["turns"] == turns
    assert 0 < load["turns_leaving_a_memory"] <= 1
    assert 0 <= load["evidence_turns_leaving_a_memory"] <= 1
    assert 0 < load["memories_current"] <= load["facts_extracted"]
    assert load["extraction_ms_per_message"] > 0
    assert load["llm"] is False
    for k in ("5", "10", "20"):
        assert 0.0 <= figures["infer_results"]["hybrid"]["recall"][k]["overall"] <= 1.0
    assert "infer" in printed and "verbatim" in printed and "turns leaving a memory" in printed
    # Both copies are cleaned up: the verbatim turns and the extracted memories.
    assert figures["cleanup"]["deleted_memories"] >= turns + load["memories_current"]
    assert not Memory.objects.filter(project_id=figures["project"]["id"]).exists()
    assert not MemorySource.objects.filter(project_id=figures["project"]["id"]).exists()
