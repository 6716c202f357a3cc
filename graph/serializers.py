"""The graph API's request contracts and response wrappers (the relationship, related-memory and
timeline shapes themselves are ``graph.shapes``')."""

from rest_framework import serializers

from graph.shapes import ChainMemorySerializer, RelatedMemorySerializer, RelationshipSerializer, VersionSerializer
from mem0g_site import openapi
from memories.shapes import MemorySerializer

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
