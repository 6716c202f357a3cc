"""The web UI's access matrix, generated from ``ui.urls``: every UI route and method, tried by every
kind of person, with the exact status each gets, and for writes that nothing changed for those
refused and the change happened for those allowed.

Who may do what (``ui.access``): project members with their role (READER reads, OWNER writes),
organisation owners (every project of the organisation), superusers (everything). Plain organisation
membership gives no project. Outside one's projects: 404; a READER's write: 403; no login: a redirect
to the login page, for pages and HTMX fragments alike. A route missing from ``MATRIX`` fails.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, reverse

from accounts.models import Membership, Organization, Project, ProjectMember
from graph.models import Relationship
from graph.services import relationship_create
from memories.inputs import Scope
from memories.models import DecisionTrace, Memory, MemoryHistory
from memories.services import add_ingest, memory_supersede
from ui import urls as ui_urls

HTMX = {"HTTP_HX_REQUEST": "true"}

# Everyone the matrix tries. "removed" was an OWNER member, used the project, and was removed just
# before the request (same session).
PERSONAS = (
    "anonymous",
    "stranger",
    "org_member",
    "other_member",
    "removed",
    "reader",
    "owner",
    "org_owner",
    "superuser",
)
OUTSIDERS = {"stranger", "org_member", "other_member", "removed"}
WRITERS = {"owner", "org_owner", "superuser"}


@dataclass(frozen=True)
class Case:
    """How one route and method is tried. ``kind``: "public" (login pages: same answer for all),
    "list" (the project list), "read" (a project page) or "write" (changes the project, or is a form
    or step of a change). ``ok``: the status for those allowed; ``changed(world)`` tells whether the
    write happened."""

    kind: str
    ok: int = 200
    data: dict[str, Any] = field(default_factory=dict)
    changed: Callable[[dict], bool] | None = None
    memory: str = "cat"  # which of the world's memories is the route's memory_id


def _memory_text(world, key):
    row = Memory.objects.filter(pk=world[key].pk).first()
    return row.memory if row else None


MATRIX: dict[str, dict[str, Case]] = {
    "login": {
        "GET": Case("public", 200),
        "POST": Case("public", 200, data={"username": "nobody", "password": "wrong"}),
    },
    "logout": {"POST": Case("public", 302)},
    "projects": {"GET": Case("list")},
    "users": {"GET": Case("read")},
    "user": {
        "GET": Case("read"),
        "POST": Case(
            "write",
            302,
            data={"text": "User climbs mountains"},
            changed=lambda world: Memory.objects.filter(memory="User climbs mountains").exists(),
        ),
    },
    "graph": {"GET": Case("read")},
    "graph-data": {"GET": Case("read")},
    "memory": {"GET": Case("read")},
    "memory-edit": {
        "GET": Case("write"),
        "POST": Case(
            "write",
            302,
            data={"text": "User has a dog named Miso", "metadata": "{}", "categories": ""},
            changed=lambda world: _memory_text(world, "cat") == "User has a dog named Miso",
        ),
    },
    "memory-delete": {
        "GET": Case("write"),
        "POST": Case("write", 302, changed=lambda world: _memory_text(world, "cat") is None),
    },
    "memory-state": {
        "POST": Case(
            "write",
            302,
            data={"action": "expire"},
            changed=lambda world: Memory.objects.get(pk=world["cat"].pk).state == "expired",
        )
    },
    "relationship-targets": {"GET": Case("write", data={"q": "where does she live"})},
    "relationship-add": {
        "POST": Case(
            "write",
            302,
            data={"relation": "applies_to"},  # target_id: the world's "lisbon", filled in below
            changed=lambda world: Relationship.objects.filter(source=world["cat"], relation="applies_to").exists(),
        )
    },
    "relationship-close": {
        "POST": Case(
            "write",
            302,
            changed=lambda world: Relationship.objects.get(pk=world["edge"].pk).valid_to is not None,
        )
    },
    "relationship-retract": {
        "POST": Case(
            "write",
            302,
            changed=lambda world: Relationship.objects.get(pk=world["edge"].pk).invalidated_at is not None,
        )
    },
    "review": {"GET": Case("read")},
    "user-review": {"GET": Case("read")},
    "review-action": {
        "POST": Case(
            "write",
            302,
            data={"action": "reject"},
            changed=lambda world: (
                DecisionTrace.objects.get(pk=world["trace"].pk).review_state == "rejected"
                and Memory.objects.get(pk=world["trace"].memory_id).invalidated_at is not None
            ),
        )
    },
}


def ui_routes() -> list[URLPattern]:
    routes = []
    for pattern in ui_urls.urlpatterns:
        assert isinstance(pattern, URLPattern), f"{pattern!r}: the matrix expects a flat ui.urls"
        routes.append(pattern)
    return routes


def _cases():
    for route in ui_routes():
        entry = MATRIX.get(route.name)
        if entry is None:
            yield pytest.param(route.name, None, id=f"{route.name}-NOT-IN-MATRIX")
            continue
        for method in entry:
            yield pytest.param(route.name, method, id=f"{route.name}-{method}")


@pytest.fixture
def world(db, project, other_project, add, django_user_model):
    """The default project with alice's memories (Porto superseded by Lisbon, tea, a cat linked to the
    tea), and one person of each kind."""
    porto, tea, cat = add(
        project, "User lives in Porto", "User loves green tea", "User has a cat named Miso", user_id="alice"
    )
    lisbon = memory_supersede(project=project, memory_id=porto.pk, text="User lives in Lisbon")
    edge = relationship_create(project=project, source_id=cat.pk, target_id=tea.pk, relation="related_to")
    # An inferred change waiting for review.
    [job] = add_ingest(project=project, messages="I work at Google.", scope=Scope(user_id="alice")).results
    trace = DecisionTrace.objects.get(memory_id=job["id"], review_state="pending")

    def person(name, **fields):
        return django_user_model.objects.create_user(name, **fields)  # no password: no hashing cost

    people = {name: person(name) for name in PERSONAS if name not in ("anonymous", "superuser")}
    people["superuser"] = person("root", is_superuser=True, is_staff=True)
    Membership.objects.create(organization=project.organization, user=people["org_member"])
    ProjectMember.objects.create(project=other_project, user=people["other_member"], role=ProjectMember.Role.OWNER)
    ProjectMember.objects.create(project=project, user=people["removed"], role=ProjectMember.Role.OWNER)
    ProjectMember.objects.create(project=project, user=people["reader"], role=ProjectMember.Role.READER)
    ProjectMember.objects.create(project=project, user=people["owner"], role=ProjectMember.Role.OWNER)
    Membership.objects.create(organization=project.organization, user=people["org_owner"], role=Membership.Role.OWNER)
    return {
        "project": project,
        "people": people,
        "porto": porto,
        "lisbon": lisbon,
        "tea": tea,
        "cat": cat,
        "edge": edge,
        "trace": trace,
    }


def snapshot() -> tuple:
    """Everything a UI write could change: memories (texts, metadata, validity), relationships, history,
    reviews."""
    memories = sorted(
        Memory.objects.values_list(
            "id", "memory", "metadata", "categories", "valid_to", "invalidated_at", "expiration_date", "user_id"
        )
    )
    edges = sorted(Relationship.objects.values_list("id", "relation", "valid_to", "invalidated_at"))
    reviews = sorted(DecisionTrace.objects.values_list("id", "review_state", "reviewed_by"))
    return memories, edges, MemoryHistory.objects.count(), reviews


def url_of(route: URLPattern, world, case: Case) -> str:
    values = {
        "project_id": world["project"].pk,
        "user_id": "alice",
        "memory_id": world[case.memory].pk,
        "relationship_id": world["edge"].pk,
        "trace_id": world["trace"].pk,
    }
    kwargs = {name: values[name] for name in route.pattern.converters}
    return reverse(f"ui:{route.name}", kwargs=kwargs)


def client_for(persona: str, world) -> Client:
    client = Client()
    if persona == "anonymous":
        return client
    client.force_login(world["people"][persona])
    if persona == "removed":
        # They reached the project a moment ago; the removal must count from the very next request.
        assert client.get(f"/ui/p/{world['project'].pk}/").status_code == 200
        ProjectMember.objects.filter(user=world["people"]["removed"]).delete()
    return client


def expected_status(case: Case, persona: str) -> int:
    if case.kind == "public":
        return case.ok
    if persona == "anonymous":
        return 302
    if case.kind == "list":
        return 200
    if persona in OUTSIDERS:
        return 404
    if case.kind == "read":
        return 200
    return case.ok if persona in WRITERS else 403


def try_as(persona: str, world, route: URLPattern, method: str, case: Case) -> str | None:
    """One cell of the matrix: what went wrong, or None."""
    url = url_of(route, world, case)
    data = dict(case.data)
    if route.name.startswith("relationship-") and method == "POST":
        data.setdefault("memory_id", str(world["cat"].pk))
        if route.name == "relationship-add":
            data["target_id"] = str(world["lisbon"].pk)
    client = client_for(persona, world)
    before = snapshot()

    response = getattr(client, method.lower())(url, data)

    expected = expected_status(case, persona)
    if response.status_code != expected:
        return f"status {response.status_code}, expected {expected}: {response.content[:200]!r}"
    if expected == 302 and case.kind != "public" and persona == "anonymous":
        if not response["Location"].startswith("/ui/login/?next="):
            return f"redirected to {response['Location']}, not to the login page"
    if case.changed is not None and expected == case.ok and persona in WRITERS:
        if not case.changed(world) or snapshot() == before:
            return "allowed, but nothing changed"
    elif snapshot() != before or (case.changed is not None and case.changed(world)):
        return "refused (or a read), but something changed"
    if case.kind == "list" and persona != "anonymous":
        if (b"Default project" in response.content) == (persona in OUTSIDERS):
            return "the project list shows the project to the wrong person"
    return None


@pytest.mark.parametrize("name, method", list(_cases()))
def test_ui_access_matrix(world, name, method):
    """Each person in turn, each from the same starting data (a savepoint rolled back after each)."""
    if method is None:
        pytest.fail(f"UI route {name!r} has no entry in MATRIX: say who may use it, and how")
    route = next(route for route in ui_routes() if route.name == name)
    case = MATRIX[name][method]
    failures = {}
    for persona in PERSONAS:
        savepoint = transaction.savepoint()
        try:
            problem = try_as(persona, world, route, method, case)
        finally:
            transaction.savepoint_rollback(savepoint)
        if problem:
            failures[persona] = problem
    assert not failures, f"{method} {name}: {failures}"


def test_the_matrix_names_only_real_routes_and_methods(world):
    """No stale entries; and each route answers its other method with 405, so a method the matrix
    leaves out cannot be a way in."""
    names = {route.name for route in ui_routes()}
    assert set(MATRIX) <= names, set(MATRIX) - names
    owner = client_for("owner", world)
    for route in ui_routes():
        for method in {"GET", "POST"} - set(MATRIX.get(route.name, {})):
            url = url_of(route, world, Case("read"))
            before = snapshot()
            assert getattr(owner, method.lower())(url).status_code == 405, (route.name, method)
            assert snapshot() == before


def test_anonymous_htmx_requests_are_redirected_to_the_login_too(world):
    response = Client().get(f"/ui/p/{world['project'].pk}/u/alice/", {"q": "tea"}, **HTMX)
    assert response.status_code == 302 and response["Location"].startswith("/ui/login/")


def test_a_reader_is_offered_no_write_control(world):
    project, cat = world["project"], world["cat"]
    write_urls = [
        reverse("ui:memory-edit", args=[project.pk, cat.pk]),
        reverse("ui:memory-delete", args=[project.pk, cat.pk]),
        reverse("ui:memory-state", args=[project.pk, cat.pk]),
        reverse("ui:relationship-targets", args=[project.pk, cat.pk]),
        reverse("ui:relationship-close", args=[project.pk, world["edge"].pk]),
        reverse("ui:relationship-retract", args=[project.pk, world["edge"].pk]),
        reverse("ui:review-action", args=[project.pk, world["trace"].pk]),
    ]
    pages = [
        f"/ui/p/{project.pk}/u/alice/",
        f"/ui/p/{project.pk}/m/{cat.pk}/",
        f"/ui/p/{project.pk}/review/",
        f"/ui/p/{project.pk}/u/alice/review/",
    ]
    reader, owner = client_for("reader", world), client_for("owner", world)
    for page in pages:
        seen_by_reader = reader.get(page).content.decode()
        seen_by_owner = owner.get(page).content.decode()
        for url in write_urls:
            assert url not in seen_by_reader, (page, url)
        assert any(url in seen_by_owner for url in write_urls), page
    assert 'id="add-memory"' not in reader.get(pages[0]).content.decode()
    assert 'id="add-memory"' in owner.get(pages[0]).content.decode()
    panel = reader.get(pages[1], **HTMX).content.decode()  # the graph page's node panel
    assert "read only" in panel and write_urls[0] not in panel
    assert b"read only" in reader.get("/ui/").content and b"read only" not in owner.get("/ui/").content


def test_role_changes_count_from_the_next_request(world):
    project, cat = world["project"], world["cat"]
    url = f"/ui/p/{project.pk}/m/{cat.pk}/state/"
    member = ProjectMember.objects.get(user=world["people"]["owner"])
    client = client_for("owner", world)
    assert client.post(url, {"action": "expire"}).status_code == 302

    member.role = ProjectMember.Role.READER
    member.save()
    assert client.post(url, {"action": "restore"}).status_code == 403
    assert Memory.objects.get(pk=cat.pk).state == "expired"
    assert client.get(f"/ui/p/{project.pk}/m/{cat.pk}/").status_code == 200  # still reads

    member.role = ProjectMember.Role.OWNER
    member.save()
    assert client.post(url, {"action": "restore"}).status_code == 302
    assert Memory.objects.get(pk=cat.pk).state == "current"

    # An organisation owner made a plain member loses the organisation's projects at once.
    org_owner = client_for("org_owner", world)
    assert org_owner.get(f"/ui/p/{project.pk}/").status_code == 200
    Membership.objects.filter(user=world["people"]["org_owner"]).update(role=Membership.Role.MEMBER)
    assert org_owner.get(f"/ui/p/{project.pk}/").status_code == 404


def test_organisation_owners_manage_every_project_of_their_organisation_only(world, other_project):
    project = world["project"]
    second = Project.objects.create(organization=project.organization, name="Second", slug="second")
    client = client_for("org_owner", world)
    listed = client.get("/ui/").content
    assert b"Default project" in listed and b"Second" in listed and b"Other" not in listed
    assert client.get(f"/ui/p/{second.pk}/").status_code == 200
    assert client.get(f"/ui/p/{other_project.pk}/").status_code == 404
    elsewhere = Organization.objects.create(name="Elsewhere", slug="elsewhere")
    Membership.objects.create(organization=elsewhere, user=world["people"]["org_owner"], role=Membership.Role.OWNER)
    assert client.get(f"/ui/p/{other_project.pk}/").status_code == 404  # owner of another organisation
