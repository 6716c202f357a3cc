"""The graph's shapes: a relationship, a related memory, a graph, a timeline (output only; the views
parse input by hand, and the request serializers here only document it)."""

from rest_framework import serializers

from mem0g_site import openapi
from memories.api.serializers import MemorySerializer


class RelationshipSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    source = serializers.UUIDField(source="source_id", help_text="The memory the relationship goes from.")
    target = serializers.UUIDField(source="target_id", help_text="The memory it goes to.")
    relation = serializers.CharField(help_text="`source relation target`, e.g. `supersedes` (source is newer).")
    metadata = serializers.JSONField()
    weight = serializers.FloatField(help_text="Strength or confidence, 0 to 1.")
    origin = serializers.ChoiceField(choices=["user", "auto", "inference"])
    valid_from = serializers.DateTimeField(help_text="When it began to hold (valid time).")
    valid_to = serializers.DateTimeField(allow_null=True, help_text="When it stopped holding; null: it holds.")
    created_at = serializers.DateTimeField(help_text="When it was recorded (record time).")
    invalidated_at = serializers.DateTimeField(allow_null=True, help_text="When it was retracted; null: it stands.")


class RelatedMemorySerializer(MemorySerializer):
    relation = serializers.CharField(help_text="The relation of the last hop.")
    depth = serializers.IntegerField(help_text="Hops from the memory asked about (shortest).")
    path = serializers.ListField(child=serializers.UUIDField(), help_text="The relationship ids that reached it.")


class ChainMemorySerializer(MemorySerializer):
    position = serializers.IntegerField(
        help_text="Negative: older (superseded by the memory); 0: itself; positive: newer."
    )
    path = serializers.ListField(child=serializers.UUIDField(), help_text="The `supersedes` relationships between.")


class VersionSerializer(serializers.Serializer):
    event = serializers.ChoiceField(choices=["ADD", "UPDATE"])
    memory = serializers.CharField(help_text="The text of this version.")
    metadata = serializers.JSONField(allow_null=True)
    history_id = serializers.UUIDField(allow_null=True, help_text="The history row it comes from.")
    valid_from = serializers.DateTimeField()
    valid_to = serializers.DateTimeField(allow_null=True, help_text="null: the current version.")


def relationship_data(relationship) -> dict:
    return RelationshipSerializer(relationship).data


def relationships_data(relationships) -> list[dict]:
    return RelationshipSerializer(relationships, many=True).data


# --- documentation only ---------------------------------------------------------------------


class RelationshipCreateRequest(serializers.Serializer):
    target_id = serializers.UUIDField(help_text="The other memory (same project, and same user when both have one).")
    relation = serializers.CharField(
        help_text="lower_snake_case, up to 64 characters: `related_to`, `applies_to`, `supersedes`, `part_of`, "
        "`caused_by`, `contradicts`, or your own."
    )
    metadata = openapi.ObjectField(required=False, allow_null=True)
    weight = serializers.FloatField(required=False, help_text="0 to 1 (default 1).")
    valid_from = openapi.MomentField(required=False, help_text="Default: now.")
    valid_to = openapi.MomentField(required=False, help_text="Default: null (it holds).")


class RelationshipUpdateRequest(serializers.Serializer):
    valid_from = openapi.MomentField(required=False)
    valid_to = openapi.MomentField(required=False, help_text="A time closes the relationship; null reopens it.")
    metadata = openapi.ObjectField(required=False, help_text="Replaces the metadata.")
    weight = serializers.FloatField(required=False, help_text="0 to 1.")


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
