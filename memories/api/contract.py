"""The request contract of the memory routes: DRF serializers that both read a request and document it
(drf-spectacular builds the OpenAPI request bodies and query parameters from them).

They are lenient where Mem0 is lenient: ``"true"``/``"1"`` are flags, ``5`` and ``"5"`` are one id,
``null`` is "not given", and fields a route does not know are refused (our routes) or ignored and
named in ``X-Mem0g-Ignored-Fields`` (Mem0's dialects: ``mem0g_site.unknown_fields``). A bad value is
refused with our own error (``ValidationFailed``, 422, naming the field; ``InvalidRequest``, 400)
before any work is done, in the order the fields are declared.

The dialects share the pieces: one scope-ids mixin, one ``filters`` field, one ``top_k``, one set
of search options.
"""

from typing import Any

from mem0g_site.api_kit.contract import Contract, Flag, Ignored, JsonObject, Moment, Number, Raw, Text, WholeNumber
from mem0g_site.exceptions import ValidationFailed
from memories.api.fields import (
    BatchItems,
    EntityId,
    Expiration,
    ExportSchema,
    FeedbackKind,
    FieldNames,
    FilterObject,
    Filters,
    HalfLife,
    MemoryType,
    MessageList,
    Messages,
    Query,
    QueryFilters,
    QueryObject,
    RequiredText,
    Tags,
)
from memories.search import TOP_K_MAX
from memories.selectors import PAGE_SIZE_MAX


class ScopeIds(Contract):
    """The top-level entity ids of the Mem0 requests (``session_id`` is ``run_id``)."""

    user_id = EntityId(help_text="The user the memories are about.")
    agent_id = EntityId(help_text="The agent the memories belong to.")
    app_id = EntityId(help_text="The application.")
    run_id = EntityId(help_text="The run (conversation, session).")
    session_id = EntityId(help_text="An alias of `run_id`.")


class OssScopeIds(Contract):
    user_id = EntityId(help_text="The user.")
    agent_id = EntityId(help_text="The agent.")
    run_id = EntityId(help_text="The run.")


SEARCH_HELP = {
    "keyword_search": "Fuse full-text keyword ranking with the semantic similarity (default true); false: "
    "semantic similarity alone.",
    "rerank": "Re-rank the candidates locally: memories containing the query's word pairs as asked (\"support "
    'group") move up. Deterministic, no model call.',
    "explain": "Add `score_breakdown` (`semantic`, `keyword`, `recency`) to each result.",
    "as_of": "Search the facts that held at this moment (ISO 8601 or Unix seconds).",
    "show_expired": "Include memories whose `expiration_date` has passed.",
    "include_superseded": "Include facts closed by a newer one (`valid_to` set). Default on the Mem0 Platform "
    "routes: true unless `latest_only` or a moment (`as_of`, `reference_date`, `known_at`) is given; elsewhere false.",
    "latest_only": "Mem0's flag: true shows current facts only. Without it the Mem0 Platform routes also show the "
    "facts a newer one superseded, marked `lifecycle_state: superseded` with `replaced_by` (as Mem0 does).",
    "include_merged": "Mem0's flag for merged duplicates; accepted, changes nothing: mem0g keeps no merged "
    "duplicates (a richer restatement updates the memory in place; its history keeps the earlier text).",
    "include_sources": "Also search the messages the memories came from: a message found brings in the current "
    'facts it gave (at its score); one that gave no fact comes as itself, marked `"memory_type": "source"`.',
}
MOMENTS = ("as_of", "reference_date", "known_at")


