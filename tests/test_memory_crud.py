from datetime import UTC, datetime

import numpy as np
import pytest

from mem0g_site.exceptions import Conflict, MemoryNotFound
from memories.inputs import NewMemory, Scope
from memories.models import Memory, MemoryHistory, memory_hash
from memories.selectors import memory_get, memory_history, memory_list
from memories.services import memories_add, memories_delete, memory_delete, memory_update

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
T1 = datetime(2026, 2, 5, 9, 0, tzinfo=UTC)


def test_add_get_update_delete_round_trip(project, add):
    memory = add(project, "User loves green tea", user_id="alice", metadata={"source": "chat"}, now=T0)

    fetched = memory_get(project=project, memory_id=str(memory.id))
    assert fetched.memory == "User loves green tea"
    assert fetched.user_id == "alice"
    assert fetched.metadata == {"source": "chat"}
    assert fetched.hash == memory_hash("User loves green tea")
    assert fetched.created_at == T0

    updated = memory_update(project=project, memory_id=memory.id, text="User loves oolong tea", now=T1)
    assert updated.id == memory.id
    refetched = memory_get(project=project, memory_id=memory.id)
    assert refetched.memory == "User loves oolong tea"
    assert refetched.hash == memory_hash("User loves oolong tea")
    assert refetched.updated_at == T1
    assert refetched.created_at == T0

    memory_delete(project=project, memory_id=memory.id)
    with pytest.raises(MemoryNotFound):
        memory_get(project=project, memory_id=memory.id)
    assert not Memory.objects.filter(pk=memory.id).exists()


def test_add_many_embeds_each_text_in_one_batch(project):
    memories = memories_add(
        project=project,
        items=[
            NewMemory(text="User plays the cello", scope=Scope(user_id="bo")),
            NewMemory(text="User works as a nurse", scope=Scope(user_id="bo", agent_id="helper")),
        ],
    )
    assert [m.memory for m in memories] == ["User plays the cello", "User works as a nurse"]
    stored = {m.memory: m for m in Memory.objects.filter(user_id="bo")}
    assert stored["User works as a nurse"].agent_id == "helper"
    cello = np.array(stored["User plays the cello"].embedding)
    nurse = np.array(stored["User works as a nurse"].embedding)
    assert cello.shape == (384,)
    assert abs(np.linalg.norm(cello) - 1.0) < 1e-3
    assert not np.allclose(cello, nurse)
    assert stored["User plays the cello"].embedding_model == "all-MiniLM-L6-v2"


def test_update_re_embeds_the_new_text(project, add):
    memory = add(project, "User owns a red bicycle", user_id="alice")
    before = np.array(Memory.objects.get(pk=memory.id).embedding)
    memory_update(project=project, memory_id=memory.id, text="User is allergic to peanuts")
    after = np.array(Memory.objects.get(pk=memory.id).embedding)
    assert float(before @ after) < 0.6


def test_metadata_only_update_keeps_the_embedding(project, add):
    memory = add(project, "User owns a red bicycle", user_id="alice")
    before = np.array(Memory.objects.get(pk=memory.id).embedding)
    memory_update(project=project, memory_id=memory.id, metadata={"verified": True})
    stored = Memory.objects.get(pk=memory.id)
    assert stored.metadata == {"verified": True}
    assert np.allclose(before, np.array(stored.embedding))


def test_history_records_add_update_delete_and_outlives_the_memory(project, add):
    memory = add(project, "User lives in Porto", user_id="alice", now=T0)
    memory_update(project=project, memory_id=memory.id, text="User lives in Lisbon", actor_id="editor", now=T1)
    memory_delete(project=project, memory_id=memory.id)

    rows = memory_history(project=project, memory_id=memory.id)
    assert [row.event for row in rows] == ["ADD", "UPDATE", "DELETE"]
    add_row, update_row, delete_row = rows
    assert (add_row.old_memory, add_row.new_memory, add_row.is_deleted) == (None, "User lives in Porto", False)
    assert (update_row.old_memory, update_row.new_memory) == ("User lives in Porto", "User lives in Lisbon")
    assert update_row.actor_id == "editor"
    assert (delete_row.old_memory, delete_row.new_memory, delete_row.is_deleted) == (
        "User lives in Lisbon",
        None,
        True,
    )
    assert all(row.user_id == "alice" for row in rows)


def test_history_of_an_unknown_memory_is_not_found(project):
    with pytest.raises(MemoryNotFound):
        memory_history(project=project, memory_id="00000000-0000-0000-0000-000000000000")
    with pytest.raises(MemoryNotFound):
        memory_history(project=project, memory_id="not-a-uuid")


