"""The graph extension's routes, as thin translations onto graph.services and graph.selectors:

POST/GET /v1/memories/{id}/relationships    PATCH/DELETE /v1/relationships/{rid}
GET /v1/memories/{id}/related               GET /v1/memories/graph (JSON, GraphML, Cytoscape)
GET /v1/memories/{id}/timeline
"""

from types import SimpleNamespace

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, PolymorphicProxySerializer, extend_schema
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.response import Response

from accounts.access import key_user, key_within
from graph import selectors
from graph.export import to_cytoscape, to_graphml
from graph.serializers import (
    CytoscapeResponse,
    GraphQuery,
    GraphResponse,
    RelatedMemories,
    RelatedQuery,
    RelationshipCreateRequest,
    Relationships,
    RelationshipsQuery,
    RelationshipUpdateRequest,
    TimelineResponse,
)
from graph.services import relationship_create, relationship_retract, relationship_update
from graph.shapes import (
    RelationshipSerializer,
    related_memories_data,
    relationship_data,
    relationships_data,
    timeline_data,
)
from mem0g_site import openapi
from mem0g_site.api import ApiView
from mem0g_site.api_kit import examples
from mem0g_site.api_kit.contract import read
from mem0g_site.api_kit.parsing import body_of
from mem0g_site.inputs import UNSET
from memories.inputs import Scope
from memories.shapes import memories_data

GRAPH = "Graph"

# --- documentation -------------------------------------------------------------------------

RELATIONSHIP_ID = "7e4b2c1d-0a9f-4e8d-b7c6-5a4f3e2d1c0b"
RELATIONSHIP = {
    "id": RELATIONSHIP_ID,
    "source": examples.MEMORY_ID,
    "target": examples.OTHER_MEMORY_ID,
    "relation": "applies_to",
    "metadata": {"note": "from the onboarding chat"},
    "weight": 0.9,
    "origin": "user",
    "valid_from": openapi.CREATED,
    "valid_to": None,
    "created_at": openapi.CREATED,
    "invalidated_at": None,
}
OTHER_MEMORY = {
    **examples.MEMORY,
    "id": examples.OTHER_MEMORY_ID,
    "memory": "Writes scripts for data cleaning",
    "content": "Writes scripts for data cleaning",
    "hash": "0c5e2a7f9b1d3c4e6f8a0b2c4d6e8f10",
}
RELATED = {**OTHER_MEMORY, "relation": "applies_to", "depth": 1, "path": [RELATIONSHIP_ID]}
RELATIONSHIP_ID_PARAM = openapi.path_param(
    "relationship_id", "The relationship's id (a UUID; anything else is a 404).", RELATIONSHIP_ID
)
RELATIONSHIP_NOT_FOUND = ("RELATIONSHIP_NOT_FOUND", "Relationship not found", {"relationship_id": RELATIONSHIP_ID})
GRAPHML_EXAMPLE = (
    "<?xml version='1.0' encoding='utf-8'?>\n<graphml xmlns=\"http://graphml.graphdrawing.org/xmlns\">"
    '<key id="n_memory" for="node" attr.name="memory" attr.type="string" />...'
    '<graph id="memories" edgedefault="directed"><data key="truncated">false</data>'
    f'<node id="{examples.MEMORY_ID}"><data key="n_memory">Prefers Python for scripting</data>...</node>'
    f'<edge id="{RELATIONSHIP_ID}" source="{examples.MEMORY_ID}" target="{examples.OTHER_MEMORY_ID}">'
    '<data key="e_relation">applies_to</data>...</edge></graph></graphml>'
)


class IgnoreFormatParameter(DefaultContentNegotiation):
    """``?format=`` is this API's own parameter (GraphML, Cytoscape), not DRF's renderer override."""

    settings = SimpleNamespace(URL_FORMAT_OVERRIDE=None)


def _within(request) -> Scope | None:
    return key_within(request.auth)


def _traversal(request, values: dict) -> dict:
    """What a walk from one memory takes from its query (``Hops`` and ``Times``) and from the key."""
    hops = {name: values[name] for name in ("relation", "direction", "limit", "as_of", "known_at")}
    return {"project": request.auth.project, "within": _within(request), **hops}


# --- views ---------------------------------------------------------------------------------