class ReadFlags(Contract):
    """Mem0's read flags, on lists and searches: whether superseded facts are shown."""

    latest_only = Flag(help_text=SEARCH_HELP["latest_only"])
    include_merged = Flag(help_text=SEARCH_HELP["include_merged"])
    include_superseded = Flag(default=None, skip_absent=True, help_text=SEARCH_HELP["include_superseded"])

    def validate(self, attrs):
        """``include_superseded``: said outright, else not with ``latest_only``, else (Platform
        routes, ``context["superseded_by_default"]``) unless the read asks for another moment."""
        attrs = super().validate(attrs)
        explicit = attrs.get("include_superseded")
        if explicit is not None:
            if explicit and attrs["latest_only"]:
                raise ValidationFailed("latest_only and include_superseded contradict each other", field="latest_only")
            return attrs
        given = self.initial_data
        other_moment = any(given.get(name) not in (None, "") for name in MOMENTS)
        by_default = self.context.get("superseded_by_default", False)
        attrs["include_superseded"] = not attrs["latest_only"] and by_default and not other_moment
        return attrs


class SearchOptions(ReadFlags):
    """The options every search route accepts (Platform v1/v2/v3 bodies, the memory layer's query
    string, OSS ``POST /search``, the MCP tool); :func:`search_kwargs` passes them on."""

    threshold = Number(
        min_value=0.0,
        max_value=1.0,
        default_from="default_threshold",
        help_text="Minimum semantic similarity (as Mem0 2.2.1 gates it). Default 0.1 (/v3, /v1), 0.3 (/v2), "
        "none (OSS).",
    )
    keyword_search = Flag(default=True, help_text=SEARCH_HELP["keyword_search"])
    rerank = Flag(help_text=SEARCH_HELP["rerank"])
    explain = Flag(help_text=SEARCH_HELP["explain"])
    decay_half_life_days = HalfLife()
    as_of = Moment(aliases=("reference_date",), alias_if_blank=True, help_text=SEARCH_HELP["as_of"])
    show_expired = Flag(help_text=SEARCH_HELP["show_expired"])
    include_sources = Flag(help_text=SEARCH_HELP["include_sources"])


def search_kwargs(values: dict[str, Any]) -> dict[str, Any]:
    """The search options as :func:`memories.selectors.memory_search`'s keyword arguments."""
    return {
        "threshold": values["threshold"],
        "keyword_search": values["keyword_search"],
        "rerank": values["rerank"],
        "explain": values["explain"],
        "decay_half_life_days": values["decay_half_life_days"],
        "as_of": values["as_of"],
        "include_expired": values["show_expired"],
        "include_superseded": values["include_superseded"],
        "include_sources": values["include_sources"],
    }


TOP_K_HELP = f"How many results, 1 to {TOP_K_MAX} (default 10)."


def top_k_field() -> WholeNumber:
    return WholeNumber(min_value=1, max_value=TOP_K_MAX, default=10, aliases=("limit",), help_text=TOP_K_HELP)


# --- search ------------------------------------------------------------------------------------


class SearchRequest(ScopeIds, SearchOptions):
    """``POST /v3/memories/search/``, ``/v2/memories/search/`` and ``/v1/memories/search/``."""

    query = Query(help_text="What to look for.")
    filters = Filters(help_text="On /v3 and /v2 it (or a top-level id) must name a user, agent, app or run.")
    top_k = top_k_field()
    limit = WholeNumber(min_value=1, max_value=TOP_K_MAX, skip_absent=True, help_text="An alias of `top_k`.")
    categories = Raw(help_text="A list (any of them) or a category filter.")
    metadata = Raw(help_text="Metadata the memories must contain (an object, checked by the filter grammar).")
    keywords = Raw(help_text="Text the memories must contain.")
    start_date = Raw(help_text="Created at or after (ISO 8601).")
    end_date = Raw(help_text="Created at or before (ISO 8601).")
    reference_date = Moment(skip_absent=True, help_text="An alias of `as_of`.")
    fields = FieldNames(help_text="Only these keys (and `id`) in each result.")
    output_format = Raw(help_text="`v1.0`: a bare list of results (other values: the usual object).")
    enable_graph = Flag(help_text="Also answer `relations`: entity relations the query names.")
    version = Ignored()
    filter_memories = Ignored()
    only_metadata_based_search = Ignored()


