"""Operators curate memories in the Django admin; changes go through the services."""

import pytest

from memories.models import Memory, MemoryHistory


@pytest.fixture
def operator(admin_client):
    return admin_client


def test_memory_changelist_query_count_is_bounded(operator, project, add, django_assert_max_num_queries):
    add(project, *[f"User fact number {i}" for i in range(40)], user_id="alice")
    with django_assert_max_num_queries(12):
        response = operator.get("/admin/memories/memory/")
    assert response.status_code == 200
    assert b"User fact number 39" in response.content


def test_memory_search_by_text_user_and_pasted_id(operator, project, add):
    tea = add(project, "User loves green tea", user_id="alice")
    add(project, "User has a cat", user_id="bob")
    by_text = operator.get("/admin/memories/memory/", {"q": "green tea"})
    assert b"User loves green tea" in by_text.content and b"User has a cat" not in by_text.content
    by_user = operator.get("/admin/memories/memory/", {"q": "bob"})
    assert b"User has a cat" in by_user.content and b"green tea" not in by_user.content
    by_id = operator.get("/admin/memories/memory/", {"q": str(tea.id)})
    assert b"User loves green tea" in by_id.content and b"User has a cat" not in by_id.content
    not_an_id = operator.get("/admin/memories/memory/", {"q": "zzz-no-such-thing"})
    assert not_an_id.status_code == 200


def test_editing_in_the_admin_writes_history_and_re_embeds(operator, project, add):
    memory = add(project, "User lives in Porto", user_id="alice", metadata={"k": 1})
    before = list(Memory.objects.get(pk=memory.id).embedding)
    page = operator.get(f"/admin/memories/memory/{memory.id}/change/")
    assert page.status_code == 200

    response = operator.post(
        f"/admin/memories/memory/{memory.id}/change/",
        {
            "memory": "User lives in Lisbon",
            "metadata": '{"k": 2}',
            "categories": "home",
            "expiration_date_0": "",
            "expiration_date_1": "",
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    stored = Memory.objects.get(pk=memory.id)
    assert (stored.memory, stored.metadata, stored.categories) == ("User lives in Lisbon", {"k": 2}, ["home"])
    assert list(stored.embedding) != before
    update = MemoryHistory.objects.get(memory_id=memory.id, event="UPDATE")
    assert (update.old_memory, update.new_memory) == ("User lives in Porto", "User lives in Lisbon")
    assert update.actor_id == "admin:admin"


def test_adding_in_the_admin_goes_through_the_service(operator, project):
    response = operator.post(
        "/admin/memories/memory/add/",
        {
            "project": str(project.id),
            "memory": "User speaks Portuguese",
            "user_id": "alice",
            "metadata": "{}",
            "categories": "",
            "valid_from_0": "2026-01-01",
            "valid_from_1": "10:00:00",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    memory = Memory.objects.get(memory="User speaks Portuguese")
    assert memory.embedding is not None and memory.user_id == "alice"
    assert MemoryHistory.objects.filter(memory_id=memory.id, event="ADD").exists()


def test_admin_refuses_bad_input_next_to_the_field(operator, project):
    response = operator.post(
        "/admin/memories/memory/add/",
        {
            "project": str(project.id),
            "memory": "ok",
            "user_id": "has space",
            "metadata": "{}",
            "valid_from_0": "2026-01-01",
            "valid_from_1": "10:00:00",
        },
    )
    assert response.status_code == 200
    assert b"user_id must not contain whitespace" in response.content
    assert Memory.objects.count() == 0


def test_deleting_in_the_admin_keeps_the_history(operator, project, add):
    memory = add(project, "User owns a kayak", user_id="alice")
    response = operator.post(f"/admin/memories/memory/{memory.id}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Memory.objects.filter(pk=memory.id).exists()
    assert list(MemoryHistory.objects.filter(memory_id=memory.id).values_list("event", flat=True)) == ["ADD", "DELETE"]


def test_history_is_read_only_and_listed(operator, project, add, django_assert_max_num_queries):
    memory = add(project, "User owns a kayak", user_id="alice")
    with django_assert_max_num_queries(12):
        response = operator.get("/admin/memories/memoryhistory/")
    assert response.status_code == 200 and b"User owns a kayak" in response.content
    row = MemoryHistory.objects.get(memory_id=memory.id)
    assert operator.post(f"/admin/memories/memoryhistory/{row.id}/delete/", {"post": "yes"}).status_code == 403
    assert MemoryHistory.objects.filter(pk=row.id).exists()


def test_admin_static_files_are_served(operator):
    response = operator.get("/static/admin/css/base.css")
    assert response.status_code == 200
