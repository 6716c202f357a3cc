"""Relationships through the services and selectors: validation, tenancy, integrity with the memory
services, both time axes and the traversal."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import IntegrityError, transaction

from graph.models import Relationship
from graph.selectors import graph_at, related_memories, relationship_list
from graph.services import relationship_create, relationship_retract, relationship_update
from mem0g_site.exceptions import Conflict, MemoryNotFound, RelationshipNotFound, ValidationFailed
from memories.inputs import Scope
from memories.models import Memory
from memories.services import memories_delete, memories_reset, memory_delete, memory_update

T0 = datetime(2025, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)
ALICE = Scope(user_id="alice")


@pytest.fixture
def alice(project, add):
    """Four memories of alice, recorded at T0."""
    return add(project, "User lives in Porto", "User works at Acme", "User likes jazz", "User has a cat",
               user_id="alice", now=T0)  # fmt: skip


def link(project, source, target, relation="related_to", **kwargs):
    return relationship_create(project=project, source_id=source.id, target_id=target.id, relation=relation, **kwargs)


def ids(memories):
    return [str(memory.id) for memory in memories]


# --- create, update, retract ----------------------------------------------------------------


def test_create_validates_and_stores(project, alice):
    porto, acme, *_ = alice
    edge = link(project, porto, acme, "Applies_To ", metadata={"k": 1}, weight=0.25, now=T0)
    stored = Relationship.objects.get(pk=edge.pk)
    assert (stored.source_id, stored.target_id, stored.relation) == (porto.id, acme.id, "applies_to")
    assert (stored.metadata, stored.weight, stored.origin) == ({"k": 1}, 0.25, "user")
    assert stored.valid_from == stored.created_at == T0 and stored.valid_to is None and stored.invalidated_at is None


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"relation": "related to"}, "relation"),
        ({"relation": "1st"}, "relation"),
        ({"relation": "x" * 65}, "relation"),
        ({"relation": None}, "relation"),
        ({"weight": 1.5}, "weight"),
        ({"weight": -0.1}, "weight"),
        ({"weight": float("nan")}, "weight"),
        ({"weight": True}, "weight"),
        ({"metadata": ["not", "an", "object"]}, "metadata"),
        ({"origin": "guess"}, "origin"),
        ({"valid_from": T0, "valid_to": T0}, "valid_to"),
        ({"valid_from": datetime(2025, 1, 1)}, "valid_from"),
    ],
)
def test_bad_values_are_refused_before_anything_is_written(project, alice, changes, field):
    porto, acme, *_ = alice
    with pytest.raises(ValidationFailed) as refused:
        link(project, porto, acme, **{"relation": "related_to", **changes})
    assert refused.value.field == field
    assert not Relationship.objects.exists()


def test_a_memory_cannot_be_related_to_itself(project, alice):
    with pytest.raises(ValidationFailed):
        link(project, alice[0], alice[0])


def test_two_users_memories_cannot_be_related_but_an_unowned_memory_can(project, alice, add):
    bob = add(project, "User plays chess", user_id="bob")
    with pytest.raises(ValidationFailed) as refused:
        link(project, alice[0], bob)
    assert refused.value.field == "target_id"
    agent_note = add(project, "Agent prefers short answers", agent_id="helper")
    assert link(project, alice[0], agent_note).target_id == agent_note.id


def test_other_projects_and_missing_memories_are_not_found(project, other_project, alice, add):
    theirs = add(other_project, "User lives in Porto", user_id="alice")
    for target in (theirs.id, "00000000-0000-0000-0000-000000000000", "not-a-uuid"):
        with pytest.raises(MemoryNotFound):
            relationship_create(project=project, source_id=alice[0].id, target_id=target, relation="related_to")
    with pytest.raises(MemoryNotFound):
        relationship_create(project=other_project, source_id=alice[0].id, target_id=theirs.id, relation="related_to")
    assert not Relationship.objects.exists()


def test_a_restricted_key_links_only_its_users_memories(project, alice, add):
    bob = add(project, "User plays chess", user_id="bob")
    with pytest.raises(MemoryNotFound):
        relationship_create(
            project=project, source_id=alice[0].id, target_id=bob.id, relation="related_to", within=ALICE
        )
    assert link(project, alice[0], alice[1], within=ALICE).source_id == alice[0].id


def test_one_open_edge_per_source_target_and_relation(project, alice):
    porto, acme, *_ = alice
    first = link(project, porto, acme, now=T0)
    with pytest.raises(Conflict) as conflict:
        link(project, porto, acme)
    assert conflict.value.details == {"relationship_id": str(first.pk)}
    link(project, porto, acme, "applies_to")  # another relation
    link(project, acme, porto)  # the other direction
    relationship_update(project=project, relationship_id=first.pk, valid_to=T0 + DAY)
    second = link(project, porto, acme)  # the first one is closed now
    with pytest.raises(Conflict):  # reopening the first would make two open edges
        relationship_update(project=project, relationship_id=first.pk, valid_to=None)
    relationship_retract(project=project, relationship_id=second.pk)
    assert relationship_update(project=project, relationship_id=first.pk, valid_to=None).valid_to is None


def test_the_database_keeps_the_invariants_too(project, alice):
    porto, acme, *_ = alice
    link(project, porto, acme)
    bad_rows = [
        {"source": porto, "target": acme},  # a second open edge
        {"source": porto, "target": porto},
        {"source": acme, "target": porto, "weight": 2.0},
        {"source": acme, "target": porto, "relation": "Not Snake"},
        {"source": acme, "target": porto, "origin": "magic"},
        {"source": acme, "target": porto, "valid_from": T0, "valid_to": T0 - DAY},
    ]
    for row in bad_rows:
        with pytest.raises(IntegrityError), transaction.atomic():
            Relationship.objects.create(project=project, **{"relation": "related_to", **row})


def test_update_closes_and_corrects(project, alice):
    edge = link(project, alice[0], alice[1], now=T0)
    updated = relationship_update(
        project=project, relationship_id=edge.pk, valid_to=T0 + 2 * DAY, metadata={"why": "moved"}, weight=0.5
    )
    assert updated.pk == edge.pk
    stored = Relationship.objects.get(pk=edge.pk)
    assert (stored.valid_to, stored.metadata, stored.weight) == (T0 + 2 * DAY, {"why": "moved"}, 0.5)
    with pytest.raises(ValidationFailed):
        relationship_update(project=project, relationship_id=edge.pk, valid_from=T0 + 3 * DAY)
    with pytest.raises(ValidationFailed):
        relationship_update(project=project, relationship_id=edge.pk)
    with pytest.raises(ValidationFailed):
        relationship_update(project=project, relationship_id=edge.pk, valid_from=None)
    assert Relationship.objects.get(pk=edge.pk).valid_from == T0


def test_retract_keeps_the_row_and_is_idempotent(project, alice):
    edge = link(project, alice[0], alice[1], now=T0)
    retracted = relationship_retract(project=project, relationship_id=edge.pk, now=T0 + DAY)
    assert retracted.invalidated_at == T0 + DAY
    again = relationship_retract(project=project, relationship_id=edge.pk, now=T0 + 2 * DAY)
    assert again.invalidated_at == T0 + DAY
    assert Relationship.objects.filter(pk=edge.pk).exists()
    with pytest.raises(Conflict):
        relationship_update(project=project, relationship_id=edge.pk, weight=0.1)


def test_relationships_of_other_tenants_are_not_found(project, other_project, alice, add):
    edge = link(project, alice[0], alice[1])
    bob_a, bob_b = add(project, "User plays chess", "User plays go", user_id="bob")
    bobs = link(project, bob_a, bob_b)
    for call in (
        lambda: relationship_retract(project=other_project, relationship_id=edge.pk),
        lambda: relationship_update(project=other_project, relationship_id=edge.pk, weight=0.5),
        lambda: relationship_retract(project=project, relationship_id=bobs.pk, within=ALICE),
        lambda: relationship_retract(project=project, relationship_id="nope"),
    ):
        with pytest.raises(RelationshipNotFound):
            call()
    assert not Relationship.objects.filter(invalidated_at__isnull=False).exists()


# --- integrity with the memory services -----------------------------------------------------


def test_deleting_a_memory_deletes_its_relationships(project, alice):
    porto, acme, jazz, cat = alice
    link(project, porto, acme)
    link(project, jazz, porto)
    kept = link(project, jazz, cat)
    memory_delete(project=project, memory_id=porto.id)
    assert list(Relationship.objects.values_list("pk", flat=True)) == [kept.pk]


def test_deleting_a_users_memories_deletes_their_graph(project, alice, add):
    bob_a, bob_b = add(project, "User plays chess", "User plays go", user_id="bob")
    link(project, alice[0], alice[1])
    link(project, alice[2], alice[3])
    bobs = link(project, bob_a, bob_b)
    assert memories_delete(project=project, scope=ALICE) == 4
    assert list(Relationship.objects.values_list("pk", flat=True)) == [bobs.pk]
    assert memories_reset(project=project) == 2
    assert not Relationship.objects.exists()


def test_updating_a_memorys_text_keeps_its_relationships(project, alice):
    edge = link(project, alice[0], alice[1])
    memory_update(project=project, memory_id=alice[0].id, text="User lives in Lisbon")
    assert Relationship.objects.get(pk=edge.pk).source.memory == "User lives in Lisbon"
    assert ids(related_memories(project=project, memory_id=alice[0].id)) == [str(alice[1].id)]


def test_deleting_a_project_deletes_its_graph(other_project, add):
    first, second = add(other_project, "User likes tea", "User likes coffee", user_id="alice")
    link(other_project, first, second)
    other_project.delete()
    assert not Relationship.objects.exists()


# --- time, both axes ------------------------------------------------------------------------


def test_as_of_before_inside_and_after_an_edges_interval(project, alice):
    porto, acme, *_ = alice
    link(project, porto, acme, valid_from=T0 + 10 * DAY, valid_to=T0 + 20 * DAY, now=T0)

    def seen(moment):
        return ids(related_memories(project=project, memory_id=porto.id, as_of=moment))

    assert seen(T0 + 5 * DAY) == []
    assert seen(T0 + 10 * DAY) == [str(acme.id)]
    assert seen(T0 + 15 * DAY) == [str(acme.id)]
    assert seen(T0 + 20 * DAY) == []  # valid_to is exclusive
    assert ids(related_memories(project=project, memory_id=porto.id)) == []  # closed: not current
    assert len(relationship_list(project=project, memory_id=porto.id, as_of=T0 + 15 * DAY)) == 1
    assert relationship_list(project=project, memory_id=porto.id, as_of=T0 + 25 * DAY) == []


def test_known_at_before_a_retraction_still_shows_the_edge(project, alice):
    porto, acme, *_ = alice
    edge = link(project, porto, acme, now=T0 + DAY)
    relationship_retract(project=project, relationship_id=edge.pk, now=T0 + 5 * DAY)

    def seen(**times):
        return [r.pk for r in relationship_list(project=project, memory_id=porto.id, **times)]

    assert seen() == []
    assert seen(known_at=T0 + 3 * DAY) == [edge.pk]
    assert seen(known_at=T0 + 6 * DAY) == []
    assert seen(known_at=T0) == []  # not recorded yet
    assert seen(as_of=T0 + 3 * DAY) == []  # as we know now: retracted
    assert seen(as_of=T0 + 3 * DAY, known_at=T0 + 4 * DAY) == [edge.pk]
    assert ids(related_memories(project=project, memory_id=porto.id, known_at=T0 + 3 * DAY)) == [str(acme.id)]


def test_the_memories_obey_the_times_too(project, alice):
    porto, acme, *_ = alice
    link(project, porto, acme, now=T0)
    Memory.objects.filter(pk=acme.pk).update(valid_to=T0 + 3 * DAY)  # superseded later
    assert ids(related_memories(project=project, memory_id=porto.id)) == []
    assert ids(related_memories(project=project, memory_id=porto.id, as_of=T0 + DAY)) == [str(acme.id)]
    graph = graph_at(project=project, scope=ALICE, as_of=T0 + DAY)
    assert len(graph.nodes) == 4 and len(graph.edges) == 1
    graph = graph_at(project=project, scope=ALICE)
    assert len(graph.nodes) == 3 and graph.edges == []


# --- traversal ------------------------------------------------------------------------------


def test_traversal_depth_direction_relation_and_paths(project, alice):
    porto, acme, jazz, cat = alice
    e1 = link(project, porto, acme)
    e2 = link(project, acme, jazz, "part_of")
    e3 = link(project, cat, porto)

    def walk(**kwargs):
        return {(m.memory, m.depth, m.relation, tuple(m.path)) for m in related_memories(
            project=project, memory_id=porto.id, **kwargs)}  # fmt: skip

    assert walk() == {("User works at Acme", 1, "related_to", (e1.pk,)), ("User has a cat", 1, "related_to", (e3.pk,))}
    assert walk(depth=2) == walk() | {("User likes jazz", 2, "part_of", (e1.pk, e2.pk))}
    assert walk(depth=2, direction="out") == {
        ("User works at Acme", 1, "related_to", (e1.pk,)),
        ("User likes jazz", 2, "part_of", (e1.pk, e2.pk)),
    }
    assert walk(depth=2, direction="in") == {("User has a cat", 1, "related_to", (e3.pk,))}
    assert walk(depth=2, relation="related_to") == walk()
    assert walk(depth=3, relation="part_of") == set()


def test_a_cycle_never_loops_and_each_memory_comes_once_at_its_shortest_depth(project, alice):
    porto, acme, jazz, cat = alice
    link(project, porto, acme)
    link(project, acme, jazz)
    link(project, jazz, porto)
    link(project, jazz, cat)
    found = related_memories(project=project, memory_id=porto.id, depth=5, direction="out")
    assert [(m.memory, m.depth) for m in found] == [
        ("User works at Acme", 1),
        ("User likes jazz", 2),
        ("User has a cat", 3),
    ]
    both = related_memories(project=project, memory_id=porto.id, depth=5)
    assert sorted((m.memory, m.depth) for m in both) == [
        ("User has a cat", 2),
        ("User likes jazz", 1),
        ("User works at Acme", 1),
    ]


@pytest.mark.parametrize("depth", [0, 6, -1, "2", True])
def test_depth_is_bounded(project, alice, depth):
    with pytest.raises(ValidationFailed) as refused:
        related_memories(project=project, memory_id=alice[0].id, depth=depth)
    assert refused.value.field == "depth"


def test_a_restricted_walk_stays_inside_its_user(project, alice, add):
    note = add(project, "Agent prefers short answers", agent_id="helper")
    link(project, alice[0], note)
    link(project, note, alice[1])
    assert ids(related_memories(project=project, memory_id=alice[0].id, depth=2)) == [str(note.id)] + [str(alice[1].id)]
    assert ids(related_memories(project=project, memory_id=alice[0].id, depth=2, within=ALICE)) == []
    with pytest.raises(MemoryNotFound):
        related_memories(project=project, memory_id=note.id, within=ALICE)


def test_the_walk_is_one_query_whatever_the_depth(project, add, django_assert_max_num_queries):
    chain = add(project, *[f"User fact {i}" for i in range(12)], user_id="alice")
    for first, second in zip(chain, chain[1:], strict=False):
        link(project, first, second)
        link(project, second, first, "caused_by")
    for depth in (1, 5):
        with django_assert_max_num_queries(1):  # the walk, which also checks the memory
            found = related_memories(project=project, memory_id=chain[0].id, depth=depth)
        assert len(found) == depth


def test_the_graph_is_limited_and_holds_only_edges_between_its_nodes(project, alice, add):
    porto, acme, jazz, cat = alice
    link(project, porto, acme)
    link(project, jazz, cat, "part_of")
    newest = add(project, "User moved to Lisbon", user_id="alice", now=T0 + DAY)
    link(project, newest, porto, "supersedes")
    full = graph_at(project=project, scope=ALICE)
    assert (len(full.nodes), len(full.edges), full.truncated) == (5, 3, False)
    assert full.nodes[0].pk == newest.pk
    some = graph_at(project=project, scope=ALICE, limit=2)
    assert some.truncated and len(some.nodes) == 2
    assert all({e.source_id, e.target_id} <= {n.pk for n in some.nodes} for e in some.edges)
    assert len(graph_at(project=project, scope=ALICE, relation="part_of").edges) == 1
    assert graph_at(project=project, scope=Scope(user_id="bob")).nodes == []
    with pytest.raises(ValidationFailed):
        graph_at(project=project, limit=1001)


def test_the_walk_starts_from_a_memory_in_any_state_but_never_from_a_missing_one(project, alice, other_project, add):
    porto, acme, *_ = alice
    link(project, porto, acme)
    Memory.objects.filter(pk=porto.pk).update(valid_to=T0 + DAY)  # closed: it no longer holds
    assert ids(related_memories(project=project, memory_id=porto.id)) == [str(acme.id)]
    theirs = add(other_project, "User lives in Oslo", user_id="alice")
    for missing in (theirs.id, "00000000-0000-0000-0000-000000000000", "not-a-uuid"):
        with pytest.raises(MemoryNotFound):
            related_memories(project=project, memory_id=missing)
    with pytest.raises(MemoryNotFound):
        related_memories(project=project, memory_id=porto.id, within=Scope(user_id="bob"))