def test_list_is_newest_first_and_paginated(project, add):
    for day in range(1, 6):
        add(project, f"Fact number {day}", user_id="alice", now=datetime(2026, 3, day, tzinfo=UTC))
    add(project, "Somebody else's fact", user_id="bob")

    first = memory_list(project=project, scope=Scope(user_id="alice"), page=1, page_size=2)
    assert first.count == 5
    assert [m.memory for m in first.results] == ["Fact number 5", "Fact number 4"]
    assert first.has_next and not first.has_previous
    last = memory_list(project=project, scope=Scope(user_id="alice"), page=3, page_size=2)
    assert [m.memory for m in last.results] == ["Fact number 1"]
    assert not last.has_next
    beyond = memory_list(project=project, scope=Scope(user_id="alice"), page=9, page_size=2)
    assert beyond.results == [] and beyond.count == 5


def test_list_query_count_does_not_grow_with_rows(project, add, django_assert_max_num_queries):
    add(project, *[f"Fact {i}" for i in range(30)], user_id="alice")
    with django_assert_max_num_queries(2):
        page = memory_list(project=project, scope=Scope(user_id="alice"), page_size=50)
        assert len(page.results) == 30


def test_delete_all_for_a_scope_writes_history_and_spares_others(project, add):
    alice = add(project, "User likes jazz", "User likes chess", user_id="alice")
    bob = add(project, "User likes opera", user_id="bob")

    assert memories_delete(project=project, scope=Scope(user_id="alice")) == 2

    assert list(Memory.objects.values_list("memory", flat=True)) == ["User likes opera"]
    assert Memory.objects.get(pk=bob.id)
    deleted = MemoryHistory.objects.filter(event="DELETE", memory_id__in=[m.id for m in alice])
    assert deleted.count() == 2 and all(row.is_deleted for row in deleted)


def test_delete_all_refuses_an_empty_scope(project, add):
    from mem0g_site.exceptions import ValidationFailed

    add(project, "User likes jazz", user_id="alice")
    with pytest.raises(ValidationFailed):
        memories_delete(project=project, scope=Scope())
    assert Memory.objects.count() == 1


def test_immutable_memory_text_cannot_change(project, add):
    memory = add(project, "User was born in 1990", user_id="alice", immutable=True)
    with pytest.raises(Conflict):
        memory_update(project=project, memory_id=memory.id, text="User was born in 1991")
    assert Memory.objects.get(pk=memory.id).memory == "User was born in 1990"
    assert MemoryHistory.objects.filter(memory_id=memory.id).count() == 1


def test_other_projects_cannot_reach_a_memory(project, other_project, add):
    memory = add(project, "User loves green tea", user_id="alice")
    for call in (
        lambda: memory_get(project=other_project, memory_id=memory.id),
        lambda: memory_update(project=other_project, memory_id=memory.id, text="hijacked"),
        lambda: memory_delete(project=other_project, memory_id=memory.id),
        lambda: memory_history(project=other_project, memory_id=memory.id),
    ):
        with pytest.raises(MemoryNotFound):
            call()
    assert memories_delete(project=other_project, scope=Scope(user_id="alice")) == 0
    assert Memory.objects.get(pk=memory.id).memory == "User loves green tea"


def test_feedback_is_kept_only_for_a_memory_the_caller_may_reach(project, other_project, add):
    from mem0g_site.exceptions import ValidationFailed
    from memories.models import MemoryFeedback
    from memories.services import memory_feedback_create

    memory = add(project, "User loves green tea", user_id="alice")
    row = memory_feedback_create(project=project, memory_id=str(memory.id), feedback="NEGATIVE", feedback_reason="old")
    assert (row.memory_id, row.feedback, row.feedback_reason) == (memory.id, "NEGATIVE", "old")
    for call in (
        lambda: memory_feedback_create(project=other_project, memory_id=memory.id, feedback=None, feedback_reason=None),
        lambda: memory_feedback_create(
            project=project, memory_id=memory.id, feedback=None, feedback_reason=None, within=Scope(user_id="bob")
        ),
        lambda: memory_feedback_create(project=project, memory_id="nope", feedback=None, feedback_reason=None),
    ):
        with pytest.raises(MemoryNotFound):
            call()
    with pytest.raises(ValidationFailed):
        memory_feedback_create(project=project, memory_id=memory.id, feedback="MEH", feedback_reason=None)
    assert MemoryFeedback.objects.count() == 1


def test_each_kind_of_history_row_copies_the_memory_scope(project, add):
    memory = add(project, "User likes tea", user_id="alice")
    memory_update(project=project, memory_id=memory.id, text="User likes green tea", actor_id="ed")
    memory_delete(project=project, memory_id=memory.id, actor_id="ed")
    rows = MemoryHistory.objects.filter(memory_id=memory.id).order_by("created_at", "id")
    assert [(r.event, r.old_memory, r.new_memory, r.is_deleted) for r in rows] == [
        ("ADD", None, "User likes tea", False),
        ("UPDATE", "User likes tea", "User likes green tea", False),
        ("DELETE", "User likes green tea", None, True),
    ]
    assert {(r.project_id, r.user_id) for r in rows} == {(project.pk, "alice")}
    assert [r.actor_id for r in rows][1:] == ["ed", "ed"]
