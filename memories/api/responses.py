"""The response shapes of the memory routes, as the views answer them (beside the memory shape of
``memories.shapes`` and the history, source and trace shapes of ``memories.api.serializers``);
``tests/test_schema_conformance.py`` checks the answers against them."""

from rest_framework import serializers

from mem0g_site.api_kit.responses import MessageResponse, narrowed
from mem0g_site.openapi import ObjectField
from memories.api.serializers import AddEventSerializer, HistorySerializer, SourceSerializer, TraceSerializer
from memories.shapes import MemorySerializer, ScoredMemorySerializer


class PingResponse(serializers.Serializer):
    status = serializers.CharField()
    message = serializers.CharField()
    org_id = serializers.CharField()
    project_id = serializers.CharField()
    org_name = serializers.CharField()
    project_name = serializers.CharField()
    user_email = serializers.CharField(help_text="A made-up address naming the key (the SDK wants one).")


class RelationChange(serializers.Serializer):
    source = serializers.CharField()
    relationship = serializers.CharField()
    target = serializers.CharField()


class AddRelations(serializers.Serializer):
    deleted_entities = serializers.ListField(
        child=RelationChange(many=True), help_text="Open triples a new value closed (one-item lists, as Mem0)."
    )
    added_entities = serializers.ListField(child=RelationChange(many=True), help_text="Triples added.")


class SearchRelation(serializers.Serializer):
    source = serializers.CharField()
    relationship = serializers.CharField()
    destination = serializers.CharField()


class AddResults(serializers.Serializer):
    results = AddEventSerializer(
        many=True, help_text="One event per fact added, updated or superseded (known facts are skipped)."
    )
    relations = AddRelations(
        required=False, help_text="Entity relations: with `enable_graph`, or a MEM0_USE_GRAPH_FOR_CATEGORIES category."
    )


class AddResultsV3(AddResults):
    event_id = serializers.UUIDField(help_text="The add event, readable at `GET /v1/event/{event_id}/`.")
    status = serializers.CharField(help_text="`SUCCEEDED`: the add is done (see `AddQueued` for `async_mode`).")


class AddQueued(serializers.Serializer):
    event_id = serializers.UUIDField(help_text="The add event, readable at `GET /v1/event/{event_id}/`.")
    status = serializers.CharField(help_text="`PENDING`: queued (`async_mode: true`).")


class LegacyAddQueued(serializers.Serializer):
    message = serializers.CharField()
    status = serializers.CharField(help_text="`PENDING`.")
    event_id = serializers.UUIDField(help_text="The add event, readable at `GET /v1/event/{event_id}/`.")


class LegacyAddQueuedResults(serializers.Serializer):
    results = LegacyAddQueued(many=True)


class LegacyMemoryText(serializers.Serializer):
    memory = serializers.CharField()
    previous_memory = serializers.CharField(required=False, help_text="UPDATE and SUPERSEDE: the text before.")


class LegacyAddEvent(serializers.Serializer):
    id = serializers.UUIDField()
    event = serializers.CharField()
    data = LegacyMemoryText()
    supersedes = serializers.UUIDField(required=False, help_text="SUPERSEDE: the memory this one replaced.")
    pending = serializers.BooleanField(required=False, help_text="Held for review (the project's `review_mode`).")


class LegacyAddResults(serializers.Serializer):
    results = LegacyAddEvent(many=True)
    relations = AddRelations(required=False, help_text="As in `AddResults`.")


PickedMemory = narrowed(MemorySerializer, "PickedMemory")


class PaginatedMemories(serializers.Serializer):
    count = serializers.IntegerField(help_text="Memories matching, over every page.")
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    page = serializers.IntegerField()
    page_size = serializers.IntegerField()
    results = PickedMemory(many=True, help_text="Newest first; only the `fields` asked for (and `id`), if any.")
    memories = PickedMemory(many=True, help_text="The same list as `results`.")


