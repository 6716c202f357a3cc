"""The graph page's data: entity hubs beside memory-to-memory relationships, edge kinds, the
filters (entity, category, agent, relation), "as of", the changes over time for the timeline strip
and the filters' choices. Through the selectors and through the view's JSON, on the real database,
with triples from the real rule-based extractor."""

from datetime import UTC, datetime, timedelta

import pytest

from accounts.models import ProjectMember
from graph.models import EntityRelation
from graph.selectors import entity_kind, graph_changes, graph_facets, graph_view
from graph.services import relations_record, relationship_create
from mem0g_site.exceptions import ValidationFailed
from memories.inputs import Scope
from memories.services import memory_supersede

T0 = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)
MOVED = T0 + timedelta(days=30)
ALICE = Scope(user_id="alice")


@pytest.fixture
def world(project, add):
    """Alice lives in Porto, then in Lisbon; Porto and Acme are named by two memories each, her sister
    Anna by two; tea is named once (no hub). Bob, in the same project, also names Porto."""
    porto, visited, acme, acme_too, anna, anna_too, tea = add(
        project,
        "User lives in Porto",
        "User visited Porto in August",
        "User works at Acme",
        "User's sister Anna works at Acme",
        "User plays chess",
        "Anna plays chess",
        "User loves green tea",
        user_id="alice",
        categories=["life"],
        now=T0,
        valid_from=T0,
    )
    coach = add(project, "User plays tennis", user_id="alice", agent_id="coach", categories=["sport"], now=T0)
    lisbon = memory_supersede(
        project=project, memory_id=porto.pk, text="User lives in Lisbon", observed_at=MOVED, now=MOVED
    )
    bob = add(project, "User lives in Porto", user_id="bob", now=T0, valid_from=T0)
    mine = [porto, visited, acme, acme_too, anna, anna_too, tea, coach, lisbon]
    relations_record(project=project, memories=mine, enable_graph=True, now=MOVED)
    relations_record(project=project, memories=[bob], enable_graph=True, now=T0)
    relationship_create(project=project, source_id=tea.pk, target_id=anna.pk, relation="related_to", now=MOVED)
    names = locals()
    return {key: names[key] for key in ("porto", "visited", "acme", "acme_too", "anna", "anna_too", "tea", "coach")} | {
        "lisbon": lisbon,
        "bob": bob,
    }


def hubs(view) -> dict[str, tuple[str, set]]:
    return {hub.name: (hub.kind, set(hub.memory_ids)) for hub in view.entities}


def test_it_draws_entities_as_hubs_beside_memory_relationships(project, world, django_assert_max_num_queries):
    with django_assert_max_num_queries(3):
        view = graph_view(project=project, scope=ALICE, limit=100)
    found = hubs(view)
    # Porto: only the visit is current (the home moved to Lisbon); one memory is no hub.
    assert found["acme"] == ("organisation", {world["acme"].pk, world["acme_too"].pk})
    assert found["anna"] == ("person", {world["acme_too"].pk, world["anna_too"].pk})
    assert found["chess"] == ("thing", {world["anna"].pk, world["anna_too"].pk})
    assert "porto" not in found and "green_tea" not in found
    assert "user" not in found and "alice" not in found  # the user herself is never a hub
    assert {(m.memory_id, m.entity) for m in view.mentions} == {
        (pk, name) for name, (_, ids) in found.items() for pk in ids
    }
    assert [edge.relation for edge in view.edges] == ["related_to"]
    assert world["porto"].pk not in {node.pk for node in view.nodes}

    # With single mentions too, Porto (visited) and Lisbon (lives_in) are places.
    every = hubs(graph_view(project=project, scope=ALICE, limit=100, min_mentions=1))
    assert every["porto"][0] == every["lisbon"][0] == "place"
    assert every["porto"][1] == {world["visited"].pk}  # never Bob's memory


def test_as_of_shows_the_hubs_of_then(project, world):
    then = graph_view(project=project, scope=ALICE, limit=100, as_of=T0 + timedelta(days=1))
    ids = {node.pk for node in then.nodes}
    assert world["porto"].pk in ids and world["lisbon"].pk not in ids
    assert hubs(then)["porto"] == ("place", {world["porto"].pk, world["visited"].pk})
    before = graph_view(project=project, scope=ALICE, limit=100, as_of=T0 - timedelta(days=1))
    assert before.nodes == [] and before.entities == [] and before.edges == []


def test_filters_narrow_memories_and_edges(project, world):
    by_entity = graph_view(project=project, scope=ALICE, limit=100, entity="Acme")
    assert {node.pk for node in by_entity.nodes} == {world["acme"].pk, world["acme_too"].pk}
    assert "acme" in hubs(by_entity)  # the filtered entity stays a hub, even when named once
    one = graph_view(project=project, scope=ALICE, limit=100, entity="green tea")
    assert [node.pk for node in one.nodes] == [world["tea"].pk] and hubs(one) == {
        "green_tea": ("thing", {world["tea"].pk})
    }

    by_agent = graph_view(project=project, scope=ALICE, limit=100, agent="coach")
    assert [node.pk for node in by_agent.nodes] == [world["coach"].pk]
    by_category = graph_view(project=project, scope=ALICE, limit=100, category="sport")
    assert [node.pk for node in by_category.nodes] == [world["coach"].pk]
    assert graph_view(project=project, scope=ALICE, limit=100, category="nothing").nodes == []

    only_mentions = graph_view(project=project, scope=ALICE, limit=100, relation="mentions")
    assert only_mentions.edges == [] and only_mentions.mentions
    only_links = graph_view(project=project, scope=ALICE, limit=100, relation="related_to")
    assert [edge.relation for edge in only_links.edges] == ["related_to"] and only_links.entities == []
    with pytest.raises(ValidationFailed):
        graph_view(project=project, scope=ALICE, limit=100, relation="Not A Relation!")
    with pytest.raises(ValidationFailed):
        graph_view(project=project, scope=ALICE, limit=100, entity="x" * 300)


