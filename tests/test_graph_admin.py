"""Operators see relationships in the admin, filter them and retract wrong ones (through the service)."""

import pytest

from graph.models import Relationship
from graph.services import relationship_create, relationship_update


@pytest.fixture
def edges(project, add):
    memories = add(project, *[f"User fact number {i}" for i in range(21)], user_id="alice")
    made = [
        relationship_create(project=project, source_id=first.id, target_id=second.id, relation="related_to")
        for first, second in zip(memories, memories[1:], strict=False)
    ]
    made.append(
        relationship_create(
            project=project, source_id=memories[0].id, target_id=memories[5].id, relation="part_of", origin="auto"
        )
    )
    relationship_update(project=project, relationship_id=made[0].pk, valid_to=made[0].valid_from.replace(year=2100))
    return made


def test_changelist_is_bounded_and_filters(admin_client, edges, django_assert_max_num_queries):
    with django_assert_max_num_queries(12):
        response = admin_client.get("/admin/graph/relationship/")
    assert response.status_code == 200
    assert b"User fact number 20" in response.content
    by_relation = admin_client.get("/admin/graph/relationship/", {"relation": "part_of"})
    assert by_relation.context["cl"].result_count == 1
    by_origin = admin_client.get("/admin/graph/relationship/", {"origin__exact": "auto"})
    assert by_origin.context["cl"].result_count == 1
    closed = admin_client.get("/admin/graph/relationship/", {"state": "closed"})
    assert closed.context["cl"].result_count == 1
    assert admin_client.get("/admin/graph/relationship/", {"state": "open"}).context["cl"].result_count == 20


def test_the_retract_action_goes_through_the_service(admin_client, edges):
    chosen = [str(edges[1].pk), str(edges[2].pk)]
    response = admin_client.post(
        "/admin/graph/relationship/", {"action": "retract", "_selected_action": chosen}, follow=True
    )
    assert response.status_code == 200
    assert set(Relationship.objects.filter(invalidated_at__isnull=False).values_list("pk", flat=True)) == {
        edges[1].pk,
        edges[2].pk,
    }
    assert admin_client.get(f"/admin/graph/relationship/{edges[1].pk}/change/").status_code == 200  # view only
