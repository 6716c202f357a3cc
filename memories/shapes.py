"""How a memory is shown: the one memory shape of every dialect, of the graph's answers and of
exports. Public (other apps' APIs show memories through it); the API-only shapes are in
``memories.api.serializers``."""

import threading
from datetime import UTC, time, timedelta

from rest_framework import serializers

from mem0g_site.api_kit.represent import Representer
from memories.selectors import memories_mark_successors


def expiration_out(value):
    """A date D given by a caller is stored as the start of D+1 (UTC); show it back as D."""
    if value is None:
        return None
    value = value.astimezone(UTC)
    if value.time() == time.min:
        return (value - timedelta(days=1)).date().isoformat()
    return value.isoformat().replace("+00:00", "Z")


class MemorySerializer(serializers.Serializer):
    id = serializers.UUIDField()
    memory = serializers.CharField()
    content = serializers.CharField(source="memory", help_text="The same text as `memory`.")
    hash = serializers.CharField()
    user_id = serializers.CharField(allow_null=True)
    agent_id = serializers.CharField(allow_null=True)
    app_id = serializers.CharField(allow_null=True)
    run_id = serializers.CharField(allow_null=True)
    session_id = serializers.CharField(source="run_id", allow_null=True, help_text="The same as `run_id`.")
    metadata = serializers.JSONField()
    categories = serializers.ListField(child=serializers.CharField())
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    valid_from = serializers.DateTimeField()
    valid_to = serializers.DateTimeField(allow_null=True)
    expiration_date = serializers.SerializerMethodField()
    immutable = serializers.BooleanField()
    memory_type = serializers.CharField(
        allow_null=True, help_text="`procedural_memory` for a procedural memory; null for an ordinary one."
    )
    lifecycle_state = serializers.SerializerMethodField(
        help_text="`active`: the fact holds; `superseded`: a newer fact replaced it (or it was closed), "
        "see `replaced_by` and `valid_to`. Expiry is told by `expiration_date`."
    )
    replaced_by = serializers.SerializerMethodField(
        help_text="The id of the memory that superseded this one; null while it holds."
    )

    def get_expiration_date(self, obj) -> str | None:
        return expiration_out(obj.expiration_date)

    def get_lifecycle_state(self, obj) -> str:
        return "active" if obj.is_current else "superseded"

    def get_replaced_by(self, obj) -> str | None:
        if not hasattr(obj, "replaced_by"):
            memories_mark_successors([obj])
        return str(obj.replaced_by) if obj.replaced_by is not None else None


class ScoredMemorySerializer(MemorySerializer):
    score = serializers.FloatField()


def memory_data(memory) -> dict:
    return memories_data([memory])[0]


def memories_data(memories, *, scored: bool = False, shape: type[MemorySerializer] | None = None) -> list[dict]:
    """The memory shape of each of ``memories`` (their successors marked in one query first): the one
    place lists of memories are shown. ``shape`` is a richer memory shape (the graph's related
    memories and supersession chains); ``scored`` adds the search score."""
    items = list(memories.all() if hasattr(memories, "all") else memories)
    memories_mark_successors([item for item in items if not hasattr(item, "replaced_by")])
    return representer(shape or (ScoredMemorySerializer if scored else MemorySerializer)).many(items)


# Instantiating a serializer deep-copies its declared fields (some 0.2 ms for the memory shape), and
# a shape reads nothing from its instance but its fields: each thread keeps one per class, read once
# into a Representer (mem0g_site/api_kit/represent.py: the same output for less CPU).
_shapes = threading.local()


def representer(serializer: type[serializers.Serializer]) -> Representer:
    """This thread's :class:`Representer` of ``serializer`` (a class with no arguments)."""
    kept = _shapes.__dict__.setdefault("by_class", {})
    if serializer not in kept:
        kept[serializer] = Representer(serializer())
    return kept[serializer]