def test_retracted_triples_are_no_mentions(project, world):
    EntityRelation.objects.filter(memory=world["acme_too"], destination="acme").update(invalidated_at=MOVED)
    assert "acme" not in hubs(graph_view(project=project, scope=ALICE, limit=100))


def test_entity_kinds():
    assert entity_kind({("sister_of", "source")}) == "person"
    assert entity_kind({("dog_of", "source")}) == "thing"
    assert entity_kind({("lives_in", "destination"), ("likes", "destination")}) == "place"
    assert entity_kind({("works_at", "destination")}) == "organisation"
    assert entity_kind({("likes", "destination")}) == "thing"


def test_changes_say_what_appeared_was_superseded_and_expired(project, world, add):
    gone = add(project, "User has a day pass", user_id="alice", now=T0, expiration_date=T0 + timedelta(days=2))
    changes = graph_changes(project=project, scope=ALICE, now=MOVED + timedelta(days=1))
    kinds = [(change.kind, change.memory_id) for change in changes]
    assert ("superseded", world["porto"].pk) in kinds and ("expired", gone.pk) in kinds
    assert ("added", world["lisbon"].pk) in kinds and ("added", world["bob"].pk) not in kinds
    superseded = next(change for change in changes if change.kind == "superseded")
    assert superseded.at == MOVED and superseded.by_id == world["lisbon"].pk
    assert superseded.by_text == "User lives in Lisbon"
    assert [change.at for change in changes] == sorted(change.at for change in changes)
    # Expiry still to come is no change yet.
    assert "expired" not in {change.kind for change in graph_changes(project=project, scope=ALICE, now=T0)}


def test_facets_offer_the_entities_categories_and_agents(project, world):
    facets = graph_facets(project=project, scope=ALICE)
    names = dict(facets.entities)
    assert names["acme"] == 2 and names["porto"] == 2 and names["green_tea"] == 1
    assert "user" not in names and "alice" not in names
    assert facets.categories == ["life", "sport"] and facets.agents == ["coach"]


# --- through the view ---------------------------------------------------------------------------


@pytest.fixture
def browser(client, django_user_model, project):
    person = django_user_model.objects.create_user("pat", password="pw-pat-123")
    ProjectMember.objects.create(project=project, user=person, role=ProjectMember.Role.OWNER)
    client.force_login(person)
    return client


def test_graph_json_has_hub_nodes_and_edge_kinds(browser, project, world):
    url = f"/ui/p/{project.pk}/u/alice/graph.json"
    data = browser.get(url).json()
    nodes = {node["data"]["id"]: node["data"] for node in data["elements"]["nodes"]}
    assert nodes["entity:acme"] == {
        "id": "entity:acme",
        "kind": "entity",
        "name": "acme",
        "entity_kind": "organisation",
        "label": "acme",
        "mentions": 2,
    }
    assert nodes[str(world["tea"].pk)]["kind"] == "memory"
    edges = [edge["data"] for edge in data["elements"]["edges"]]
    assert {edge["relation"] for edge in edges} == {"related_to", "mentions"}
    mention = next(
        edge for edge in edges if edge["target"] == "entity:acme" and edge["source"] == str(world["acme"].pk)
    )
    assert mention["label"] == "works_at"
    assert all(edge["source"] in nodes and edge["target"] in nodes for edge in edges)

    filtered = browser.get(url, {"entity": "acme", "agent": "", "category": "life", "relation": "mentions"}).json()
    # Anna is named by one of these two only: no hub.
    assert {n["data"]["id"] for n in filtered["elements"]["nodes"]} == {
        str(world["acme"].pk),
        str(world["acme_too"].pk),
        "entity:acme",
    }
    assert {e["data"]["relation"] for e in filtered["elements"]["edges"]} == {"mentions"}
    then = browser.get(url, {"as_of": "2026-01-11"}).json()
    assert "entity:porto" in {n["data"]["id"] for n in then["elements"]["nodes"]}
    assert browser.get(url, {"entity": "x" * 300}).status_code == 422
    assert browser.get(url, {"relation": "Bad!"}).status_code == 422


def test_graph_page_offers_filters_and_the_changes(browser, project, world):
    page = browser.get(f"/ui/p/{project.pk}/u/alice/graph/").content.decode()
    for fragment in (
        '<option value="acme">acme (2)</option>',
        '<option value="sport">sport</option>',
        '<option value="coach">coach</option>',
        '<option value="mentions">mentions</option>',
        'id="graph-events"',
        'id="timeline"',
        "cytoscape-fcose.js",
        '"kind": "superseded"',
        '"by_text": "User lives in Lisbon"',
    ):
        assert fragment in page, fragment
