"""``manage.py bench load --url``: concurrent HTTP clients against a live server, a few seconds,
every operation of the mix answered and reported with its Server-Timing stages. Also: the default
user count of the in-process bench is clamped to --n."""

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.services import apikey_create


@pytest.mark.django_db(transaction=True)
def test_bench_load_drives_a_live_server_with_the_whole_mix(live_server, project, settings, tmp_path, capsys):
    settings.RATE_LIMIT_REQUESTS = 10**8
    settings.RATE_LIMIT_BURST = 0
    key = apikey_create(project=project, name="load", scopes="read,write")[1]
    path = tmp_path / "load.json"

    call_command(
        "bench", "load", url=live_server.url, api_key=key, clients=4, duration=3, users=3, seed_memories=12, json=path
    )

    report = json.loads(path.read_text())
    out = capsys.readouterr().out
    assert report["config"]["clients"] == 4 and report["elapsed_s"] >= 3
    assert report["requests"] > 0 and report["errors"] == 0, report
    assert report["requests_per_second"] > 0
    operations = report["operations"]
    assert set(operations) == {"search", "add", "get", "list", "update", "delete"}
    for op in ("search", "add"):
        entry = operations[op]
        assert entry["requests"] > 0, report
        latency = entry["latency_ms"]
        assert 0 < latency["p50"] <= latency["p95"] <= latency["p99"]
        assert entry["server_timing_p50_ms"]["total"] > 0
    # Each search embeds its own question (distinct tails): the query-vector cache cannot answer it.
    assert operations["search"]["server_timing_p50_ms"]["embed"] > 0
    assert operations["add"]["server_timing_p50_ms"]["embed"] > 0
    assert "search" in out and "p95" in out


def test_bench_load_needs_a_key_and_the_load_mode():
    with pytest.raises(CommandError, match="api-key"):
        call_command("bench", "load", url="http://127.0.0.1:9", api_key="")
    with pytest.raises(CommandError, match="load mode"):
        call_command("bench", "graph", url="http://127.0.0.1:9", api_key="k")


def test_the_default_user_count_is_clamped_to_n():
    """`bench --n 300` used to stop with "--users must not exceed --n" (default 1000 users). The
    options check is where that happened; the whole command is exercised in tests/test_bench.py."""
    from memories.bench.in_process import check_options

    defaults = {"batch": 256, "queries": 200, "repeat": 3, "zipf": 1.0}
    options = {**defaults, "n": 300, "users": None}
    check_options(options)
    assert options["users"] == 300
    options = {**defaults, "n": 100_000, "users": None}
    check_options(options)
    assert options["users"] == 1000
    with pytest.raises(CommandError, match="--users must not exceed --n"):
        check_options({**defaults, "n": 300, "users": 500})  # given explicitly: still refused
