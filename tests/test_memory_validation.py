"""Bad input gets a clear error naming the field, and nothing is written."""

from datetime import datetime

import pytest

from mem0g_site.exceptions import ValidationFailed
from memories.inputs import NewMemory, Scope
from memories.models import Memory, MemoryHistory
from memories.services import memories_add, memory_update

ALICE = Scope(user_id="alice")


def assert_nothing_written():
    assert Memory.objects.count() == 0
    assert MemoryHistory.objects.count() == 0


@pytest.mark.parametrize(
    "item, field",
    [
        (NewMemory(text="", scope=ALICE), "text"),
        (NewMemory(text="   \n\t ", scope=ALICE), "text"),
        (NewMemory(text="x" * 10_001, scope=ALICE), "text"),
        (NewMemory(text=123, scope=ALICE), "text"),
        (NewMemory(text=None, scope=ALICE), "text"),
        (NewMemory(text="nul \x00 inside", scope=ALICE), "text"),
        (NewMemory(text="ok", scope=Scope()), "user_id"),
        (NewMemory(text="ok", scope=Scope(user_id="")), "user_id"),
        (NewMemory(text="ok", scope=Scope(user_id="has space")), "user_id"),
        (NewMemory(text="ok", scope=Scope(user_id="a" * 256)), "user_id"),
        (NewMemory(text="ok", scope=Scope(user_id=["alice"])), "user_id"),
        (NewMemory(text="ok", scope=Scope(agent_id=True)), "agent_id"),
        (NewMemory(text="ok", scope=ALICE, metadata=["not", "a", "dict"]), "metadata"),
        (NewMemory(text="ok", scope=ALICE, metadata={"when": datetime(2026, 1, 1)}), "metadata"),
        (NewMemory(text="ok", scope=ALICE, metadata={"n": float("nan")}), "metadata"),
        (NewMemory(text="ok", scope=ALICE, metadata={"big": "x" * 40_000}), "metadata"),
        (NewMemory(text="ok", scope=ALICE, metadata={"nul": "a\x00b"}), "metadata"),
        (NewMemory(text="ok", scope=ALICE, categories="food"), "categories"),
        (NewMemory(text="ok", scope=ALICE, categories=[1, 2]), "categories"),
        (NewMemory(text="ok", scope=ALICE, immutable="yes"), "immutable"),
        (NewMemory(text="ok", scope=ALICE, expiration_date="2026-01-01"), "expiration_date"),
        (NewMemory(text="ok", scope=ALICE, valid_from=datetime(2026, 1, 1)), "valid_from"),
        (NewMemory(text="ok", scope=ALICE, role=""), "role"),
    ],
)
def test_bad_memory_is_refused_with_the_field_named_and_nothing_written(project, item, field):
    with pytest.raises(ValidationFailed) as caught:
        memories_add(project=project, items=[item])
    assert caught.value.field == field
    assert field.split("_")[0] in caught.value.message
    assert_nothing_written()


def test_the_text_limit_is_inclusive(project):
    memories_add(project=project, items=[NewMemory(text="y" * 10_000, scope=ALICE)])
    assert Memory.objects.get().memory == "y" * 10_000


def test_one_bad_item_in_a_batch_writes_nothing(project):
    items = [NewMemory(text=f"User fact {i}", scope=ALICE) for i in range(5)]
    items.append(NewMemory(text="", scope=ALICE))
    with pytest.raises(ValidationFailed) as caught:
        memories_add(project=project, items=items)
    assert caught.value.field == "memories[5].text"
    assert_nothing_written()


@pytest.mark.parametrize("items", [[], "text", None, [{"text": "dict, not NewMemory"}]])
def test_the_batch_itself_must_be_a_non_empty_list_of_memories(project, items):
    with pytest.raises(ValidationFailed):
        memories_add(project=project, items=items)
    assert_nothing_written()


def test_a_batch_over_the_limit_is_refused(project):
    with pytest.raises(ValidationFailed) as caught:
        memories_add(project=project, items=[NewMemory(text="x", scope=ALICE)] * 1001)
    assert "1000" in caught.value.message
    assert_nothing_written()


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"text": ""}, "text"),
        ({"text": "x" * 20_000}, "text"),
        ({"metadata": "nope"}, "metadata"),
        ({"categories": [""]}, "categories"),
        ({"expiration_date": "tomorrow"}, "expiration_date"),
        ({}, None),
    ],
)
def test_a_bad_update_changes_nothing(project, add, changes, field):
    memory = add(project, "User likes tea", user_id="alice", metadata={"a": 1})
    with pytest.raises(ValidationFailed) as caught:
        memory_update(project=project, memory_id=memory.id, **changes)
    assert caught.value.field == field
    stored = Memory.objects.get(pk=memory.id)
    assert (stored.memory, stored.metadata) == ("User likes tea", {"a": 1})
    assert MemoryHistory.objects.filter(memory_id=memory.id).count() == 1
