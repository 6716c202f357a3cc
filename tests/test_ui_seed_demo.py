"""``manage.py seed_demo`` loads a demo data set through the services: users, memories over months,
superseded facts linked to their successors, relationships; it refuses to load twice without --reset."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from accounts.models import Membership, Project, ProjectMember
from graph.models import EntityRelation, Relationship
from graph.selectors import graph_view, memory_timeline
from memories.inputs import Scope
from memories.models import Memory, MemoryHistory


def seed(**options) -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out, **options)
    return out.getvalue()


def test_seed_demo_loads_users_history_and_supersessions(db, admin_user):
    output = seed(users=2, memories=15)
    project = Project.objects.get(organization__slug="demo", slug="demo")
    memories = Memory.objects.for_project(project)
    assert set(memories.values_list("user_id", flat=True)) == {"alice", "bob"}
    # 15 facts each, plus 4 chains of 2 or 3 links each.
    assert 2 * (15 + 4 * 2) <= memories.count() <= 2 * (15 + 4 * 3)
    superseded = memories.filter(valid_to__isnull=False)
    assert superseded.count() >= 8
    edges = Relationship.objects.filter(project=project)
    assert edges.filter(relation="supersedes", origin="inference").count() == superseded.count()
    assert edges.exclude(relation="supersedes").exists()
    span = [moment.date() for moment in memories.order_by("valid_from").values_list("valid_from", flat=True)]
    assert (span[-1] - span[0]).days > 90  # months of history
    assert MemoryHistory.objects.filter(project=project).count() >= memories.count()
    assert Membership.objects.filter(organization=project.organization, user=admin_user).exists()
    assert ProjectMember.objects.get(project=project, user=admin_user).role == ProjectMember.Role.OWNER
    old = superseded.first()
    chain = memory_timeline(project=project, memory_id=old.pk).chain
    assert len(chain) >= 2 and chain[0].valid_to is not None and chain[-1].valid_to is None
    assert f"{memories.count()} memories" in output and "/ui/" in output
    # The entities the demo's facts name, recorded as graph processing would: hubs in the graph page.
    triples = EntityRelation.objects.filter(project=project)
    assert triples.filter(user_id="alice", source="alice").exists()
    assert triples.filter(relationship="lives_in", valid_to__isnull=False).exists()  # the moves closed them
    hubs = graph_view(project=project, scope=Scope(user_id="alice"), limit=1000).entities
    assert hubs and all(len(hub.memory_ids) >= 2 for hub in hubs) and "alice" not in {hub.name for hub in hubs}


def test_seed_demo_is_repeatable_only_with_reset(db):
    seed(users=1, memories=5, seed=3)
    project = Project.objects.get(organization__slug="demo")
    first = sorted(Memory.objects.for_project(project).values_list("memory", flat=True))
    with pytest.raises(CommandError, match="--reset"):
        seed(users=1, memories=5)
    seed(users=1, memories=5, seed=3, reset=True)
    assert sorted(Memory.objects.for_project(project).values_list("memory", flat=True)) == first
    with pytest.raises(CommandError, match="--users"):
        seed(users=9)


def test_seed_demo_makes_its_member_an_owner_of_the_demo_project(db, django_user_model, client):
    """The web UI shows a project to its members only: --member makes that login an OWNER."""
    person = django_user_model.objects.create_user("demo")
    seed(users=1, memories=3, member="demo")
    project = Project.objects.get(organization__slug="demo")
    assert ProjectMember.objects.get(project=project, user=person).role == ProjectMember.Role.OWNER
    client.force_login(person)
    assert b"Demo" in client.get("/ui/").content
    assert client.get(f"/ui/p/{project.pk}/u/alice/").status_code == 200
    with pytest.raises(CommandError, match="no Django user named 'nobody'"):
        seed(users=1, memories=3, reset=True, member="nobody")
    assert project.memories.exists()  # refused before anything was reset
