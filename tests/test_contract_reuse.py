"""The request contracts and the memory shape are kept per thread between requests (building a
serializer deep-copies its fields): a kept one must read each request as a fresh one would."""

import threading

import pytest

from mem0g_site.api_kit.contract import read
from mem0g_site.exceptions import ValidationFailed
from memories.api.contract import SearchRequest
from memories.inputs import Scope
from memories.search import memory_search
from memories.shapes import MemorySerializer, memories_data


def test_a_kept_contract_reads_each_request_with_its_own_data_and_context():
    first = read(SearchRequest, {"query": "tea", "filters": {"user_id": "a"}}, default_threshold=0.1)
    second = read(SearchRequest, {"query": "coffee", "top_k": 3, "as_of": "2026-01-01"}, default_threshold=None)

    assert (first["query"], first["top_k"], first["threshold"], first["as_of"]) == ("tea", 10, 0.1, None)
    assert (second["query"], second["top_k"], second["threshold"]) == ("coffee", 3, None)
    assert second["as_of"].isoformat() == "2026-01-01T00:00:00+00:00"
    assert first["query"] == "tea"  # the values handed out earlier are not reused


def test_a_refused_request_leaves_nothing_behind_for_the_next():
    with pytest.raises(ValidationFailed):
        read(SearchRequest, {"query": "tea", "top_k": 0})
    with pytest.raises(ValidationFailed):
        read(SearchRequest, {"query": "tea", "threshold": 3})

    assert read(SearchRequest, {"query": "tea"})["top_k"] == 10


def test_threads_reading_at_once_each_get_their_own_values():
    seen, errors = {}, []

    def reader(n: int):
        try:
            for i in range(200):
                values = read(SearchRequest, {"query": f"q{n}-{i}", "top_k": n + 1})
                if (values["query"], values["top_k"]) != (f"q{n}-{i}", n + 1):
                    errors.append((n, i, values["query"], values["top_k"]))
            seen[n] = True
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=reader, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == [] and len(seen) == 6


def test_the_kept_memory_shape_matches_a_fresh_serializer(project, add):
    old = add(project, "User lives in Lisbon", user_id="alice")
    add(project, "User lives in Porto", user_id="alice")
    from memories.services import memory_supersede

    memory_supersede(project=project, memory_id=old.pk, text="User lives in Osaka")
    found = memory_search(project=project, query="where", scope=Scope(user_id="alice"), include_superseded=True)

    assert len(found) == 3
    kept = memories_data(found)
    fresh = [dict(item) for item in MemorySerializer(found, many=True).data]
    assert kept == fresh
    assert {item["lifecycle_state"] for item in kept} == {"active", "superseded"}
