"""Operators curate memories in the Django admin; changes go through the services."""

import pytest

from memories.models import Memory, MemoryHistory

# The change form's read-only relationship inlines post their (empty) management forms.
INLINES = {
    f"{name}-{field}": "0"
    for name in ("outgoing", "incoming", "source_links", "traces")
    for field in ("TOTAL_FORMS", "INITIAL_FORMS")
}


@pytest.fixture
def operator(admin_client):
    return admin_client


def test_memory_changelist_query_count_is_bounded(operator, project, add, django_assert_max_num_queries):
    add(project, *[f"User fact number {i}" for i in range(40)], user_id="alice")
    # A constant: the page, counts, and one query per user/agent/category filter's choices.
    with django_assert_max_num_queries(16):
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
            **INLINES,
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


def test_memory_changelist_columns_and_filters(operator, project, add, django_assert_max_num_queries):
    from memories.services import memory_expire, memory_supersede

    add(project, "User loved the Kyoto trip", user_id="alice", categories=["travel"])
    add(project, "User plays chess", user_id="bob", agent_id="coach", categories=["hobby"])
    old = add(project, "User lives in Porto", user_id="alice", categories=["home"])
    memory_supersede(project=project, memory_id=old.id, text="User lives in Lisbon")
    gone = add(project, "User has a cold", user_id="alice")
    memory_expire(project=project, memory_id=gone.id)

    with django_assert_max_num_queries(16):
        page = operator.get("/admin/memories/memory/")
    text = page.content.decode()
    assert "travel" in text and "superseded" in text and "expired" in text

    def shown(**params):
        return sorted(m.memory for m in operator.get("/admin/memories/memory/", params).context["cl"].result_list)

    assert shown(user_id="bob") == ["User plays chess"]
    assert shown(agent_id="coach") == ["User plays chess"]
    assert shown(category="travel") == ["User loved the Kyoto trip"]
    assert shown(state="superseded") == ["User lives in Porto"]
    assert shown(state="expired") == ["User has a cold"]
    assert "User lives in Porto" not in shown(state="current") and "User has a cold" not in shown(state="current")
    assert shown(q="loves") == ["User loved the Kyoto trip"]  # full-text search stems


def test_memory_actions_expire_restore_reembed(operator, project, add):
    from memories.services import memory_supersede

    tea = add(project, "User loves green tea", user_id="alice")
    original = list(Memory.objects.get(pk=tea.id).embedding)
    url = "/admin/memories/memory/"
    operator.post(url, {"action": "expire_now", "_selected_action": [str(tea.id)]})
    assert Memory.objects.get(pk=tea.id).state == "expired"
    operator.post(url, {"action": "restore", "_selected_action": [str(tea.id)]})
    assert Memory.objects.get(pk=tea.id).state == "current"
    assert [row.event for row in MemoryHistory.objects.filter(memory_id=tea.id)] == ["ADD", "UPDATE", "UPDATE"]

    porto = add(project, "User lives in Porto", user_id="alice")
    memory_supersede(project=project, memory_id=porto.id, text="User lives in Lisbon")
    refused = operator.post(url, {"action": "restore", "_selected_action": [str(porto.id)]}, follow=True)
    assert b"supersedes this one" in refused.content
    assert Memory.objects.get(pk=porto.id).state == "superseded"

    Memory.objects.filter(pk=tea.id).update(embedding=[0.5] * 384, embedding_model="old-model")
    operator.post(url, {"action": "reembed", "_selected_action": [str(tea.id)]})
    stored = Memory.objects.get(pk=tea.id)
    assert stored.embedding_model != "old-model"
    assert max(abs(a - b) for a, b in zip(stored.embedding, original, strict=True)) < 1e-3


def test_delete_action_asks_first_and_keeps_history(operator, project, add):
    memory = add(project, "User owns a kayak", user_id="alice")
    ask = operator.post("/admin/memories/memory/", {"action": "delete_selected", "_selected_action": [str(memory.id)]})
    assert ask.status_code == 200 and b"Are you sure" in ask.content
    assert Memory.objects.filter(pk=memory.id).exists()
    operator.post(
        "/admin/memories/memory/",
        {"action": "delete_selected", "_selected_action": [str(memory.id)], "post": "yes"},
    )
    assert not Memory.objects.filter(pk=memory.id).exists()
    assert list(MemoryHistory.objects.filter(memory_id=memory.id).values_list("event", flat=True)) == ["ADD", "DELETE"]


def test_change_page_shows_history_and_relationships(operator, project, add, django_assert_max_num_queries):
    from graph.services import relationship_create

    cat, tea = add(project, "User has a cat", "User loves green tea", user_id="alice")
    relationship_create(project=project, source_id=cat.id, target_id=tea.id, relation="related_to")
    from memories.services import memory_update

    memory_update(project=project, memory_id=cat.id, text="User has a cat named Miso")
    with django_assert_max_num_queries(16):
        page = operator.get(f"/admin/memories/memory/{cat.id}/change/")
    text = page.content.decode()
    assert "Relationships from this memory" in text and "related_to" in text
    assert "User has a cat → User has a cat named Miso" in text and "<b>UPDATE</b>" in text
