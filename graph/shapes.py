"""How the graph is shown: a relationship, a related memory, a memory's versions and supersession
chain. Public: the graph API and the MCP server's graph tools answer with them."""

from rest_framework import serializers

from memories.shapes import MemorySerializer, memories_data, memory_data


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


def related_memories_data(related) -> list[dict]:
    """Related memories (``graph.selectors.related_memories``) as the API and the MCP tool show them."""
    return memories_data(related, shape=RelatedMemorySerializer)


def timeline_data(timeline) -> dict:
    """A ``graph.selectors.memory_timeline`` as the API shows it (also the MCP tool ``memory_timeline``)."""
    return {
        "memory": memory_data(timeline.memory),
        "versions": VersionSerializer(timeline.versions, many=True).data,
        "chain": memories_data(timeline.chain, shape=ChainMemorySerializer),
    }
