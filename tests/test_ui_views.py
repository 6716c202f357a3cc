"""The web UI through Django's test client: every page and fragment, owners see, outsiders get 404,
HTMX requests get fragments, writes go through the services (history rows) and need CSRF, and the
query counts are pinned."""

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from accounts.models import Organization, Project, ProjectMember
from graph.models import Relationship
from graph.services import relationship_create
from memories.models import Memory, MemoryHistory
from memories.services import memory_supersede, memory_update

HTMX = {"HTTP_HX_REQUEST": "true"}
T0 = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)


@pytest.fixture
def person(db, django_user_model, project):
    user = django_user_model.objects.create_user("pat", password="pw-pat-123")
    ProjectMember.objects.create(project=project, user=user, role=ProjectMember.Role.OWNER)
    return user


@pytest.fixture
def browser(client, person):
    client.force_login(person)
    return client


@pytest.fixture
def outsider(db, django_user_model):
    user = django_user_model.objects.create_user("olga", password="pw-olga-123")
    organization = Organization.objects.create(name="Elsewhere", slug="elsewhere")
    theirs = Project.objects.create(organization=organization, name="Theirs", slug="theirs")
    ProjectMember.objects.create(project=theirs, user=user, role=ProjectMember.Role.OWNER)
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def alice(project, add):
    """Alice's memories: a move (Porto superseded by Lisbon), a drink, a pet, and a link."""
    porto, tea, cat = add(
        project,
        "User lives in Porto",
        "User loves green tea",
        "User has a cat named Miso",
        user_id="alice",
        categories=["home"],
        now=T0,
        valid_from=T0,
    )
    moved = T0 + timedelta(days=30)
    lisbon = memory_supersede(
        project=project, memory_id=porto.pk, text="User lives in Lisbon", observed_at=moved, now=moved
    )
    add(project, "User books tables at Cervejaria Ramirez", user_id="alice", agent_id="concierge", now=moved)
    relationship_create(project=project, source_id=cat.pk, target_id=tea.pk, relation="related_to")
    return {"porto": porto, "tea": tea, "cat": cat, "lisbon": lisbon}


def base(project) -> str:
    return f"/ui/p/{project.pk}/"


def is_fragment(response) -> bool:
    return b"<html" not in response.content and b"<!doctype" not in response.content.lower()


def test_pages_need_a_login(client, project):
    response = client.get("/ui/")
    assert response.status_code == 302 and response["Location"].startswith("/ui/login/")
    assert client.get("/ui/login/").status_code == 200


def test_login_with_a_password_then_logout(client, person):
    response = client.post("/ui/login/", {"username": "pat", "password": "pw-pat-123"})
    assert response.status_code == 302 and response["Location"] == "/ui/"
    assert b"Default project" in client.get("/ui/").content
    assert client.post("/ui/logout/").status_code == 302
    assert client.get("/ui/").status_code == 302


def test_project_list_shows_only_my_projects(browser, project, outsider, django_assert_max_num_queries):
    with django_assert_max_num_queries(4):
        mine = browser.get("/ui/")
    assert b"Default project" in mine.content and b"Theirs" not in mine.content
    theirs = outsider.get("/ui/")
    assert b"Theirs" in theirs.content and b"Default project" not in theirs.content


def test_users_page_counts_and_live_filter(browser, project, alice, add, django_assert_max_num_queries):
    add(project, "User plays chess", user_id="bob")
    with django_assert_max_num_queries(5):
        page = browser.get(base(project))
    assert page.status_code == 200 and b"<html" in page.content
    assert b"alice" in page.content and b"bob" in page.content
    assert b'hx-trigger="input changed delay:300ms' in page.content
    fragment = browser.get(base(project), {"q": "ali"}, **HTMX)
    assert is_fragment(fragment) and b"alice" in fragment.content and b"bob" not in fragment.content
    assert b"<td>5</td><td>4</td>" in fragment.content  # 5 memories, 4 current