class ScoreBreakdown(serializers.Serializer):
    semantic = serializers.FloatField(help_text="Cosine similarity of the query and the memory, 0 to 1.")
    keyword = serializers.FloatField(
        help_text="Share of the query's keyword weight (rarer words weigh more) the memory contains, 0 to 1."
    )
    recency = serializers.FloatField(help_text="The decay factor applied (1 without `decay_half_life_days`).")
    rerank = serializers.FloatField(required=False, help_text="With `rerank`: share of the query's word pairs found.")


class SearchResult(ScoredMemorySerializer):
    score_breakdown = ScoreBreakdown(required=False, help_text="With `explain: true`.")


class SearchResults(serializers.Serializer):
    results = SearchResult(many=True, help_text="Best first.")
    memories = SearchResult(many=True, help_text="The same list as `results`.")
    relations = SearchRelation(many=True, required=False, help_text="With `enable_graph`: entity relations, at most 5.")


PickedSearchResult = narrowed(SearchResult, "PickedSearchResult")


class PickedSearchResults(serializers.Serializer):
    """A Platform search's answer: the results cut down to the request's ``fields``, if any."""

    results = PickedSearchResult(many=True, help_text="Best first; only the `fields` asked for (and `id`), if any.")
    memories = PickedSearchResult(many=True, help_text="The same list as `results`.")
    relations = SearchRelation(many=True, required=False, help_text="With `enable_graph`: entity relations, at most 5.")


class UserMemoriesPage(serializers.Serializer):
    count = serializers.IntegerField()
    limit = serializers.IntegerField()
    offset = serializers.IntegerField()
    results = MemorySerializer(many=True)
    memories = MemorySerializer(many=True, help_text="The same list as `results`.")


class MemoryDeletedResponse(MessageResponse):
    cascade_count = serializers.IntegerField(
        required=False, help_text="With `delete_linked`: how many older memories of its chain were deleted too."
    )


class DeletedResponse(MessageResponse):
    deleted = serializers.IntegerField(help_text="How many memories were deleted.")


class EntityRow(serializers.Serializer):
    id = serializers.CharField(help_text="The entity id itself.")
    name = serializers.CharField(help_text="The entity id itself.")
    type = serializers.ChoiceField(choices=["user", "agent", "app", "run"])
    total_memories = serializers.IntegerField()
    created_at = serializers.DateTimeField(help_text="Its first memory.")
    updated_at = serializers.DateTimeField(help_text="Its last change.")
    owner = serializers.CharField(allow_null=True, help_text="Always null.")
    metadata = ObjectField(help_text="As given to `POST /v1/users/` (...); else empty.")


class Entities(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True, help_text="The next page, or null.")
    previous = serializers.URLField(allow_null=True, help_text="The previous page, or null.")
    results = EntityRow(many=True)
    total_users = serializers.IntegerField()
    total_agents = serializers.IntegerField()
    total_apps = serializers.IntegerField()
    total_runs = serializers.IntegerField()


class FeedbackResponse(serializers.Serializer):
    id = serializers.UUIDField()
    memory_id = serializers.UUIDField()
    feedback = serializers.CharField(allow_null=True)
    feedback_reason = serializers.CharField(allow_null=True)


class ExportCreated(MessageResponse):
    id = serializers.UUIDField(help_text="Give it to `POST /v1/exports/get/` as `memory_export_id`.")
    count = serializers.IntegerField(help_text="Rows in this export (at most `EXPORT_MAX_ROWS`).")
    next_cursor = serializers.CharField(
        allow_null=True,
        help_text="Null: the export holds every matching memory. Otherwise more matched than one export holds: "
        "send the same request with `cursor` set to this to export the next rows.",
    )