class MemoryRelationshipsView(ApiView):
    """``/v1/memories/{id}/relationships``: link the memory to another (POST), list its links (GET)."""

    required_scope = {"GET": "read", "POST": "write"}
    user_keys = True
    query_params = {"GET": frozenset(RelationshipsQuery().fields)}

    @extend_schema(
        operation_id="relationships_list",
        summary="A memory's relationships",
        description="The memory's relationships, outgoing and incoming (`direction`), newest first. By default "
        "those that hold now and were not retracted; `as_of` and `known_at` look back in time. The memory "
        "may be in any state.",
        tags=[GRAPH],
        parameters=[examples.MEMORY_ID_PARAM, RelationshipsQuery],
        responses={200: Relationships, **openapi.errors(404, 422)},
        examples=[openapi.example("Relationships", {"relationships": [RELATIONSHIP], "results": [RELATIONSHIP]})],
    )
    def get(self, request, memory_id: str):
        values = read(RelationshipsQuery, request.query_params.dict())
        relationships = selectors.relationship_list(memory_id=memory_id, **_traversal(request, values))
        data = relationships_data(relationships)
        return Response({"relationships": data, "results": data})

    @extend_schema(
        operation_id="relationship_create",
        summary="Relate two memories",
        description='Makes the relationship `memory relation target_id` (read as a sentence: "A supersedes B" '
        "means A is the newer memory). Both memories must be the key's to reach (else 404); two memories of "
        "different users cannot be related (422), nor a memory to itself; an open relationship with the same "
        "memories and relation is a 409.",
        tags=[GRAPH],
        parameters=[examples.MEMORY_ID_PARAM],
        request=RelationshipCreateRequest,
        responses={201: RelationshipSerializer, **openapi.errors(404, 409, 422)},
        examples=[
            openapi.example(
                "Applies to",
                {
                    "target_id": examples.OTHER_MEMORY_ID,
                    "relation": "applies_to",
                    "metadata": {"note": "from the onboarding chat"},
                    "weight": 0.9,
                },
                request=True,
            ),
            openapi.example("Created", RELATIONSHIP, status=201),
        ],
    )
    def post(self, request, memory_id: str):
        values = read(RelationshipCreateRequest, body_of(request))
        relationship = relationship_create(
            project=request.auth.project,
            source_id=memory_id,
            target_id=values["target_id"],
            relation=values["relation"],
            metadata=values["metadata"],
            weight=values["weight"] if values.get("weight") is not None else 1.0,
            valid_from=values["valid_from"],
            valid_to=values["valid_to"],
            within=_within(request),
        )
        return Response(relationship_data(relationship), status=201)


class RelationshipView(ApiView):
    """``/v1/relationships/{rid}``: close or correct (PATCH), retract (DELETE)."""

    required_scope = "write"
    user_keys = True

    @extend_schema(
        operation_id="relationship_update",
        summary="Close or correct a relationship",
        description="Changes what is given: `valid_to` closes the relationship (null reopens it), `valid_from` "
        "corrects when it began, `metadata` (replaced), `weight`. It keeps its id. A retracted relationship "
        "cannot be changed (409).",
        tags=[GRAPH],
        parameters=[RELATIONSHIP_ID_PARAM],
        request=RelationshipUpdateRequest,
        responses={200: RelationshipSerializer, **openapi.errors(404, 409, 422, e404=RELATIONSHIP_NOT_FOUND)},
        examples=[
            openapi.example("Close", {"valid_to": openapi.UPDATED}, request=True),
            openapi.example("Closed", {**RELATIONSHIP, "valid_to": openapi.UPDATED}),
        ],
    )
    def patch(self, request, relationship_id: str):
        values = read(RelationshipUpdateRequest, body_of(request))
        relationship = relationship_update(
            project=request.auth.project,
            relationship_id=relationship_id,
            valid_from=values.get("valid_from", UNSET),
            valid_to=values.get("valid_to", UNSET),
            metadata=values.get("metadata", UNSET),
            weight=values.get("weight", UNSET),
            within=_within(request),
        )
        return Response(relationship_data(relationship))

    @extend_schema(
        operation_id="relationship_retract",
        summary="Retract a relationship",
        description="Marks the relationship as recorded by mistake (`invalidated_at`): it leaves every answer, "
        "except those `known_at` an earlier time. The row stays. Retracting twice changes nothing.",
        tags=[GRAPH],
        parameters=[RELATIONSHIP_ID_PARAM],
        responses={200: RelationshipSerializer, **openapi.errors(404, e404=RELATIONSHIP_NOT_FOUND)},
        examples=[openapi.example("Retracted", {**RELATIONSHIP, "invalidated_at": openapi.UPDATED})],
    )
    def delete(self, request, relationship_id: str):
        relationship = relationship_retract(
            project=request.auth.project, relationship_id=relationship_id, within=_within(request)
        )
        return Response(relationship_data(relationship))


class RelatedMemoriesView(ApiView):
    """``GET /v1/memories/{id}/related``: the memories within ``depth`` hops."""

    required_scope = "read"
    user_keys = True
    query_params = frozenset(RelatedQuery().fields)

    @extend_schema(
        operation_id="memory_related",
        summary="Related memories",
        description="The memories within `depth` hops of the memory, nearest first, each with the `relation` of "
        "the last hop, its `depth` (shortest) and the `path` of relationship ids that reached it. Only "
        "relationships and memories that held at `as_of`, as known at `known_at`, are followed (by default: "
        "current ones); cycles are harmless.",
        tags=[GRAPH],
        parameters=[examples.MEMORY_ID_PARAM, RelatedQuery],
        responses={200: RelatedMemories, **openapi.errors(404, 422)},
        examples=[openapi.example("One hop", {"memories": [RELATED], "results": [RELATED]})],
    )
    def get(self, request, memory_id: str):
        values = read(RelatedQuery, request.query_params.dict())
        related = selectors.related_memories(memory_id=memory_id, depth=values["depth"], **_traversal(request, values))
        data = related_memories_data(related)
        return Response({"memories": data, "results": data})