class SearchQuery(ScopeIds, SearchOptions):
    """``GET /v1/memories/search/``: the memory-layer search, in the query string."""

    query = Query(help_text="What to look for.")
    top_k = top_k_field()
    limit = WholeNumber(min_value=1, max_value=TOP_K_MAX, skip_absent=True, help_text="An alias of `top_k`.")


class OssSearchRequest(OssScopeIds, SearchOptions):
    """OSS ``POST /search``: ``filters`` in the full grammar, top-level ids merged in."""

    query = Query(help_text="What to look for.")
    filters = Filters(help_text='The full grammar, dotted keys such as `{"metadata.project_id": "p1"}` included.')
    top_k = top_k_field()
    limit = WholeNumber(min_value=1, max_value=TOP_K_MAX, skip_absent=True, help_text="An alias of `top_k`.")


# --- lists -------------------------------------------------------------------------------------

PAGE_SIZE_HELP = f"Memories per page, 1 to {PAGE_SIZE_MAX} (default `limit`, else 100)."


class ListRequest(ScopeIds, ReadFlags):
    """``POST /v3/memories/`` and ``POST /v2/memories/`` (the SDK's ``get_all``); the query string of
    ``GET /v1/memories/`` is read the same way."""

    filters = Filters(help_text="On /v3/memories/ it (or a top-level id) must name a user, agent, app or run.")
    page = WholeNumber(min_value=1, max_value=10**9, default=1, help_text="Page number, from 1.")
    page_size = WholeNumber(min_value=1, max_value=PAGE_SIZE_MAX, skip_absent=True, help_text=PAGE_SIZE_HELP)
    limit = WholeNumber(min_value=1, max_value=PAGE_SIZE_MAX, default=100, help_text="The default `page_size`.")
    start_date = Raw(help_text="Created at or after (ISO 8601).")
    end_date = Raw(help_text="Created at or before (ISO 8601).")
    categories = Raw(help_text="A list (any of them) or a category filter.")
    metadata = Raw(help_text="Metadata the memories must contain (an object, checked by the filter grammar).")
    keywords = Raw(help_text="Text the memories must contain.")
    show_expired = Flag(help_text="Include expired memories.")
    as_of = Moment(help_text="List the memories as they were at this moment.")
    known_at = Moment(help_text="List what was on record at this moment (record time).")
    fields = FieldNames(help_text="Only these keys (and `id`).")
    version = Ignored()
    output_format = Ignored()

    def validate(self, attrs):
        attrs = super().validate(attrs)
        attrs["page_size"] = attrs.get("page_size") or attrs["limit"]
        return attrs


class ListQuery(ListRequest):
    """``GET /v1/memories/``: :class:`ListRequest` read from the query string, where ``filters`` and
    ``metadata`` are a JSON object or the Python dict literal the SDK sends. A query string cannot
    carry a list, so ``fields`` is not read (nor the ignored body fields)."""

    filters = QueryFilters(help_text="The filter grammar, as a JSON object or Python dict literal.")
    metadata = QueryObject(help_text="Metadata the memories must contain; put metadata conditions in `filters`.")
    categories = Raw(help_text="A category the memories must have.")
    keywords = Raw(help_text="Text the memories must contain.")
    version = None
    output_format = None


# ``fields`` is also the serializer's own attribute, so it cannot be removed by ``fields = None`` above.
del ListQuery._declared_fields["fields"]


class OssListQuery(OssScopeIds):
    """OSS ``GET /memories``: a scope's memories, narrowed by the metadata the OSS server's adds carry."""

    top_k = WholeNumber(min_value=1, max_value=200, default=100, help_text="How many memories, 1 to 200 (default 100).")
    show_expired = Flag(help_text="Include expired memories.")
    project_id = Text(help_text="Only memories with this `metadata.project_id`.")
    memory_lifespan = Text(help_text="Only memories with this `metadata.memory_lifespan`.")
    memory_category = Text(help_text="Only memories with this `metadata.memory_category`.")
    domain_tags = Tags(
        help_text="Only memories whose `metadata.domain_tags` hold all of these (repeat the parameter or "
        "separate with commas)."
    )