class ExportResponse(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.CharField(help_text="Always `COMPLETED`: exports are made synchronously.")
    created_at = serializers.DateTimeField()
    schema = serializers.JSONField()
    filters = ObjectField()
    count = serializers.IntegerField(help_text="Rows in this export (at most `EXPORT_MAX_ROWS`).")
    next_cursor = serializers.CharField(
        allow_null=True, help_text="As in the answer that made the export: the `cursor` of the next one, or null."
    )
    results = serializers.ListField(child=ObjectField(), help_text="The memories, shaped by `schema`.")
    memories = serializers.ListField(child=ObjectField(), help_text="The same list as `results`.")


class RecentMemory(serializers.Serializer):
    id = serializers.UUIDField()
    memory = serializers.CharField()
    created_at = serializers.DateTimeField()


class SummaryResponse(serializers.Serializer):
    summary = serializers.CharField(help_text="A count line, then one line per recent memory.")
    total_memories = serializers.IntegerField()
    categories = serializers.DictField(child=serializers.IntegerField(), help_text="Memories per category.")
    recent = RecentMemory(many=True, help_text="The 10 newest memories.")


class OssMemories(serializers.Serializer):
    results = MemorySerializer(many=True)


class OssSearchResults(serializers.Serializer):
    results = SearchResult(many=True, help_text="Best first.")


class OssEntityRow(serializers.Serializer):
    id = serializers.CharField()
    type = serializers.ChoiceField(choices=["user", "agent", "app", "run"])
    total_memories = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


# --- per-user operations -------------------------------------------------------------------


class UserStats(serializers.Serializer):
    user_id = serializers.CharField()
    total_memories = serializers.IntegerField(help_text="Every memory, in any state.")
    current_memories = serializers.IntegerField(help_text="Neither superseded nor invalidated.")
    superseded_memories = serializers.IntegerField()
    expired_memories = serializers.IntegerField()
    by_agent = serializers.DictField(child=serializers.IntegerField(), help_text='`"none"`: without an agent.')
    by_run = serializers.DictField(child=serializers.IntegerField(), help_text='`"none"`: without a run.')
    by_category = serializers.DictField(child=serializers.IntegerField())
    first_activity = serializers.DateTimeField()
    last_activity = serializers.DateTimeField()
    storage_bytes = serializers.IntegerField()


# --- more Platform paths (memories.api.events) ---------------------------------------------


class AddEventRecord(serializers.Serializer):
    id = serializers.UUIDField()
    event_id = serializers.UUIDField(help_text="The same as `id`.")
    status = serializers.ChoiceField(choices=["PENDING", "RUNNING", "SUCCEEDED", "FAILED"])
    results = AddEventSerializer(many=True, help_text="What the add did.")
    payload = ObjectField(help_text="The add request's body.")
    error = serializers.CharField(allow_null=True)
    latency = serializers.FloatField(allow_null=True, help_text="Milliseconds.")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    traces = TraceSerializer(
        many=True,
        required=False,
        help_text="Our extension, in `GET /v1/event/{id}/` only: what was decided about each fact, and why.",
    )


class MemoryWithSources(MemorySerializer):
    sources = SourceSerializer(many=True, help_text="Our extension: the messages the memory came from.")


class AddEventsPage(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = AddEventRecord(many=True, help_text="Newest first.")


class HistoryPage(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = HistorySerializer(many=True, help_text="Newest first.")


class ProjectStats(serializers.Serializer):
    total_memories = serializers.IntegerField(help_text="In any state.")
    current_memories = serializers.IntegerField(help_text="Neither superseded nor invalidated.")
    total_users = serializers.IntegerField()
    total_agents = serializers.IntegerField()
    total_apps = serializers.IntegerField()
    total_runs = serializers.IntegerField()
    total_add_events = serializers.IntegerField()


class Entity(serializers.Serializer):
    id = serializers.CharField(help_text="The entity id itself.")
    name = serializers.CharField(help_text="The entity id itself.")
    type = serializers.ChoiceField(choices=["user", "agent", "app", "run"])
    total_memories = serializers.IntegerField()
    created_at = serializers.DateTimeField(help_text="Its first memory.")
    updated_at = serializers.DateTimeField(help_text="Its last change.")


class EntityFilters(serializers.Serializer):
    users = serializers.ListField(child=serializers.CharField())
    agents = serializers.ListField(child=serializers.CharField())
    apps = serializers.ListField(child=serializers.CharField())
    runs = serializers.ListField(child=serializers.CharField())