class MemoryGraphView(ApiView):
    """``GET /v1/memories/graph``: memories and the relationships between them, as JSON, GraphML or
    Cytoscape.js elements."""

    required_scope = "read"
    user_keys = True
    query_params = frozenset(GraphQuery().fields)
    content_negotiation_class = IgnoreFormatParameter

    @extend_schema(
        operation_id="memory_graph",
        summary="A memory graph",
        description="The newest `limit` memories (of `user_id`, or of the whole project) that held at `as_of` "
        "as known at `known_at`, and the relationships between them (`truncated`: there were more memories). "
        "`format=graphml` answers GraphML (`application/xml`), `format=cytoscape` Cytoscape.js elements.",
        tags=[GRAPH],
        parameters=[GraphQuery],
        responses={
            (200, "application/json"): OpenApiResponse(
                PolymorphicProxySerializer(
                    component_name="MemoryGraphJson",
                    serializers=[GraphResponse, CytoscapeResponse],
                    resource_type_field_name=None,
                ),
                description="`format=json` (default): nodes and edges; `format=cytoscape`: Cytoscape.js elements.",
                examples=[
                    OpenApiExample(
                        "JSON",
                        value={"nodes": [examples.MEMORY, OTHER_MEMORY], "edges": [RELATIONSHIP], "truncated": False},
                    ),
                    OpenApiExample(
                        "Cytoscape",
                        value={
                            "elements": {
                                "nodes": [{"data": {**examples.MEMORY, "label": examples.MEMORY["memory"]}}],
                                "edges": [{"data": {**RELATIONSHIP, "label": RELATIONSHIP["relation"]}}],
                            },
                            "truncated": False,
                        },
                    ),
                ],
            ),
            (200, "application/xml"): OpenApiResponse(
                OpenApiTypes.STR,
                description="`format=graphml`: GraphML.",
                examples=[OpenApiExample("GraphML", value=GRAPHML_EXAMPLE, media_type="application/xml")],
            ),
            **openapi.errors(404, 422, media_type="application/json", e404=openapi.USER_NOT_FOUND),
        },
    )
    def get(self, request):
        values = read(GraphQuery, request.query_params.dict())
        output = values["format"]
        graph = selectors.graph_at(
            project=request.auth.project,
            scope=Scope(user_id=key_user(request.auth, values["user_id"])),
            limit=values["limit"],
            relation=values["relation"],
            as_of=values["as_of"],
            known_at=values["known_at"],
        )
        body = {"nodes": memories_data(graph.nodes), "edges": relationships_data(graph.edges)}
        if output == "graphml":
            return HttpResponse(to_graphml(**body, truncated=graph.truncated), content_type="application/xml")
        if output == "cytoscape":
            return Response(to_cytoscape(**body, truncated=graph.truncated))
        return Response({**body, "truncated": graph.truncated})


class MemoryTimelineView(ApiView):
    """``GET /v1/memories/{id}/timeline``: the memory's versions and its supersession chain."""

    required_scope = "read"
    user_keys = True

    @extend_schema(
        operation_id="memory_timeline",
        summary="A memory's timeline",
        description="`versions`: the memory's texts from its history, each with the interval it held (the "
        "first from the memory's `valid_from`, each later one from when it was recorded; the last until the "
        "memory's `valid_to`). `chain`: the memories linked to it by `supersedes` relationships in either "
        "direction, oldest first, itself at `position` 0.",
        tags=[GRAPH],
        parameters=[examples.MEMORY_ID_PARAM],
        responses={200: TimelineResponse, **openapi.errors(404)},
        examples=[
            openapi.example(
                "Superseded once",
                {
                    "memory": {**examples.MEMORY, "valid_to": openapi.UPDATED},
                    "versions": [
                        {
                            "event": "ADD",
                            "memory": examples.MEMORY["memory"],
                            "metadata": examples.MEMORY["metadata"],
                            "history_id": examples.HISTORY_ID,
                            "valid_from": openapi.CREATED,
                            "valid_to": openapi.UPDATED,
                        }
                    ],
                    "chain": [
                        {**examples.MEMORY, "valid_to": openapi.UPDATED, "position": 0, "path": []},
                        {**OTHER_MEMORY, "valid_from": openapi.UPDATED, "position": 1, "path": [RELATIONSHIP_ID]},
                    ],
                },
            )
        ],
    )
    def get(self, request, memory_id: str):
        timeline = selectors.memory_timeline(project=request.auth.project, memory_id=memory_id, within=_within(request))
        return Response(timeline_data(timeline))