# --- adds and edits ----------------------------------------------------------------------------


class AddRequest(ScopeIds):
    """``POST /v3/memories/add/`` and the Mem0 form of ``POST /v1/memories/``: messages in, memories out.
    At least one entity id is required (top level, or a plain id inside ``filters``)."""

    messages = Messages(help_text="The conversation to remember: a string, a message, or a list of them.")
    filters = Raw(help_text="Plain entity ids here complete the top-level ids.")
    metadata = JsonObject(help_text="Stored on every new memory.")
    infer = Flag(
        default=True,
        help_text="True: extract facts from the messages. False: store each non-system message verbatim.",
    )
    categories = Raw(help_text="Categories for the new memories (a list of strings).")
    immutable = Flag(help_text="The text of an immutable memory can never be changed (409).")
    expiration_date = Expiration()
    timestamp = Moment(help_text="When the conversation happened (the memories' `valid_from`).")
    observation_datetime = Moment(
        aliases=("observation_date",),
        alias_if_blank=True,
        error_name="observation_date",
        help_text="Used when `timestamp` is not given.",
    )
    observation_date = Raw(help_text="Used when neither `timestamp` nor `observation_datetime` is given.")
    includes = Raw(help_text="Only facts about this are extracted.")
    excludes = Raw(help_text="Facts about this are left out.")
    output_format = Raw(
        help_text="`/v1/memories/` only: the legacy shapes (`v1.0` a bare list, `v1.1` `{results}` of "
        "`{id, event, data: {memory}}`).",
    )
    content = Ignored(help_text="Ignored here (see the memory-layer form of `POST /v1/memories/`).")
    custom_categories = Ignored()
    custom_instructions = Text(
        help_text="With an LLM configured: instructions added to its extraction prompt (default: the project's)."
    )
    agent_custom_instructions = Ignored()
    structured_data_schema = Ignored()
    enable_graph = Flag(
        help_text="Also extract entity relations from the new memories and answer them as `relations` "
        "(also done for a `metadata.memory_category` listed in MEM0_USE_GRAPH_FOR_CATEGORIES)."
    )
    prompt_profile_id = Ignored()
    temporal_reasoning = Ignored()
    timezone = Ignored()
    async_mode = Flag(
        help_text="True (with `infer`): answer at once with a PENDING add event and add in the background; "
        "poll `GET /v1/event/{event_id}/`. With `infer: false` the add is synchronous anyway, as in Mem0."
    )
    version = Ignored()
    prompt = Text(help_text="With an LLM configured: replaces mem0g's fact-extraction instructions.")
    memory_type = MemoryType(
        help_text="`procedural_memory` (needs an `agent_id`): one memory summarising how the agent carried out "
        "the task, by the configured LLM or else in the conversation's own words; `infer` does not apply."
    )


class CreateMemoryRequest(ScopeIds):
    """The memory-layer form of ``POST /v1/memories/``: one memory, stored as given (no extraction).
    The fields of the Mem0 form are accepted (and ignored) too."""

    content = RequiredText(help_text="The memory's text, stored verbatim.")
    metadata = JsonObject()
    categories = Raw(help_text="Categories (a list of strings).")
    immutable = Flag()
    expiration_date = Expiration()
    enable_graph = Flag(help_text="Also extract entity relations from the memory.")


class UpdateRequest(Contract):
    """``PUT``/``PATCH /v1/memories/{memory_id}/``: every field is optional; what is given changes."""

    text = Raw(help_text="The new text.")
    content = Raw(help_text="The new text, if `text` is absent.")
    metadata = JsonObject(skip_absent=True, help_text="Replaces the metadata.")
    timestamp = Moment(
        skip_absent=True,
        help_text="When the fact started to hold (the memory's `valid_from`), ISO 8601 or Unix seconds.",
    )
    expiration_date = Expiration(skip_absent=True, help_text="`null` removes the expiration.")
    categories = Raw(help_text="The new categories (a list of strings).")


