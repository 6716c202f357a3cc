"""Cheaper requests, same answers: the fast representation of the memory shapes
(mem0g_site/api_kit/represent.py) answers exactly what the DRF serializers (the documented contract)
answer; prepared queries (mem0g_site/prepared.py) run the SQL their querysets would, and make the
same instances; a GET of a memory costs the statements it was made to cost."""

import json
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from graph.shapes import ChainMemorySerializer, RelatedMemorySerializer
from mem0g_site.api_kit.represent import Representer
from mem0g_site.prepared import _UNPREPARED
from memories.api.responses import SearchResult
from memories.api.serializers import HistorySerializer, SourceSerializer
from memories.models import Memory, MemoryHistory
from memories.selectors import memories_mark_successors, memory_sources
from memories.services import memory_supersede
from memories.shapes import MemorySerializer, ScoredMemorySerializer, memories_data, representer
from tests.conftest import _without_counter_queries

T0 = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)


def both(serializer_class, items):
    """(fast, DRF) representations of ``items``."""
    fast = Representer(serializer_class()).many(items)
    slow = [serializer_class().to_representation(item) for item in items]
    return fast, slow


def assert_same(fast, slow):
    assert fast == slow
    # key order and value types too: the JSON body is byte for byte the same
    assert json.dumps(fast) == json.dumps(slow)
    assert [list(item) for item in fast] == [list(item) for item in slow]


@pytest.fixture
def memories(db, project, add):
    plain = add(project, "Likes tea", user_id="alice", now=T0)
    rich = add(
        project,
        "Works at Acme",
        user_id="alice",
        agent_id="helper",
        app_id="crm",
        run_id="r1",
        metadata={"source": "chat", "nested": {"n": [1, 2.5, None, True]}, "ü": "é"},
        categories=["work", "career"],
        actor_id="alice",
        role="user",
        immutable=True,
        expiration_date=date(2027, 1, 31),  # stored at midnight: shown back as the date
        now=T0,
    )
    timed = add(project, "Flight on Friday", user_id="bob", expiration_date=T0 + timedelta(days=3, hours=5), now=T0)
    procedural = add(project, "Summary of steps", agent_id="helper", memory_type="procedural_memory", now=T0)
    old = add(project, "Lives in Paris", user_id="carol", now=T0)
    new = memory_supersede(project=project, memory_id=old.id, text="Lives in Berlin", now=T0 + timedelta(days=1))
    found = list(Memory.objects.filter(project=project).defer("embedding").order_by("created_at", "id"))
    assert len(found) == 6 and {plain.id, rich.id, timed.id, procedural.id, old.id, new.id} == {m.id for m in found}
    return found


def test_the_memory_shapes_are_the_serializers_answers(memories):
    fast, slow = both(MemorySerializer, memories)
    assert_same(fast, slow)
    assert {item["lifecycle_state"] for item in fast} == {"active", "superseded"}
    assert any(item["replaced_by"] for item in fast)
    assert any(item["expiration_date"] == "2027-01-31" for item in fast)
    assert all(item["created_at"].endswith("Z") for item in fast)


def test_scored_and_richer_shapes(memories):
    for index, memory in enumerate(memories):
        memory.score = 0.5 + index / 7
        memory.score_breakdown = {"semantic": 0.5, "keyword": 0.25, "recency": 1.0}
        memory.relation = "related_to"
        memory.depth = index
        memory.position = index - 3
        memory.path = [memories[0].id, memories[-1].id][: index % 3]
    for serializer_class in (ScoredMemorySerializer, SearchResult, RelatedMemorySerializer, ChainMemorySerializer):
        assert_same(*both(serializer_class, memories))
    # and through the one place lists of memories are shown
    assert memories_data(memories, scored=True) == [ScoredMemorySerializer().to_representation(m) for m in memories]


def test_another_time_zone_is_honoured(memories):
    with timezone.override("Europe/Paris"):
        fast, slow = both(MemorySerializer, memories)
    assert_same(fast, slow)
    assert fast[0]["created_at"].endswith("+01:00")


def test_what_the_fast_path_does_not_expect_goes_through_drf(memories):
    naive = Memory(**{f.attname: getattr(memories[0], f.attname) for f in Memory._meta.concrete_fields})
    naive.created_at = datetime(2026, 1, 1, 12, 0)  # naive: DRF makes it aware
    naive.updated_at = "2026-01-01T12:00:00Z"  # a string: shown as it is
    as_dict = {"id": memories[1].id, "role": "user", "name": None, "content": "hi", "observed_at": T0}  # by key
    fast, slow = both(MemorySerializer, [naive, memories[1]])
    assert_same(fast, slow)
    assert_same(*both(SourceSerializer, [as_dict]))


def test_a_missing_attribute_fails_as_drf_fails(memories):
    broken = memories[0]
    broken.__dict__.pop("score", None)
    with pytest.raises(AttributeError) as fast_error:
        Representer(ScoredMemorySerializer()).many([broken])
    with pytest.raises(AttributeError) as slow_error:
        ScoredMemorySerializer().to_representation(broken)
    assert str(fast_error.value) == str(slow_error.value)


