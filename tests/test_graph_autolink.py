"""GRAPH_AUTO_LINK_THRESHOLD: new memories are linked related_to similar earlier ones of the same user."""

import pytest

from graph.models import Relationship


@pytest.fixture
def linking(settings):
    settings.GRAPH_AUTO_LINK_THRESHOLD = 0.5


def test_a_similar_memory_of_the_same_user_is_linked(linking, project, add):
    tea = add(project, "User loves green tea", user_id="alice")
    add(project, "User has a red bicycle", user_id="alice")
    bobs_tea = add(project, "User loves green tea a lot", user_id="bob")
    new = add(project, "User drinks green tea every morning", user_id="alice")

    edges = list(Relationship.objects.filter(source=new))
    assert [(e.target_id, e.relation, e.origin) for e in edges] == [(tea.id, "related_to", "auto")]
    assert 0.5 <= edges[0].weight <= 1.0
    assert not Relationship.objects.filter(target=bobs_tea).exists()


def test_nothing_is_linked_when_the_threshold_is_off(settings, project, add):
    settings.GRAPH_AUTO_LINK_THRESHOLD = 0.0
    add(project, "User loves green tea", user_id="alice")
    add(project, "User drinks green tea every morning", user_id="alice")
    assert Relationship.objects.count() == 0


def test_one_batch_links_in_one_query_and_not_within_itself(linking, project, add, django_assert_max_num_queries):
    add(project, "User loves green tea", "User plays the piano", user_id="alice")
    from memories.inputs import NewMemory, Scope
    from memories.services import memories_add

    items = [
        NewMemory(text=t, scope=Scope(user_id="alice")) for t in ("User drinks green tea", "User enjoys piano music")
    ]
    with django_assert_max_num_queries(6):
        memories_add(project=project, items=items)
    assert sorted(Relationship.objects.values_list("source__memory", "target__memory")) == [
        ("User drinks green tea", "User loves green tea"),
        ("User enjoys piano music", "User plays the piano"),
    ]