class OssUpdateRequest(Contract):
    text = Raw(help_text="The new text.")
    metadata = JsonObject(skip_absent=True, help_text="Replaces the metadata.")
    expiration_date = Expiration(skip_absent=True, help_text="`null` removes the expiration.")


# The memory-layer create shares ``POST /v1/memories/`` with the Mem0 add: what one accepts, the
# other does not refuse.
CreateMemoryRequest.also_accepted = frozenset(AddRequest().fields)


class OssAddRequest(OssScopeIds):
    """OSS ``POST /memories``: at least one of ``user_id``, ``agent_id``, ``run_id``."""

    enable_graph = Flag(help_text="Also answer `relations`.")
    messages = MessageList(help_text="A list of `{role, content}` messages.")
    metadata = JsonObject(
        help_text="May carry `project_id`, `memory_lifespan` (`short_term` expires after "
        "`MEM0_DEFAULT_SHORT_TERM_TTL_SECONDS`), `memory_category` and `domain_tags` (a list)."
    )
    infer = Flag(default=True, help_text="True: extract facts. False: store each non-system message verbatim.")
    expiration_date = Expiration()
    memory_type = MemoryType(
        help_text="`procedural_memory` (needs an `agent_id`): one memory summarising how the agent carried out "
        "the task, by the configured LLM or else in the conversation's own words; `infer` does not apply."
    )
    prompt = Text(help_text="With an LLM configured: replaces mem0g's fact-extraction instructions.")


# --- batches, feedback, exports ----------------------------------------------------------------


class BatchRequest(Contract):
    """``PUT`` and ``DELETE /v1/batch/``."""

    memories = BatchItems()


class FeedbackRequest(Contract):
    memory_id = RequiredText(help_text="The memory's id.")
    feedback = FeedbackKind()
    feedback_reason = Text(keep_blank=True, help_text="Why.")


class ExportRequest(Contract):
    schema = ExportSchema()
    filters = FilterObject()
    export_instructions = Ignored()
    cursor = Raw(help_text="The `next_cursor` of the previous export of the same filters: export the rows after it.")


class ExportGetRequest(Contract):
    memory_export_id = Raw(help_text="The export's id.")
    filters = FilterObject(help_text="Without an id: the latest export made with these filters.")


class SummaryRequest(Contract):
    filters = FilterObject()


# --- pages -------------------------------------------------------------------------------------


class PageQuery(Contract):
    """``?page=&page_size=`` of the paged Platform lists."""

    page = WholeNumber(min_value=1, max_value=10**9, default=1, help_text="Page number, from 1.")
    page_size = WholeNumber(
        min_value=1, max_value=PAGE_SIZE_MAX, default=100, help_text=f"Rows per page, 1 to {PAGE_SIZE_MAX}."
    )


class EventPageQuery(PageQuery):
    page_size = WholeNumber(
        min_value=1, max_value=PAGE_SIZE_MAX, default=50, help_text=f"Events per page, 1 to {PAGE_SIZE_MAX}."
    )


class LimitOffsetQuery(Contract):
    """``?limit=&offset=&show_expired=`` of one entity's memories."""

    limit = WholeNumber(min_value=1, max_value=PAGE_SIZE_MAX, default=50, help_text=f"1 to {PAGE_SIZE_MAX}.")
    offset = WholeNumber(min_value=0, max_value=10**9, default=0, help_text="A multiple of `limit`.")
    show_expired = Flag(help_text="Include expired memories.")

    def validate(self, attrs):
        attrs = super().validate(attrs)
        if attrs["offset"] % attrs["limit"]:
            raise ValidationFailed("offset must be a multiple of limit", field="offset")
        return attrs
