"""The history row shape (Mem0's, §C.5 of the contract), sources, traces and add events; the memory
shape itself is ``memories.shapes``'."""

from rest_framework import serializers

from memories.shapes import memories_data


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
