"""One memory shape for every dialect, and the history row shape (Mem0's, §C.5 of the contract)."""

import threading
from datetime import UTC, time, timedelta

from rest_framework import serializers

from memories.selectors import memories_mark_successors


def expiration_out(value):
    """A date D given by a caller is stored as the start of D+1 (UTC); show it back as D."""
    if value is None:
        return None
    value = value.astimezone(UTC)
    if value.time() == time.min:
        return (value - timedelta(days=1)).date().isoformat()
    return value.isoformat().replace("+00:00", "Z")


class MemoryListSerializer(serializers.ListSerializer):
    """Marks every memory's successor in one query before the memories are shown."""

    def to_representation(self, data):
        items = list(data.all() if hasattr(data, "all") else data)
        memories_mark_successors([item for item in items if not hasattr(item, "replaced_by")])
        return super().to_representation(items)


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

    class Meta:
        list_serializer_class = MemoryListSerializer

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


class HistorySerializer(serializers.Serializer):
    id = serializers.UUIDField()
    memory_id = serializers.UUIDField()
    old_memory = serializers.CharField(allow_null=True)
    new_memory = serializers.CharField(allow_null=True)
    event = serializers.CharField()
    old_metadata = serializers.JSONField(allow_null=True)
    new_metadata = serializers.JSONField(allow_null=True)
    user_id = serializers.CharField(allow_null=True)
    agent_id = serializers.CharField(allow_null=True)
    app_id = serializers.CharField(allow_null=True)
    run_id = serializers.CharField(allow_null=True)
    session_id = serializers.CharField(source="run_id", allow_null=True)
    actor_id = serializers.CharField(allow_null=True)
    role = serializers.CharField(allow_null=True)
    is_deleted = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    trace = serializers.UUIDField(
        source="trace_id",
        allow_null=True,
        help_text="Our extension: the add decision that made this change (in `GET /v1/event/{id}/` `traces`); "
        "null for edits, deletes and rows older than traces.",
    )


class SourceSerializer(serializers.Serializer):
    """A message an add received, as said (our extension)."""

    id = serializers.UUIDField()
    role = serializers.CharField()
    name = serializers.CharField(allow_null=True, help_text="Who said it (the message's `name`).")
    content = serializers.CharField()
    observed_at = serializers.DateTimeField(help_text="When it was said (the add's `timestamp`, else its time).")


class ListedSourceSerializer(SourceSerializer):
    user_id = serializers.CharField(allow_null=True)
    agent_id = serializers.CharField(allow_null=True)
    app_id = serializers.CharField(allow_null=True)
    run_id = serializers.CharField(allow_null=True)
    metadata = serializers.JSONField(help_text="The add's metadata.")
    event_id = serializers.UUIDField(source="add_event_id", allow_null=True, help_text="The add that received it.")
    memory_ids = serializers.ListField(child=serializers.UUIDField(), help_text="The memories that came from it.")
    created_at = serializers.DateTimeField()


class ScoredSourceSerializer(ListedSourceSerializer):
    score = serializers.FloatField()


class TraceSerializer(serializers.Serializer):
    """What an add decided about one fact, and why (our extension)."""

    id = serializers.UUIDField()
    position = serializers.IntegerField(help_text="The fact's order in the add.")
    fact = serializers.CharField(help_text="The fact as extracted (or the message, verbatim).")
    extractor = serializers.CharField(help_text='"rules:<kind>", "llm:<model>" or "verbatim".')
    source_ids = serializers.ListField(child=serializers.UUIDField(), help_text="The messages it came from.")
    candidates = serializers.JSONField(help_text="`[{id, text, score}]`: the current memories it was compared with.")
    decision = serializers.ChoiceField(choices=["ADD", "UPDATE", "SUPERSEDE", "NONE"])
    target_id = serializers.UUIDField(allow_null=True, help_text="The candidate updated, superseded or repeated.")
    reason = serializers.JSONField(
        help_text="`{rule, detail, slot?, similarity?}`; `decided` and `override` when the pipeline applied "
        "another event than the one decided."
    )
    memory_id = serializers.UUIDField(allow_null=True, help_text="The memory written, or found holding the fact.")
    created_at = serializers.DateTimeField()
    review_state = serializers.ChoiceField(
        choices=["none", "pending", "accepted", "rejected"],
        help_text="The review queue: `pending` (an inferred change nobody reviewed yet), `accepted`, `rejected` "
        "(undone), or `none` (stored verbatim, or nothing changed).",
    )
    pending = serializers.BooleanField(
        source="is_held", help_text="Held by the project's `review_mode`: it takes effect when accepted."
    )


class AddEventSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    memory = serializers.CharField()
    event = serializers.ChoiceField(choices=["ADD", "UPDATE", "SUPERSEDE"])
    previous_memory = serializers.CharField(
        required=False, help_text="UPDATE and SUPERSEDE: the text the fact had before."
    )
    supersedes = serializers.UUIDField(
        required=False, help_text="SUPERSEDE: the memory this one replaced (closed, still stored, `valid_to` set)."
    )
    pending = serializers.BooleanField(
        required=False,
        help_text="`true`: the project's `review_mode` held this UPDATE or SUPERSEDE for review; nothing changed "
        "yet. `id` is the memory it would change (still current, `previous_memory` its text), `memory` the "
        "proposed text.",
    )
    review_id = serializers.UUIDField(required=False, help_text="With `pending`: the change in the review queue.")


def memory_data(memory) -> dict:
    return memories_data([memory])[0]


def memories_data(memories, *, scored: bool = False) -> list[dict]:
    """The memory shape of each of ``memories`` (their successors marked in one query first)."""
    items = list(memories.all() if hasattr(memories, "all") else memories)
    memories_mark_successors([item for item in items if not hasattr(item, "replaced_by")])
    shape = _shape(ScoredMemorySerializer if scored else MemorySerializer)
    return [shape.to_representation(item) for item in items]


# Instantiating a serializer deep-copies its declared fields (some 0.2 ms for the memory shape), and
# a shape reads nothing from its instance but its fields: each thread keeps one per class.
_shapes = threading.local()


def _shape(serializer: type[serializers.Serializer]) -> serializers.Serializer:
    kept = _shapes.__dict__.setdefault("by_class", {})
    if serializer not in kept:
        kept[serializer] = serializer()
    return kept[serializer]


def search_results(memories: list, *, explain: bool) -> list[dict]:
    """The scored memory shape; with ``explain``, each result's ``score_breakdown`` too."""
    items = memories_data(memories, scored=True)
    for item, memory in zip(items, memories, strict=True):
        if explain:
            item["score_breakdown"] = memory.score_breakdown
        if getattr(memory, "memory_type", None) == "source":
            # A message that gave no fact, found by ``include_sources``: our extension field.
            item["memory_type"] = "source"
    return items