def test_sources_and_history_shapes(project, api, make_key):
    key = make_key(project)
    response = api(
        "post",
        "/v3/memories/add/",
        key,
        data={"messages": [{"role": "user", "content": "I moved to Lisbon", "name": "ana"}], "user_id": "ana"},
    )
    assert response.status_code == 200, response.content
    memory = Memory.objects.filter(project=project, user_id="ana").defer("embedding").first()
    sources = memory_sources(memory=memory)
    assert sources
    assert_same(*both(SourceSerializer, sources))
    rows = list(MemoryHistory.objects.filter(project=project))
    assert rows
    assert_same(*both(HistorySerializer, rows))


def test_one_representer_per_class_per_thread():
    assert representer(MemorySerializer) is representer(MemorySerializer)
    assert representer(MemorySerializer) is not representer(ScoredMemorySerializer)


def test_memories_mark_successors_still_runs_once(memories, django_assert_max_num_queries):
    for memory in memories:
        memory.__dict__.pop("replaced_by", None)
    with django_assert_max_num_queries(1):
        memories_data(memories)
    memories_mark_successors(memories)


def test_a_get_costs_two_statements_besides_the_rate_limit(project, api, make_key, add):
    key = make_key(project)
    memory = add(project, "Prefers green tea", user_id="alice")
    api("get", f"/v1/memories/{memory.id}/", key)  # the key is cached from here on
    with CaptureQueriesContext(connection) as context:
        response = api("get", f"/v1/memories/{memory.id}/", key)
    assert response.status_code == 200
    statements = _without_counter_queries([q["sql"] for q in context.captured_queries])
    assert len(statements) == 2, statements


def test_model_instances_do_not_go_through_drf(memories, monkeypatch):
    shape = Representer(MemorySerializer())

    def refuse(self, instance):
        raise AssertionError("DRF's to_representation was used")

    monkeypatch.setattr(MemorySerializer, "to_representation", refuse)
    assert len(shape.many(memories)) == len(memories)


# --- Prepared queries (mem0g_site/prepared.py) ------------------------------------------------


def _statements(call):
    with CaptureQueriesContext(connection) as context:
        result = call()
    return result, [q["sql"] for q in context.captured_queries]


def _fields(instance):
    return {k: v for k, v in instance.__dict__.items() if k != "_state"}, instance.get_deferred_fields()


@pytest.mark.parametrize(
    "fence",
    [{}, {"user_id": "alice"}, {"user_id": "alice", "agent_id": "helper"}, {"user_id": "bob"}, {"run_id": "r1"}],
)
def test_a_prepared_get_runs_the_querysets_own_sql(memories, project, fence):
    from memories.selectors import _memory_by_id, _memory_by_id_prepared

    for memory in memories + memories[:2]:  # the second time round, from the prepared SQL
        expected, orm_sql = _statements(lambda m=memory: list(_memory_by_id(project_id=project.pk, pk=m.pk, **fence)))
        found, prepared_sql = _statements(
            lambda m=memory: _memory_by_id_prepared(project_id=project.pk, pk=m.pk, **fence)
        )
        assert prepared_sql == orm_sql
        assert [_fields(m) for m in found] == [_fields(m) for m in expected]
        assert all(m._state.db == "default" and not m._state.adding for m in found)
    missing = uuid.uuid4()
    assert _memory_by_id_prepared(project_id=project.pk, pk=missing, **fence) == []
    assert _UNPREPARED not in _memory_by_id_prepared.kept[connections["default"]].values()


def test_prepared_sources_are_the_querysets_rows(project, api, make_key):
    from memories.selectors import _sources_of, _sources_of_prepared

    key = make_key(project)
    for text in ("I moved to Lisbon", "My sister lives in Porto"):
        message = {"role": "user", "content": text, "name": "ana"}
        assert api("post", "/v3/memories/add/", key, data={"messages": [message], "user_id": "ana"}).status_code == 200
    for memory in list(Memory.objects.filter(project=project)) * 2:
        expected, orm_sql = _statements(lambda m=memory: list(_sources_of(memory_id=m.pk)))
        found, prepared_sql = _statements(lambda m=memory: _sources_of_prepared(memory_id=m.pk))
        assert prepared_sql == orm_sql and found
        assert [_fields(s) for s in found] == [_fields(s) for s in expected]
        assert found[0].get_deferred_fields() == {"embedding"}
    assert _UNPREPARED not in _sources_of_prepared.kept[connections["default"]].values()


def test_what_cannot_be_prepared_runs_as_django_builds_it(memories, project):
    from mem0g_site.prepared import _UNPREPARED, PreparedQuery

    def related(*, pk):
        return Memory.objects.select_related("project").filter(pk=pk)

    def inexact(*, text):
        return Memory.objects.filter(project=project, memory__icontains=text).order_by("id")

    def numeric(*, limit):
        return Memory.objects.filter(project=project).order_by("id")[:limit]

    for build, values in ((related, {"pk": memories[0].pk}), (inexact, {"text": "tea"}), (numeric, {"limit": 2})):
        query = PreparedQuery(Memory, build)
        for _ in range(2):
            assert [m.pk for m in query(**values)] == [m.pk for m in build(**values)]
        assert list(query.kept[connections["default"]].values()) == [_UNPREPARED]
