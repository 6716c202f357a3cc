"""The graph routes: relationships, related memories, graph exports and timelines, with tenancy,
both time axes and pinned query counts."""

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest

from graph.models import Relationship
from graph.services import relationship_create
from memories.models import Memory
from memories.services import memory_update
from tests.conftest import error_of

T0 = datetime(2025, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)
RELATIONSHIP_FIELDS = {
    "id",
    "source",
    "target",
    "relation",
    "metadata",
    "weight",
    "origin",
    "valid_from",
    "valid_to",
    "created_at",
    "invalidated_at",
}
GRAPHML = "{http://graphml.graphdrawing.org/xmlns}"
NO_SUCH_ID = "00000000-0000-0000-0000-000000000000"


def at(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def url(path: str, **params) -> str:
    return f"{path}?{urlencode(params)}" if params else path


def comparable(body: dict) -> dict:
    """An error body without the parts that differ per request or per id."""
    return {"detail": body["detail"], "code": body["code"]}


@pytest.fixture
def key(project, make_key):
    return make_key(project)


@pytest.fixture
def alice(project, add):
    return add(project, "User lives in Porto", "User works at Acme", "User likes jazz", "User has a cat",
               user_id="alice", now=T0)  # fmt: skip


def create(api, key, source, target, relation="related_to", **fields):
    return api(
        "POST",
        f"/v1/memories/{source.id}/relationships",
        key=key,
        data={"target_id": str(target.id), "relation": relation, **fields},
    )


# --- create, list, update, retract ----------------------------------------------------------


def test_create_list_close_and_retract(api, key, alice):
    porto, acme, jazz, _ = alice
    response = create(api, key, porto, acme, "applies_to", metadata={"note": "x"}, weight=0.5, valid_from=at(T0))
    assert response.status_code == 201, response.content
    edge = response.json()
    assert set(edge) == RELATIONSHIP_FIELDS
    assert (edge["source"], edge["target"], edge["relation"]) == (str(porto.id), str(acme.id), "applies_to")
    assert (edge["metadata"], edge["weight"], edge["origin"], edge["valid_to"]) == ({"note": "x"}, 0.5, "user", None)
    assert edge["valid_from"] == "2025-01-01T00:00:00Z"
    incoming = create(api, key, jazz, porto).json()

    listed = api("GET", f"/v1/memories/{porto.id}/relationships", key=key).json()
    assert listed["results"] == listed["relationships"]
    assert {r["id"] for r in listed["results"]} == {edge["id"], incoming["id"]}
    out = api("GET", url(f"/v1/memories/{porto.id}/relationships", direction="out"), key=key).json()
    assert [r["id"] for r in out["results"]] == [edge["id"]]
    by_relation = api("GET", url(f"/v1/memories/{porto.id}/relationships", relation="related_to"), key=key).json()
    assert [r["id"] for r in by_relation["results"]] == [incoming["id"]]

    closed = api("PATCH", f"/v1/relationships/{edge['id']}", key=key, data={"valid_to": at(T0 + DAY), "weight": 1})
    assert closed.status_code == 200 and closed.json()["valid_to"] == "2025-01-02T00:00:00Z"
    assert closed.json()["weight"] == 1.0
    assert [r["id"] for r in api("GET", f"/v1/memories/{porto.id}/relationships", key=key).json()["results"]] == [
        incoming["id"]
    ]
    retracted = api("DELETE", f"/v1/relationships/{incoming['id']}", key=key)
    assert retracted.status_code == 200 and retracted.json()["invalidated_at"] is not None
    assert set(retracted.json()) == RELATIONSHIP_FIELDS
    assert api("GET", f"/v1/memories/{porto.id}/relationships", key=key).json()["results"] == []
    assert Relationship.objects.count() == 2  # retracted and closed rows stay
    error_of(api("PATCH", f"/v1/relationships/{incoming['id']}", key=key, data={"weight": 0.1}), 409, "CONFLICT")


@pytest.mark.parametrize(
    "body, status, code",
    [
        ({"relation": "related_to"}, 422, "VALIDATION_ERROR"),  # no target_id
        ({"target_id": "{acme}"}, 422, "VALIDATION_ERROR"),  # no relation
        ({"target_id": "{acme}", "relation": "Related To"}, 422, "VALIDATION_ERROR"),
        ({"target_id": "{acme}", "relation": "related_to", "weight": 3}, 422, "VALIDATION_ERROR"),
        ({"target_id": "{acme}", "relation": "related_to", "weight": "high"}, 422, "VALIDATION_ERROR"),
        ({"target_id": "{acme}", "relation": "related_to", "metadata": "x"}, 422, "VALIDATION_ERROR"),
        ({"target_id": "{acme}", "relation": "related_to", "valid_from": "soon"}, 422, "VALIDATION_ERROR"),
        ({"target_id": "{acme}", "relation": "related_to", "origin": "auto"}, 400, "INVALID_REQUEST"),
        ({"target_id": "{porto}", "relation": "related_to"}, 422, "VALIDATION_ERROR"),  # itself
        ({"target_id": NO_SUCH_ID, "relation": "related_to"}, 404, "MEMORY_NOT_FOUND"),
    ],
)
def test_create_refuses_bad_input(api, key, alice, body, status, code):
    porto, acme, *_ = alice
    body = {k: v.replace("{acme}", str(acme.id)).replace("{porto}", str(porto.id)) if isinstance(v, str) else v
            for k, v in body.items()}  # fmt: skip
    error_of(api("POST", f"/v1/memories/{porto.id}/relationships", key=key, data=body), status, code)
    assert not Relationship.objects.exists()


@pytest.mark.parametrize(
    "body, detail",
    [
        ({"relation": "related_to"}, "target_id is required"),
        ({"target_id": "{acme}", "relation": None}, "relation is required"),
        ({"target_id": "{acme}", "relation": ""}, "relation must be a lower_snake_case name"),
        ({"target_id": "{acme}", "relation": "related_to", "weight": ""}, "weight must be a number from 0 to 1"),
    ],
)
def test_create_refusals_say_what_is_wrong(api, key, alice, body, detail):
    porto, acme, *_ = alice
    body = {k: v.replace("{acme}", str(acme.id)) if isinstance(v, str) else v for k, v in body.items()}
    response = api("POST", f"/v1/memories/{porto.id}/relationships", key=key, data=body)
    assert error_of(response, 422, "VALIDATION_ERROR")["detail"].startswith(detail)


def test_a_duplicate_open_edge_is_a_conflict(api, key, alice):
    porto, acme, *_ = alice
    first = create(api, key, porto, acme).json()
    body = error_of(create(api, key, porto, acme), 409, "CONFLICT")
    assert body["error"]["details"] == {"relationship_id": first["id"]}


def test_cross_user_linking_is_422_and_cross_project_linking_is_404(api, key, project, other_project, alice, add):
    porto = alice[0]
    bob = add(project, "User plays chess", user_id="bob")
    body = error_of(create(api, key, porto, bob), 422, "VALIDATION_ERROR")
    assert body["error"]["details"] == {"field": "target_id"}
    theirs = add(other_project, "User lives in Porto", user_id="alice")
    foreign = error_of(create(api, key, porto, theirs), 404, "MEMORY_NOT_FOUND")
    missing = error_of(
        api("POST", f"/v1/memories/{porto.id}/relationships", key=key,
            data={"target_id": NO_SUCH_ID, "relation": "related_to"}),
        404, "MEMORY_NOT_FOUND",
    )  # fmt: skip
    assert comparable(foreign) == comparable(missing)
    assert not Relationship.objects.exists()


def test_other_tenants_relationships_are_answered_like_missing_ones(api, project, other_project, make_key, alice, add):
    porto, acme, *_ = alice
    edge = relationship_create(project=project, source_id=porto.id, target_id=acme.id, relation="related_to")
    outsider = make_key(other_project)
    for method, body in (("PATCH", {"weight": 0.5}), ("DELETE", None)):
        theirs = error_of(api(method, f"/v1/relationships/{edge.pk}", key=outsider, data=body), 404,
                          "RELATIONSHIP_NOT_FOUND")  # fmt: skip
        missing = error_of(api(method, f"/v1/relationships/{NO_SUCH_ID}", key=outsider, data=body), 404,
                           "RELATIONSHIP_NOT_FOUND")  # fmt: skip
        assert comparable(theirs) == comparable(missing)
        error_of(api(method, "/v1/relationships/not-a-uuid", key=outsider, data=body), 404, "RELATIONSHIP_NOT_FOUND")
    for path in ("relationships", "related", "timeline"):
        theirs = error_of(api("GET", f"/v1/memories/{porto.id}/{path}", key=outsider), 404, "MEMORY_NOT_FOUND")
        missing = error_of(api("GET", f"/v1/memories/{NO_SUCH_ID}/{path}", key=outsider), 404, "MEMORY_NOT_FOUND")
        assert comparable(theirs) == comparable(missing)
    graph = api("GET", url("/v1/memories/graph", user_id="alice"), key=outsider).json()
    assert graph == {"nodes": [], "edges": [], "truncated": False}
    stored = Relationship.objects.get(pk=edge.pk)
    assert stored.weight == 1.0 and stored.invalidated_at is None


def test_a_user_restricted_key_sees_only_edges_between_its_users_memories(api, project, make_key, alice, add):
    porto, acme, *_ = alice
    note = add(project, "Agent prefers short answers", agent_id="helper")
    bob = add(project, "User plays chess", user_id="bob")
    inside = relationship_create(project=project, source_id=porto.id, target_id=acme.id, relation="related_to")
    outside = relationship_create(project=project, source_id=porto.id, target_id=note.id, relation="related_to")
    alice_key = make_key(project, user_id="alice")

    listed = api("GET", f"/v1/memories/{porto.id}/relationships", key=alice_key).json()["results"]
    assert [r["id"] for r in listed] == [str(inside.pk)]
    related = api("GET", f"/v1/memories/{porto.id}/related", key=alice_key).json()["results"]
    assert [m["id"] for m in related] == [str(acme.id)]
    error_of(api("DELETE", f"/v1/relationships/{outside.pk}", key=alice_key), 404, "RELATIONSHIP_NOT_FOUND")
    error_of(create(api, alice_key, porto, note), 404, "MEMORY_NOT_FOUND")
    error_of(create(api, alice_key, bob, porto), 404, "MEMORY_NOT_FOUND")
    error_of(api("GET", f"/v1/memories/{bob.id}/related", key=alice_key), 404, "MEMORY_NOT_FOUND")
    error_of(api("GET", url("/v1/memories/graph", user_id="bob"), key=alice_key), 404, "USER_NOT_FOUND")
    graph = api("GET", "/v1/memories/graph", key=alice_key).json()
    assert len(graph["nodes"]) == 4 and [e["id"] for e in graph["edges"]] == [str(inside.pk)]
    assert Relationship.objects.get(pk=outside.pk).invalidated_at is None


# --- related --------------------------------------------------------------------------------


def test_related_depth_relation_and_direction(api, key, alice):
    porto, acme, jazz, cat = alice
    e1 = create(api, key, porto, acme).json()
    e2 = create(api, key, acme, jazz, "part_of").json()
    e3 = create(api, key, cat, porto).json()

    def related(**params):
        body = api("GET", url(f"/v1/memories/{porto.id}/related", **params), key=key).json()
        assert body["memories"] == body["results"]
        return {(m["memory"], m["depth"], m["relation"], tuple(m["path"])) for m in body["results"]}

    one = {("User works at Acme", 1, "related_to", (e1["id"],)), ("User has a cat", 1, "related_to", (e3["id"],))}
    assert related() == related(depth=1) == one
    assert related(depth=2) == one | {("User likes jazz", 2, "part_of", (e1["id"], e2["id"]))}
    assert related(depth=2, relation="related_to") == one
    assert related(depth=2, direction="out") == {
        ("User works at Acme", 1, "related_to", (e1["id"],)),
        ("User likes jazz", 2, "part_of", (e1["id"], e2["id"])),
    }
    assert related(depth=2, direction="in") == {("User has a cat", 1, "related_to", (e3["id"],))}
    assert len(api("GET", url(f"/v1/memories/{porto.id}/related", depth=2, limit=1), key=key).json()["results"]) == 1
    memory = api("GET", f"/v1/memories/{porto.id}/related", key=key).json()["results"][0]
    assert {"id", "memory", "user_id", "metadata", "valid_from", "valid_to", "relation", "depth", "path"} <= set(memory)


def test_related_in_a_cycle(api, key, alice):
    porto, acme, jazz, _ = alice
    create(api, key, porto, acme)
    create(api, key, acme, jazz)
    create(api, key, jazz, porto)
    body = api("GET", url(f"/v1/memories/{porto.id}/related", depth=5, direction="out"), key=key).json()
    assert [(m["memory"], m["depth"]) for m in body["results"]] == [("User works at Acme", 1), ("User likes jazz", 2)]


@pytest.mark.parametrize("depth", ["0", "6", "two", "1.5", "-1"])
def test_depth_out_of_bounds_is_422(api, key, alice, depth):
    body = error_of(api("GET", url(f"/v1/memories/{alice[0].id}/related", depth=depth), key=key), 422,
                    "VALIDATION_ERROR")  # fmt: skip
    assert body["error"]["details"] == {"field": "depth"}


@pytest.mark.parametrize(
    "params, status",
    [
        ({"direction": "sideways"}, 422),
        ({"relation": "Not Snake"}, 422),
        ({"as_of": "yesterday"}, 422),
        ({"known_at": "later"}, 422),
        ({"limit": "0"}, 422),
        ({"limit": "1001"}, 422),
        ({"deep": "2"}, 400),
    ],
)
def test_related_refuses_bad_parameters(api, key, alice, params, status):
    response = api("GET", url(f"/v1/memories/{alice[0].id}/related", **params), key=key)
    assert response.status_code == status, response.content


def test_related_query_count_does_not_grow_with_the_graph(api, key, project, add, django_assert_max_num_queries):
    chain = add(project, *[f"User fact {i}" for i in range(30)], user_id="alice")
    for first, second in zip(chain, chain[1:], strict=False):
        relationship_create(project=project, source_id=first.id, target_id=second.id, relation="related_to")
    api("GET", "/status", key=key)  # the key's first use records it
    for depth in (1, 5):
        # The key (with its project), the walk (which also checks the memory).
        with django_assert_max_num_queries(2):
            response = api("GET", url(f"/v1/memories/{chain[0].id}/related", depth=depth), key=key)
        assert len(response.json()["results"]) == depth


# --- time -----------------------------------------------------------------------------------


def test_as_of_and_known_at_through_the_api(api, key, project, alice):
    porto, acme, *_ = alice
    edge = relationship_create(
        project=project,
        source_id=porto.id,
        target_id=acme.id,
        relation="related_to",
        valid_from=T0 + 10 * DAY,
        valid_to=T0 + 20 * DAY,
        now=T0 + DAY,
    )

    def related(**params):
        body = api("GET", url(f"/v1/memories/{porto.id}/related", **params), key=key).json()
        return [m["id"] for m in body["results"]]

    assert related(as_of=at(T0 + 5 * DAY)) == []
    assert related(as_of=at(T0 + 15 * DAY)) == [str(acme.id)]
    assert related(as_of=at(T0 + 25 * DAY)) == []
    assert related() == []
    retracted_at = api("DELETE", f"/v1/relationships/{edge.pk}", key=key).json()["invalidated_at"]
    assert related(as_of=at(T0 + 15 * DAY)) == []
    # Before the retraction we knew it: known_at an earlier time shows it (with as_of inside its interval).
    assert related(as_of=at(T0 + 15 * DAY), known_at=at(T0 + 2 * DAY)) == [str(acme.id)]
    assert related(as_of=at(T0 + 15 * DAY), known_at=retracted_at) == []
    listed = api("GET", url(f"/v1/memories/{porto.id}/relationships", known_at=at(T0 + 12 * DAY)), key=key).json()
    assert [r["id"] for r in listed["results"]] == [str(edge.pk)]


# --- graph ----------------------------------------------------------------------------------


@pytest.fixture
def small_graph(api, key, alice, add, project):
    porto, acme, jazz, cat = alice
    edges = [create(api, key, porto, acme).json(), create(api, key, jazz, cat, "part_of").json()]
    add(project, "User plays chess", user_id="bob")
    return edges


def test_graph_as_json(api, key, alice, small_graph):
    body = api("GET", url("/v1/memories/graph", user_id="alice"), key=key).json()
    assert set(body) == {"nodes", "edges", "truncated"}
    assert len(body["nodes"]) == 4 and body["truncated"] is False
    assert {e["id"] for e in body["edges"]} == {e["id"] for e in small_graph}
    assert set(body["edges"][0]) == RELATIONSHIP_FIELDS
    whole = api("GET", "/v1/memories/graph", key=key).json()
    assert len(whole["nodes"]) == 5
    limited = api("GET", url("/v1/memories/graph", user_id="alice", limit=2), key=key).json()
    assert len(limited["nodes"]) == 2 and limited["truncated"] is True
    node_ids = {n["id"] for n in limited["nodes"]}
    assert all(e["source"] in node_ids and e["target"] in node_ids for e in limited["edges"])
    part_of = api("GET", url("/v1/memories/graph", user_id="alice", relation="part_of"), key=key).json()
    assert [e["relation"] for e in part_of["edges"]] == ["part_of"]


def test_graph_as_graphml(api, key, alice, small_graph):
    response = api("GET", url("/v1/memories/graph", user_id="alice", format="graphml"), key=key)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/xml")
    root = ET.fromstring(response.content)
    graph = root.find(f"{GRAPHML}graph")
    assert graph.get("edgedefault") == "directed"
    nodes, edges = graph.findall(f"{GRAPHML}node"), graph.findall(f"{GRAPHML}edge")
    assert len(nodes) == 4 and len(edges) == 2
    texts = {d.text for n in nodes for d in n.findall(f"{GRAPHML}data") if d.get("key") == "n_memory"}
    assert "User lives in Porto" in texts
    node_ids = {n.get("id") for n in nodes}
    assert all(e.get("source") in node_ids and e.get("target") in node_ids for e in edges)
    relations = {d.text for e in edges for d in e.findall(f"{GRAPHML}data") if d.get("key") == "e_relation"}
    assert relations == {"related_to", "part_of"}


def test_graphml_survives_characters_xml_cannot_carry(api, key, project, add):
    add(project, "User typed \x01 and \x1f & <tags>", user_id="carol")
    response = api("GET", url("/v1/memories/graph", user_id="carol", format="graphml"), key=key)
    node = ET.fromstring(response.content).find(f"{GRAPHML}graph/{GRAPHML}node")
    assert "& <tags>" in node.find(f"{GRAPHML}data").text


def test_graph_as_cytoscape(api, key, alice, small_graph):
    body = api("GET", url("/v1/memories/graph", user_id="alice", format="cytoscape"), key=key).json()
    elements = body["elements"]
    assert len(elements["nodes"]) == 4 and len(elements["edges"]) == 2 and body["truncated"] is False
    node = elements["nodes"][0]["data"]
    assert node["label"] == node["memory"] and "id" in node
    edge = elements["edges"][0]["data"]
    assert {"id", "source", "target", "label", "relation", "weight"} <= set(edge) and edge["label"] == edge["relation"]


@pytest.mark.parametrize(
    "params, status",
    [
        ({"format": "csv"}, 422),
        ({"limit": "0"}, 422),
        ({"limit": "1001"}, 422),
        ({"as_of": "x"}, 422),
        ({"user_id": "has space"}, 422),
        ({"q": "1"}, 400),
    ],
)
def test_graph_refuses_bad_parameters(api, key, db, params, status):
    assert api("GET", url("/v1/memories/graph", **params), key=key).status_code == status


def test_graph_query_count_does_not_grow_with_the_graph(api, key, project, add, django_assert_max_num_queries):
    memories = add(project, *[f"User fact {i}" for i in range(60)], user_id="alice")
    for first, second in zip(memories, memories[1:], strict=False):
        relationship_create(project=project, source_id=first.id, target_id=second.id, relation="related_to")
    api("GET", "/status", key=key)
    for limit, output in ((10, "json"), (60, "graphml"), (60, "cytoscape")):
        # The key (with its project), the memories, the relationships between them.
        with django_assert_max_num_queries(3):
            response = api("GET", url("/v1/memories/graph", user_id="alice", limit=limit, format=output), key=key)
        assert response.status_code == 200


# --- timeline -------------------------------------------------------------------------------


def test_timeline_of_a_supersession_chain(api, key, project, add):
    v1 = add(project, "User lives in Porto", user_id="alice", now=T0)
    v2 = add(project, "User lives in Lisbon", user_id="alice", now=T0 + 10 * DAY)
    v3 = add(project, "User lives in Madrid", user_id="alice", now=T0 + 20 * DAY)
    for newer, older, moment in ((v2, v1, T0 + 10 * DAY), (v3, v2, T0 + 20 * DAY)):
        relationship_create(
            project=project,
            source_id=newer.id,
            target_id=older.id,
            relation="supersedes",
            origin="inference",
            valid_from=moment,
            now=moment,
        )
        Memory.objects.filter(pk=older.pk).update(valid_to=moment)
    memory_update(project=project, memory_id=v3.id, text="User lives in Madrid, Spain", now=T0 + 25 * DAY)

    for memory, position in ((v1, 0), (v2, 1), (v3, 2)):
        body = api("GET", f"/v1/memories/{memory.id}/timeline", key=key).json()
        assert body["memory"]["id"] == str(memory.id)
        chain = body["chain"]
        assert [m["id"] for m in chain] == [str(v1.id), str(v2.id), str(v3.id)]
        assert [m["position"] for m in chain] == [-position, 1 - position, 2 - position]
        assert [(m["valid_from"], m["valid_to"]) for m in chain] == [
            ("2025-01-01T00:00:00Z", "2025-01-11T00:00:00Z"),
            ("2025-01-11T00:00:00Z", "2025-01-21T00:00:00Z"),
            ("2025-01-21T00:00:00Z", None),
        ]
    versions = api("GET", f"/v1/memories/{v3.id}/timeline", key=key).json()["versions"]
    assert [(v["event"], v["memory"], v["valid_from"], v["valid_to"]) for v in versions] == [
        ("ADD", "User lives in Madrid", "2025-01-21T00:00:00Z", "2025-01-26T00:00:00Z"),
        ("UPDATE", "User lives in Madrid, Spain", "2025-01-26T00:00:00Z", None),
    ]
    first = api("GET", f"/v1/memories/{v1.id}/timeline", key=key).json()["versions"]
    assert [(v["memory"], v["valid_to"]) for v in first] == [("User lives in Porto", "2025-01-11T00:00:00Z")]
    alone = add(project, "User has a dog", user_id="alice")
    body = api("GET", f"/v1/memories/{alone.id}/timeline", key=key).json()
    assert [m["position"] for m in body["chain"]] == [0] and len(body["versions"]) == 1


def test_timeline_query_count(api, key, project, add, django_assert_max_num_queries):
    versions = add(project, *[f"User lives in city {i}" for i in range(8)], user_id="alice")
    for newer, older in zip(versions[1:], versions, strict=False):
        relationship_create(project=project, source_id=newer.id, target_id=older.id, relation="supersedes")
    api("GET", "/status", key=key)
    # The key, the memory, its history, the older and the newer side of the chain.
    with django_assert_max_num_queries(5):
        body = api("GET", f"/v1/memories/{versions[3].id}/timeline", key=key).json()
    assert [m["position"] for m in body["chain"]] == list(range(-3, 5))
    # The key, the memory, its relationships.
    with django_assert_max_num_queries(3):
        listed = api("GET", f"/v1/memories/{versions[3].id}/relationships", key=key).json()
    assert len(listed["results"]) == 2


# --- integrity through the API --------------------------------------------------------------


def test_deleting_memories_through_the_api_removes_their_relationships(api, key, project, alice):
    porto, acme, jazz, cat = alice
    create(api, key, porto, acme)
    create(api, key, jazz, cat)
    assert api("DELETE", f"/v1/memories/{porto.id}/", key=key).status_code == 200
    assert Relationship.objects.count() == 1
    assert api("DELETE", "/v1/users/alice/memories", key=key).json()["deleted"] == 3
    assert not Relationship.objects.exists()


def test_updating_a_memory_through_the_api_keeps_its_relationships(api, key, alice):
    porto, acme, *_ = alice
    edge = create(api, key, porto, acme).json()
    assert api("PUT", f"/v1/memories/{porto.id}/", key=key, data={"text": "User lives in Lisbon"}).status_code == 200
    listed = api("GET", f"/v1/memories/{porto.id}/relationships", key=key).json()["results"]
    assert [r["id"] for r in listed] == [edge["id"]]


# --- time through every read ----------------------------------------------------------------


def test_a_supersession_chain_read_through_as_of_at_three_times(api, key, project, add):
    """Porto (T0) -> Lisbon (T0+10d) -> Madrid (T0+20d), linked as the inference pipeline links them:
    each reader shows the version that held at the time asked about."""
    versions = [
        add(project, text, user_id="alice", now=T0 + n * 10 * DAY)
        for n, text in enumerate(["User lives in Porto", "User lives in Lisbon", "User lives in Madrid"])
    ]
    for older, newer in zip(versions, versions[1:], strict=False):
        relationship_create(project=project, source_id=newer.id, target_id=older.id, relation="supersedes",
                            origin="inference", valid_from=newer.valid_from, now=newer.valid_from)  # fmt: skip
        Memory.objects.filter(pk=older.pk).update(valid_to=newer.valid_from)

    for moment, expected in ((T0 + 5 * DAY, 0), (T0 + 15 * DAY, 1), (T0 + 25 * DAY, 2)):
        want = [str(versions[expected].id)]
        listed = api("GET", url("/v1/memories/", user_id="alice", as_of=at(moment)), key=key).json()
        assert [m["id"] for m in listed["results"]] == want
        found = api("POST", "/v3/memories/search/", key=key,
                    data={"query": "Where does the user live?", "filters": {"user_id": "alice"},
                          "as_of": at(moment)}).json()  # fmt: skip
        assert [m["id"] for m in found["results"]] == want
        graph = api("GET", url("/v1/memories/graph", user_id="alice", as_of=at(moment)), key=key).json()
        assert [n["id"] for n in graph["nodes"]] == want and graph["edges"] == []
        # The timeline is the same chain whatever the time; the version that held then is in it.
        chain = api("GET", f"/v1/memories/{versions[expected].id}/timeline", key=key).json()["chain"]
        assert [m["id"] for m in chain] == [str(v.id) for v in versions]
        assert chain[expected]["position"] == 0
    # Now: only Madrid holds; the supersedes edges are walked back from it without a time.
    older = api("GET", url(f"/v1/memories/{versions[2].id}/related", depth=2, direction="out",
                           relation="supersedes", as_of=at(T0 + 5 * DAY)), key=key).json()  # fmt: skip
    assert older["results"] == []  # Madrid did not hold yet on day 5
    latest = api("GET", url("/v1/memories/", user_id="alice", latest_only="true"), key=key).json()["results"]
    assert [m["id"] for m in latest] == [str(versions[2].id)]


def test_known_at_on_lists_relationships_related_and_the_graph(api, key, project, alice):
    porto, acme, *_ = alice  # recorded at T0
    edge = relationship_create(project=project, source_id=porto.id, target_id=acme.id, relation="related_to",
                               valid_from=T0, now=T0 + DAY)  # fmt: skip
    api("DELETE", f"/v1/relationships/{edge.pk}", key=key)
    Memory.objects.filter(pk=acme.pk).update(invalidated_at=T0 + 3 * DAY)  # the Acme memory was retracted

    def listed(**params):
        body = api("GET", url("/v1/memories/", user_id="alice", **params), key=key)
        assert body.status_code == 200, body.content
        return {m["memory"] for m in body.json()["results"]}

    assert "User works at Acme" not in listed()
    assert "User works at Acme" in listed(known_at=at(T0 + 2 * DAY))
    assert "User works at Acme" not in listed(known_at=at(T0 + 4 * DAY))
    v3 = api("POST", "/v3/memories/", key=key, data={"filters": {"user_id": "alice"}, "known_at": at(T0 + 2 * DAY)})
    assert "User works at Acme" in {m["memory"] for m in v3.json()["results"]}
    error_of(api("GET", url("/v1/memories/", user_id="alice", known_at="soon"), key=key), 422, "VALIDATION_ERROR")

    then = at(T0 + 2 * DAY)
    graph = api("GET", url("/v1/memories/graph", user_id="alice", known_at=then), key=key).json()
    assert [e["id"] for e in graph["edges"]] == [str(edge.pk)] and len(graph["nodes"]) == 4
    assert api("GET", url("/v1/memories/graph", user_id="alice"), key=key).json()["edges"] == []
    related = api("GET", url(f"/v1/memories/{porto.id}/related", known_at=then), key=key).json()["results"]
    assert [m["id"] for m in related] == [str(acme.id)]
    relationships = api("GET", url(f"/v1/memories/{porto.id}/relationships", known_at=then), key=key).json()
    assert [r["id"] for r in relationships["results"]] == [str(edge.pk)]
    assert api("GET", url(f"/v1/memories/{porto.id}/relationships"), key=key).json()["results"] == []
