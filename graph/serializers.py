"""The graph API's request contracts and response wrappers (the relationship, related-memory and
timeline shapes themselves are ``graph.shapes``')."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from graph.selectors import LIMIT_MAX
from graph.shapes import ChainMemorySerializer, RelatedMemorySerializer, RelationshipSerializer, VersionSerializer
from mem0g_site.api_kit.contract import Contract, JsonObject, Lenient, Moment, Text, WholeNumber, given
from mem0g_site.exceptions import ValidationFailed
from memories.shapes import MemorySerializer

FORMATS = ("json", "graphml", "cytoscape")
DIRECTIONS = ("in", "out", "both")

# --- request contracts -------------------------------------------------------------------


@extend_schema_field({"type": "object", "additionalProperties": True, "example": {"source": "chat"}})
class Metadata(JsonObject):
    """A JSON object; ``null`` is refused too."""

    def parse(self, value):
        if not isinstance(value, dict):
            raise ValidationFailed(f"{self.field_name} must be a JSON object", field=self.field_name)
        return value


class RelationshipCreateRequest(Contract):
    """`memory relation target_id`, with its metadata, weight and the interval it holds."""

    target_id = given(
        serializers.UUIDField,
        needed=True,
        help_text="The other memory (same project, and same user when both have one).",
    )
    relation = given(
        serializers.CharField,
        needed=True,
        help_text="lower_snake_case, up to 64 characters: `related_to`, `applies_to`, `supersedes`, `part_of`, "
        "`caused_by`, `contradicts`, or your own.",
    )
    metadata = JsonObject()
    weight = given(serializers.FloatField, help_text="0 to 1 (default 1).")
    valid_from = Moment(help_text="Default: now.")
    valid_to = Moment(help_text="Default: null (it holds).")


class RelationshipUpdateRequest(Contract):
    """What to change (what is absent stays)."""

    metadata = Metadata(skip_absent=True, allow_null=False, help_text="Replaces the metadata.")
    valid_from = Moment(skip_absent=True)
    valid_to = Moment(skip_absent=True, help_text="A time closes the relationship; null reopens it.")
    weight = given(serializers.FloatField, help_text="0 to 1.")


class Depth(Contract):
    depth = WholeNumber(min_value=1, max_value=5, default=1, help_text="Hops, 1 to 5 (default 1).")


class Direction(Lenient, serializers.ChoiceField):
    """``in``, ``out`` or ``both`` (absent or empty: ``both``); the selector refuses anything else."""

    def __init__(self, **kwargs):
        super().__init__(choices=DIRECTIONS, allow_null=False, allow_blank=True, **kwargs)

    def parse(self, value):
        return value or "both"


class Hops(Contract):
    """Which relationships a read follows: one relation, a direction, how many."""

    relation = Text(help_text="Only this relation (e.g. `related_to`).")
    direction = Direction(help_text="`out` (from the memory), `in` (to it) or `both` (default).")
    limit = WholeNumber(
        min_value=1, max_value=LIMIT_MAX, default=100, help_text=f"At most this many, 1 to {LIMIT_MAX} (default 100)."
    )


class Times(Contract):
    """The graph at a moment of valid time, as known at a moment of record time."""

    as_of = Moment(help_text="Valid time: what held at this time (ISO 8601 or Unix seconds). Default: now.")
    known_at = Moment(
        help_text="Record time: what was on record at this time (recorded by then and not retracted yet). Alone, it "
        "also sets `as_of`: the graph as it stood then. Default: what is on record now."
    )


class RelationshipsQuery(Hops, Times):
    """``GET /v1/memories/{id}/relationships``."""


class RelatedQuery(Depth, Hops, Times):
    """``GET /v1/memories/{id}/related``."""


class GraphFormat(Lenient, serializers.ChoiceField):
    def __init__(self, **kwargs):
        super().__init__(choices=FORMATS, **kwargs)

    def parse(self, value):
        value = value or "json"
        if value not in FORMATS:
            raise ValidationFailed("format must be json, graphml or cytoscape", field=self.field_name)
        return value


class GraphOptions(Contract):
    format = GraphFormat(allow_null=False, help_text="`json` (default), `graphml` or `cytoscape`.")
    user_id = Text(help_text="Only this user's memories (a user-restricted key: its user's).")
    limit = WholeNumber(
        min_value=1, max_value=LIMIT_MAX, default=100, help_text=f"Memories, 1 to {LIMIT_MAX} (default 100)."
    )
    relation = Text(help_text="Only relationships of this relation.")


class GraphQuery(GraphOptions, Times):
    """``GET /v1/memories/graph``."""


# --- answers -------------------------------------------------------------------------------


class Relationships(serializers.Serializer):
    relationships = RelationshipSerializer(many=True, help_text="Newest first.")
    results = RelationshipSerializer(many=True, help_text="The same list as `relationships`.")


class RelatedMemories(serializers.Serializer):
    memories = RelatedMemorySerializer(many=True, help_text="Nearest first.")
    results = RelatedMemorySerializer(many=True, help_text="The same list as `memories`.")


class GraphResponse(serializers.Serializer):
    nodes = MemorySerializer(many=True, help_text="Newest first.")
    edges = RelationshipSerializer(many=True, help_text="Only between the nodes returned.")
    truncated = serializers.BooleanField(help_text="True: more memories than `limit`.")


class CytoscapeElements(serializers.Serializer):
    nodes = serializers.ListField(child=serializers.DictField(), help_text='`{"data": {"id", "label", ...memory}}`')
    edges = serializers.ListField(
        child=serializers.DictField(), help_text='`{"data": {"id", "source", "target", "label", ...relationship}}`'
    )


class CytoscapeResponse(serializers.Serializer):
    elements = CytoscapeElements()
    truncated = serializers.BooleanField()


class TimelineResponse(serializers.Serializer):
    memory = MemorySerializer()
    versions = VersionSerializer(many=True, help_text="Oldest first.")
    chain = ChainMemorySerializer(many=True, help_text="Oldest first; the memory itself at position 0.")