def test_user_page_lists_filters_and_pages(browser, project, alice, add, django_assert_max_num_queries):
    with django_assert_max_num_queries(8):
        page = browser.get(f"{base(project)}u/alice/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "User lives in Lisbon" in text and "User loves green tea" in text
    assert "User lives in Porto" not in text  # superseded: not current
    superseded = browser.get(f"{base(project)}u/alice/", {"state": "superseded"}, **HTMX).content.decode()
    assert "User lives in Porto" in superseded and "User lives in Lisbon" not in superseded
    by_agent = browser.get(f"{base(project)}u/alice/", {"agent": "concierge"}, **HTMX).content.decode()
    assert "Cervejaria Ramirez" in by_agent and "green tea" not in by_agent
    by_category = browser.get(f"{base(project)}u/alice/", {"category": "home"}, **HTMX).content.decode()
    assert "green tea" in by_category and "Lisbon" in by_category and "Ramirez" not in by_category
    as_of = browser.get(f"{base(project)}u/alice/", {"as_of": "2026-01-20"}, **HTMX).content.decode()
    assert "User lives in Porto" in as_of and "User lives in Lisbon" not in as_of
    bad = browser.get(f"{base(project)}u/alice/", {"as_of": "yesterday"}, **HTMX)
    assert b"as_of must be an ISO 8601 date or time" in bad.content

    add(project, *[f"User note {i}" for i in range(25)], user_id="alice")
    first = browser.get(f"{base(project)}u/alice/", **HTMX).content.decode()
    assert "older →" in first and "page=2" in first
    second = browser.get(f"{base(project)}u/alice/", {"page": "2"}, **HTMX).content.decode()
    assert "← newer" in second and second.count('class="memory ') == 29 - 20


def test_user_page_semantic_search_is_a_fragment(browser, project, alice, django_assert_max_num_queries):
    with django_assert_max_num_queries(8):
        response = browser.get(f"{base(project)}u/alice/", {"q": "what does she drink?"}, **HTMX)
    assert response.status_code == 200 and is_fragment(response)
    text = response.content.decode()
    assert text.index("User loves green tea") < text.index("User has a cat")
    assert "best match" in text
    superseded = browser.get(f"{base(project)}u/alice/", {"q": "home", "state": "superseded"}, **HTMX)
    assert b"clear it to list superseded ones" in superseded.content and b"User lives in" not in superseded.content


def test_adding_a_memory_goes_through_the_service(browser, project, alice):
    response = browser.post(
        f"{base(project)}u/alice/",
        {"text": "User runs marathons", "categories": "sport, health", "metadata": '{"source": "ui"}'},
        **HTMX,
    )
    assert response.status_code == 200 and is_fragment(response)
    assert b"User runs marathons" in response.content
    memory = Memory.objects.get(memory="User runs marathons")
    assert (memory.user_id, memory.categories, memory.metadata) == ("alice", ["sport", "health"], {"source": "ui"})
    assert memory.embedding is not None
    assert MemoryHistory.objects.get(memory_id=memory.pk).actor_id == "ui:pat"

    refused = browser.post(f"{base(project)}u/alice/", {"text": "x", "metadata": "[1]"}, **HTMX)
    assert refused.status_code == 422 and b"metadata must be a JSON object" in refused.content
    assert not Memory.objects.filter(memory="x").exists()

    plain = browser.post(f"{base(project)}u/alice/", {"text": "User reads Saramago"})
    assert plain.status_code == 302 and plain["Location"].endswith("/u/alice/")


def test_memory_page_shows_scope_history_chain_and_relationships(
    browser, project, alice, django_assert_max_num_queries
):
    memory_update(project=project, memory_id=alice["lisbon"].pk, text="User lives in Lisbon, Alfama")
    # 13: the page's sections, sources included (and traces, when history rows have one: one query).
    with django_assert_max_num_queries(13):
        page = browser.get(f"{base(project)}m/{alice['lisbon'].pk}/")
    text = page.content.decode()
    assert page.status_code == 200 and "<html" in text
    assert "User lives in Lisbon, Alfama" in text and "<code>alice</code>" in text
    assert "Supersession chain" in text and "User lives in Porto" in text
    assert text.count('class="event-') == 2  # ADD, UPDATE
    assert "supersedes" in text
    panel = browser.get(f"{base(project)}m/{alice['lisbon'].pk}/", **HTMX)
    assert is_fragment(panel) and b'id="memory-panel"' in panel.content


def test_inline_edit_writes_history_and_answers_a_fragment(browser, project, alice):
    url = f"{base(project)}m/{alice['tea'].pk}/edit/"
    form = browser.get(url, {"return": "row"}, **HTMX)
    assert is_fragment(form) and b"<textarea" in form.content and b"<li" in form.content
    row = browser.post(
        url, {"return": "row", "text": "User loves oolong tea", "metadata": '{"k": 1}', "categories": "food"}, **HTMX
    )
    assert row.status_code == 200 and is_fragment(row) and b"User loves oolong tea" in row.content
    stored = Memory.objects.get(pk=alice["tea"].pk)
    assert (stored.memory, stored.metadata, stored.categories) == ("User loves oolong tea", {"k": 1}, ["food"])
    update = MemoryHistory.objects.get(memory_id=stored.pk, event="UPDATE")
    assert (update.old_memory, update.actor_id) == ("User loves green tea", "ui:pat")

    panel = browser.post(url, {"text": "User loves black tea", "metadata": "{}", "categories": ""}, **HTMX)
    assert b'id="memory-panel"' in panel.content and panel.content.count(b'class="event-') == 3

    bad = browser.post(url, {"text": "ok", "metadata": "{nope"}, **HTMX)
    assert bad.status_code == 422 and b"metadata is not valid JSON" in bad.content
    assert Memory.objects.get(pk=stored.pk).memory == "User loves black tea"
    assert browser.get(url).status_code == 200  # the page form, without JavaScript


def test_delete_needs_a_post_and_keeps_history(browser, project, alice):
    url = f"{base(project)}m/{alice['cat'].pk}/delete/"
    confirm = browser.get(url)
    assert confirm.status_code == 200 and b"Delete this memory?" in confirm.content
    assert Memory.objects.filter(pk=alice["cat"].pk).exists()
    gone = browser.post(url, {"return": "row"}, **HTMX)
    assert gone.status_code == 200 and gone.content == b""
    assert not Memory.objects.filter(pk=alice["cat"].pk).exists()
    assert MemoryHistory.objects.filter(memory_id=alice["cat"].pk, event="DELETE").exists()
    redirect = browser.post(f"{base(project)}m/{alice['tea'].pk}/delete/")
    assert redirect.status_code == 302 and redirect["Location"].endswith("/u/alice/")


def test_relationships_add_by_search_close_and_retract(browser, project, alice, django_assert_max_num_queries):
    cat = alice["cat"]
    # session, user, project, the memory; then the search: scope size probe, vector and keyword rankings.
    with django_assert_max_num_queries(7):
        targets = browser.get(f"{base(project)}m/{cat.pk}/targets/", {"q": "where does she live"}, **HTMX)
    assert is_fragment(targets) and b"User lives in Lisbon" in targets.content
    assert f'value="{cat.pk}"'.encode() not in targets.content  # not itself
    added = browser.post(
        f"{base(project)}m/{cat.pk}/relationships/",
        {"target_id": str(alice["lisbon"].pk), "relation": "applies_to"},
        **HTMX,
    )
    assert added.status_code == 200 and is_fragment(added) and b"applies_to" in added.content
    edge = Relationship.objects.get(source=cat, relation="applies_to")
    twice = browser.post(
        f"{base(project)}m/{cat.pk}/relationships/",
        {"target_id": str(alice["lisbon"].pk), "relation": "applies_to"},
        **HTMX,
    )
    assert twice.status_code == 409 and b"already exists" in twice.content

    closed = browser.post(f"{base(project)}r/{edge.pk}/close/", {"memory_id": str(cat.pk)}, **HTMX)
    assert closed.status_code == 200 and b"applies_to" not in closed.content
    edge.refresh_from_db()
    assert edge.valid_to is not None and edge.invalidated_at is None

    other = Relationship.objects.get(source=cat, relation="related_to")
    browser.post(f"{base(project)}r/{other.pk}/retract/", {"memory_id": str(cat.pk)}, **HTMX)
    other.refresh_from_db()
    assert other.invalidated_at is not None


def test_graph_page_and_data(browser, project, alice, django_assert_max_num_queries):
    page = browser.get(f"{base(project)}u/alice/graph/")
    assert page.status_code == 200 and b"cytoscape.min.js" in page.content and b'id="as-of"' in page.content
    with django_assert_max_num_queries(8):  # session, access, user, memories, edges, entity triples
        data = browser.get(f"{base(project)}u/alice/graph.json").json()
    ids = {node["data"]["id"] for node in data["elements"]["nodes"]}
    assert str(alice["lisbon"].pk) in ids and str(alice["porto"].pk) not in ids
    assert [edge["data"]["label"] for edge in data["elements"]["edges"]] == ["related_to"]
    assert data["truncated"] is False and data["limit"] == 1000
    then = browser.get(f"{base(project)}u/alice/graph.json", {"as_of": "2026-01-20T00:00:00Z"}).json()
    then_ids = {node["data"]["id"] for node in then["elements"]["nodes"]}
    assert str(alice["porto"].pk) in then_ids and str(alice["lisbon"].pk) not in then_ids
    only = browser.get(f"{base(project)}u/alice/graph.json", {"relation": "supersedes"}).json()
    assert only["elements"]["edges"] == []
    bad = browser.get(f"{base(project)}u/alice/graph.json", {"relation": "Not A Relation!"})
    assert bad.status_code == 422


@pytest.mark.parametrize(
    "method, path",
    [
        ("get", "{p}"),
        ("get", "{p}u/alice/"),
        ("post", "{p}u/alice/"),
        ("get", "{p}u/alice/graph/"),
        ("get", "{p}u/alice/graph.json"),
        ("get", "{p}m/{m}/"),
        ("get", "{p}m/{m}/edit/"),
        ("post", "{p}m/{m}/edit/"),
        ("get", "{p}m/{m}/delete/"),
        ("post", "{p}m/{m}/delete/"),
        ("post", "{p}m/{m}/state/"),
        ("get", "{p}m/{m}/targets/"),
        ("post", "{p}m/{m}/relationships/"),
        ("post", "{p}r/{r}/close/"),
        ("post", "{p}r/{r}/retract/"),
    ],
)
def test_outsiders_get_404_everywhere(outsider, project, alice, method, path):
    edge = Relationship.objects.filter(project=project).first()
    url = path.format(p=base(project), m=alice["tea"].pk, r=edge.pk)
    response = getattr(outsider, method)(url, {"text": "hijack", "memory_id": str(alice["tea"].pk)})
    assert response.status_code == 404
    assert Memory.objects.filter(pk=alice["tea"].pk, memory="User loves green tea").exists()
    assert not Memory.objects.filter(memory="hijack").exists()
    edge.refresh_from_db()
    assert edge.valid_to is None and edge.invalidated_at is None


def test_missing_ids_are_404_like_foreign_ones(browser, project, other_project, add):
    theirs = add(other_project, "Secret of another tenant", user_id="alice")
    assert browser.get(f"{base(project)}m/{theirs.pk}/").status_code == 404
    assert browser.get(f"{base(project)}u/nobody/").status_code == 404
    assert browser.get(f"{base(other_project)}").status_code == 404
    assert browser.get("/ui/p/not-a-uuid/").status_code == 404


def test_writes_need_the_csrf_token(person, project, alice):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(person)
    refused = strict.post(f"{base(project)}m/{alice['tea'].pk}/delete/")
    assert refused.status_code == 403
    assert Memory.objects.filter(pk=alice["tea"].pk).exists()
    page = strict.get(f"{base(project)}u/alice/")
    token = page.cookies["csrftoken"].value
    assert b"X-CSRFToken" in page.content
    accepted = strict.post(f"{base(project)}m/{alice['tea'].pk}/delete/", HTTP_X_CSRFTOKEN=token)
    assert accepted.status_code == 302


def test_superusers_see_every_project(admin_client, project, other_project):
    page = admin_client.get("/ui/").content
    assert b"Default project" in page and b"Other" in page


def test_expire_and_restore_from_the_memory_page(browser, project, alice):
    url = f"{base(project)}m/{alice['tea'].pk}/state/"
    expired = browser.post(url, {"action": "expire"}, **HTMX)
    assert expired.status_code == 200 and is_fragment(expired) and b">expired<" in expired.content
    assert Memory.objects.get(pk=alice["tea"].pk).state == "expired"
    restored = browser.post(url, {"action": "restore"})
    assert restored.status_code == 302 and Memory.objects.get(pk=alice["tea"].pk).state == "current"
    assert MemoryHistory.objects.filter(memory_id=alice["tea"].pk, event="UPDATE", actor_id="ui:pat").count() == 2
    refused = browser.post(f"{base(project)}m/{alice['porto'].pk}/state/", {"action": "restore"}, **HTMX)
    assert refused.status_code == 409 and b"supersedes this one" in refused.content
    assert Memory.objects.get(pk=alice["porto"].pk).state == "superseded"
    assert browser.post(url, {"action": "explode"}, **HTMX).status_code == 422


def test_graph_says_when_it_is_truncated(browser, project, alice, monkeypatch):
    from ui.views import graph

    monkeypatch.setattr(graph, "GRAPH_LIMIT", 2)
    data = browser.get(f"{base(project)}u/alice/graph.json").json()
    assert data["truncated"] is True and data["limit"] == 2 and len(data["elements"]["nodes"]) == 2
    page = browser.get(f"{base(project)}u/alice/graph/").content.decode()
    assert 'id="graph-truncated"' in page and "limit of 2 nodes" in page


def test_ids_with_slashes_and_url_characters_do_not_break_any_page(browser, project):
    """Old rows may hold ids the API now refuses (``a/b``): every page links to them and opens them."""
    from memories.inputs import NewMemory, Scope
    from memories.services import memories_add

    odd = ["a/b", "../x", "..", "50%/off?#frag", "ünï/cödé+a&b=c"]
    for n, user_id in enumerate(odd):
        (made,) = memories_add(
            project=project,
            items=[
                NewMemory(
                    text=f"User {user_id} likes tea",
                    scope=Scope(user_id=f"placeholder-{n}", agent_id="agent-1", run_id="run#2"),
                    categories=["food/drink"],
                )
            ],
        )
        # Written as they were before the API refused '/' in ids.
        Memory.objects.filter(pk=made.id).update(user_id=user_id, agent_id="agent/1?x=y")
    users = browser.get(base(project))
    assert users.status_code == 200
    for user_id in odd:
        memory = Memory.objects.get(project=project, user_id=user_id)
        link = reverse("ui:user", args=[project.pk, user_id])
        assert link.startswith(f"/ui/p/{project.pk}/u/") and link.count("/") == 6, link  # one path segment
        assert escape(link).encode() in users.content
        page = browser.get(link)
        assert page.status_code == 200 and escape(f"User {user_id} likes tea").encode() in page.content, user_id
        assert browser.get(link, {"agent": "agent/1?x=y"}, **HTMX).status_code == 200
        assert browser.get(reverse("ui:graph", args=[project.pk, user_id])).status_code == 200
        data = browser.get(reverse("ui:graph-data", args=[project.pk, user_id])).json()
        assert [node["data"]["id"] for node in data["elements"]["nodes"]] == [str(memory.pk)]
        detail = browser.get(f"{base(project)}m/{memory.pk}/")
        assert detail.status_code == 200 and escape(link).encode() in detail.content
        assert browser.get(f"{base(project)}m/{memory.pk}/edit/").status_code == 200
        # New memories for such an id are refused (the id would break the API's path routes).
        added = browser.post(link, {"text": f"User {user_id} also likes coffee"})
        if "/" in user_id:
            assert added.status_code == 422
            assert Memory.objects.filter(project=project, user_id=user_id).count() == 1
        else:
            assert added.status_code == 302 and added["Location"] == link
            assert Memory.objects.filter(project=project, user_id=user_id).count() == 2
        deleted = browser.post(f"{base(project)}m/{memory.pk}/delete/")
        # Back to the user, or to the users list when that was the user's last memory.
        assert deleted.status_code == 302 and deleted["Location"] == (base(project) if "/" in user_id else link)
    # The raw id with a slash in the path is another route (no such page), never a 500.
    assert browser.get(f"{base(project)}u/a/b/").status_code == 404
