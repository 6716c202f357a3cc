"""OpenAPI documentation of the API (drf-spectacular): request and response shapes, examples, the
error body, the API-key security schemes and the hooks that give every route one documented path.

Nothing here is used to parse or answer a request: the views validate by hand (``memories.api.common``)
and these serializers only describe what they accept and return.
"""

import re
from collections import defaultdict

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension, OpenApiViewExtension
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import serializers

from mem0g_site.errors import REASONS
from memories.api.serializers import (
    AddEventSerializer,
    HistorySerializer,
    MemorySerializer,
    ScoredMemorySerializer,
    SourceSerializer,
    TraceSerializer,
)

# --- tags ----------------------------------------------------------------------------------

# The dialects, as tags (described in SPECTACULAR_SETTINGS["TAGS"]).
PLATFORM = "Mem0 Platform"
OSS = "Mem0 OSS server"
MEMORY_LAYER = "Memory layer"
OPERATIONS = "Operations"

# --- examples ------------------------------------------------------------------------------

MEMORY_ID = "9b2f6f3e-4c1a-4b7e-9a52-0f3c2d1e8a77"
EVENT_ID = "5d0c1b8e-2f4a-4e3b-8c6d-7a9e0f1b2c3d"
OTHER_MEMORY_ID = "3c0d7a51-2b8e-4f6a-8d19-6e5b4a3c2d10"
REQUEST_ID = "0b6f7c0e-8f43-4a55-9a0c-3f1d2f0b2c11"
CREATED = "2026-01-05T10:00:00.000000Z"
UPDATED = "2026-01-06T08:30:00.000000Z"

MEMORY = {
    "id": MEMORY_ID,
    "memory": "Prefers Python for scripting",
    "content": "Prefers Python for scripting",
    "hash": "5f0c6f1f0e4d5d2b9f6a2c7e8b1d3a4c",
    "user_id": "alice",
    "agent_id": None,
    "app_id": None,
    "run_id": None,
    "session_id": None,
    "metadata": {"category": "language_preference"},
    "categories": ["preferences"],
    "created_at": CREATED,
    "updated_at": CREATED,
    "valid_from": CREATED,
    "valid_to": None,
    "expiration_date": None,
    "immutable": False,
    "memory_type": None,
    "lifecycle_state": "active",
    "replaced_by": None,
}
SCORED_MEMORY = {**MEMORY, "score": 0.83}
ADD_EVENT = {"id": MEMORY_ID, "memory": "Prefers Python for scripting", "event": "ADD"}
MESSAGES = [
    {"role": "user", "content": "Hi, I'm Alice. I prefer Python for scripting."},
    {"role": "assistant", "content": "Noted, Alice!"},
]
HISTORY_ROW = {
    "id": "e1a2b3c4-d5e6-4f70-8192-a3b4c5d6e7f8",
    "memory_id": MEMORY_ID,
    "old_memory": None,
    "new_memory": "Prefers Python for scripting",
    "event": "ADD",
    "old_metadata": None,
    "new_metadata": {"category": "language_preference"},
    "user_id": "alice",
    "agent_id": None,
    "app_id": None,
    "run_id": None,
    "session_id": None,
    "actor_id": None,
    "role": "user",
    "is_deleted": False,
    "created_at": CREATED,
    "updated_at": CREATED,
    "trace": "91c2d3e4-f5a6-4b7c-8d9e-0f1a2b3c4d5e",
}


def example(name: str, value, *, summary: str = "", request: bool = False, status: int | None = None):
    """An example for the request body (``request=True``) or for a response (200/201, or ``status``)."""
    return OpenApiExample(
        name,
        value=value,
        summary=summary,
        request_only=request,
        response_only=not request,
        status_codes=[status] if status and not request else None,
    )


# --- field types the hand-written parsers accept -------------------------------------------

CONTENT_PART_SCHEMA = {
    "type": "object",
    "description": "`{type: text, text}`, or an image or document by URL: `{type: image_url, image_url: {url}}` "
    "(also `input_image`), `pdf_url`, `mdx_url`, `txt_url` (`{type: pdf_url, pdf_url: {url}}`) or `input_file` "
    "(`file_url`). The URL must be http(s); it is stored as a reference, with the part's `caption`/`alt`/"
    "`alt_text`/`title` or else the message's text as its caption, and never fetched.",
    "properties": {
        "type": {"type": "string", "example": "image_url"},
        "text": {"type": "string"},
        "image_url": {
            "type": "object",
            "properties": {"url": {"type": "string", "format": "uri"}},
            "example": {"url": "https://example.com/pizza.jpg"},
        },
        "caption": {"type": "string"},
    },
    "required": ["type"],
}
MESSAGE_SCHEMA = {
    "type": "object",
    "properties": {
        "role": {"type": "string", "example": "user", "description": "`user`, `assistant`, `system`, ..."},
        "content": {
            "oneOf": [
                {"type": "string"},
                CONTENT_PART_SCHEMA,
                {
                    "type": "array",
                    "description": "OpenAI-style parts: text parts are joined with newlines; image and document "
                    "parts are stored as references (URL and caption, never fetched); other parts are skipped.",
                    "items": CONTENT_PART_SCHEMA,
                },
            ]
        },
        "name": {"type": "string", "nullable": True, "description": "Stored as the memory's `actor_id`."},
    },
    "required": ["role", "content"],
}


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "description": "One user message."},
            MESSAGE_SCHEMA,
            {"type": "array", "items": {"oneOf": [{"type": "string"}, MESSAGE_SCHEMA]}},
        ]
    }
)
class MessagesField(serializers.JSONField):
    """A string, one message object, or a list mixing both."""


@extend_schema_field(MESSAGE_SCHEMA)
class MessageField(serializers.JSONField):
    pass


@extend_schema_field(
    {
        "type": "object",
        "additionalProperties": True,
        "description": "Mem0's filter grammar: sibling keys are ANDed; `AND`/`OR` take a list of objects, `NOT` an "
        "object or a list. Fields: `user_id`, `agent_id`, `app_id`, `run_id` (`session_id`), `created_at`/"
        "`updated_at`/`timestamp`, `categories`, `metadata`, `memory_ids`, `keywords`, `text`. Operators, by "
        "field: `eq`, `ne`, `in`, `nin`, `gt`, `gte`, `lt`, `lte`, `contains`, `icontains`. The Platform paths "
        "refuse the OSS-only parts: `nin`, `eq` on times, `actor_id` and `metadata.<path>` keys. "
        '`"*"` means "any value set".',
        "example": {"AND": [{"user_id": "alice"}, {"categories": {"in": ["preferences"]}}]},
    }
)
class FiltersField(serializers.JSONField):
    pass


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "format": "date-time", "description": "ISO 8601 date or time (naive = UTC)."},
            {"type": "number", "description": "Unix seconds."},
        ],
        "nullable": True,
    }
)
class MomentField(serializers.JSONField):
    pass


@extend_schema_field(
    {
        "type": "string",
        "nullable": True,
        "description": "A date (`YYYY-MM-DD`: the memory expires when that day ends, UTC), an ISO 8601 time, or "
        "Unix seconds. Expired memories are left out of lists and searches unless `show_expired`.",
        "example": "2026-12-31",
    }
)
class ExpirationField(serializers.JSONField):
    pass


@extend_schema_field({"description": "Accepted for compatibility with the Mem0 clients; ignored."})
class IgnoredField(serializers.JSONField):
    pass


@extend_schema_field({"type": "object", "additionalProperties": True, "example": {"source": "chat"}})
class ObjectField(serializers.JSONField):
    pass


def ignored(**kwargs):
    return IgnoredField(required=False, allow_null=True, **kwargs)


def optional_text(help_text: str = "", **kwargs):
    return serializers.CharField(required=False, allow_null=True, help_text=help_text, **kwargs)


class EntityIds(serializers.Serializer):
    """The top-level entity ids of the Mem0 requests."""

    user_id = optional_text("The user the memories are about.")
    agent_id = optional_text("The agent the memories belong to.")
    app_id = optional_text("The application.")
    run_id = optional_text("The run (conversation, session).")
    session_id = optional_text("An alias of `run_id`.")


# --- the error body ------------------------------------------------------------------------


class ErrorDetail(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    details = serializers.JSONField(allow_null=True, help_text='What went wrong where, e.g. `{"field": "top_k"}`.')
    request_id = serializers.CharField(allow_null=True)


class ErrorResponse(serializers.Serializer):
    """Every error, from every endpoint (``mem0g_site.errors.error_response``)."""

    detail = serializers.CharField(help_text="What the Mem0 SDK shows in its exceptions.")
    code = serializers.CharField(help_text="For programs: `MEMORY_NOT_FOUND`, `VALIDATION_ERROR`, ...")
    request_id = serializers.CharField(allow_null=True, help_text="Also in the `X-Request-ID` response header.")
    success = serializers.BooleanField(help_text="Always false.")
    error = ErrorDetail()
    timestamp = serializers.DateTimeField()


ERRORS = {
    400: ("INVALID_REQUEST", "Unknown query parameter(s): pagesize", {"unknown": ["pagesize"]}),
    401: ("UNAUTHORIZED", "Authentication credentials were not provided.", None),
    403: ("FORBIDDEN", "This API key lacks the 'write' scope", None),
    404: ("MEMORY_NOT_FOUND", "Memory not found", {"memory_id": MEMORY_ID}),
    409: ("CONFLICT", "This memory is immutable; its text cannot be changed", {"memory_id": MEMORY_ID}),
    422: ("VALIDATION_ERROR", "top_k must be a whole number from 1 to 1000", {"field": "top_k"}),
    429: ("RATE_LIMIT_EXCEEDED", "Rate limit exceeded; retry in 12 s", None),
    503: ("SERVICE_UNAVAILABLE", "The service is unavailable; try again shortly", None),
}
ERROR_WHEN = {
    400: "Malformed JSON, a body that is not an object, unknown body or query parameters, or a malformed `filters`.",
    401: "Missing, unknown or revoked API key.",
    403: "The key lacks the scope this call needs.",
    404: "Not found, or outside the key's reach (another project, or another user for a user-restricted key): "
    "`MEMORY_NOT_FOUND`, `USER_NOT_FOUND`, `RELATIONSHIP_NOT_FOUND` or `NOT_FOUND`.",
    409: "The change conflicts with the memory's state (e.g. changing the text of an immutable memory).",
    422: "A well-formed request with invalid values; `error.details.field` names the field. Nothing was written.",
    429: "Past the key's rate limit; see `Retry-After`.",
    503: "The database is unreachable (`SERVICE_UNAVAILABLE`), or, for an add with `infer` and an LLM configured, "
    "the LLM did not answer after its retries or refused the call (`LLM_UNAVAILABLE`). Nothing was written.",
}
COMMON_ERRORS = (400, 401, 403, 429)


def error_body(status: int, code: str | None = None, message: str | None = None, details=None) -> dict:
    default_code, default_message, default_details = ERRORS.get(
        status, (*REASONS.get(status, ("ERROR", "Error")), None)
    )
    code, message = code or default_code, message or default_message
    details = default_details if details is None else details
    return {
        "detail": message,
        "code": code,
        "request_id": REQUEST_ID,
        "success": False,
        "error": {"code": code, "message": message, "details": details, "request_id": REQUEST_ID},
        "timestamp": "2026-01-06T08:30:00.123456+00:00",
    }


def errors(*statuses: int, media_type: str | None = None, **overrides) -> dict:
    """Error responses: 400, 401, 403 and 429 (every endpoint) and ``statuses``. ``overrides`` maps
    ``e404`` (etc.) to ``(code, message, details)`` for a more telling example."""
    responses = {}
    for status in sorted({*COMMON_ERRORS, *statuses}):
        code, message, details = overrides.get(f"e{status}", (None, None, None))
        key = (status, media_type) if media_type else status
        responses[key] = OpenApiResponse(
            ErrorResponse,
            description=ERROR_WHEN.get(status, REASONS.get(status, ("", ""))[1]),
            examples=[OpenApiExample(f"{status}", value=error_body(status, code, message, details))],
        )
    return responses


USER_NOT_FOUND = ("USER_NOT_FOUND", "User not found", {"user_id": "bob"})
LLM_UNAVAILABLE = ("LLM_UNAVAILABLE", "The LLM is unavailable: no answer within 30 s", {"attempts": 2})

# --- parameters ----------------------------------------------------------------------------


def path_param(name: str, description: str, example: str, enum=None):
    return OpenApiParameter(
        name,
        str,
        OpenApiParameter.PATH,
        description=description,
        enum=enum,
        examples=[OpenApiExample(name, value=example)],
    )


def query(name: str, type_=str, description: str = "", required: bool = False, **kwargs):
    return OpenApiParameter(name, type_, OpenApiParameter.QUERY, required=required, description=description, **kwargs)


MEMORY_ID_PARAM = path_param("memory_id", "The memory's id (a UUID; anything else is a 404).", MEMORY_ID)
USER_ID_PARAM = path_param("user_id", "The user id.", "alice")
ENTITY_TYPE_PARAM = path_param(
    "entity_type",
    "`user`, `agent`, `app` or `run` (anything else is a 400).",
    "user",
    enum=["user", "agent", "app", "run"],
)
ENTITY_QUERY = [
    query("user_id", description="Only this user's memories."),
    query("agent_id", description="Only this agent's memories."),
    query("app_id", description="Only this application's memories."),
    query("run_id", description="Only this run's memories."),
    query("session_id", description="An alias of `run_id`."),
]


SEARCH_HELP = {
    "keyword_search": "Fuse full-text keyword ranking with the semantic similarity (default true); false: "
    "semantic similarity alone.",
    "rerank": "Re-rank the candidates locally: memories containing the query's word pairs as asked (\"support "
    'group") move up. Deterministic, no model call.',
    "explain": "Add `score_breakdown` (`semantic`, `keyword`, `recency`) to each result.",
    "decay_half_life_days": "Recency decay: each score is multiplied by 0.5 per this many days of the memory's age "
    "(since `valid_from`). Off by default.",
    "as_of": "Search the facts that held at this moment (ISO 8601 or Unix seconds).",
    "show_expired": "Include memories whose `expiration_date` has passed.",
    "include_superseded": "Include facts closed by a newer one (`valid_to` set). Default on the Mem0 Platform "
    "routes: true unless `latest_only` or a moment (`as_of`, `reference_date`, `known_at`) is given; elsewhere false.",
    "latest_only": "Mem0's flag: true shows current facts only. Without it the Mem0 Platform routes also show the "
    "facts a newer one superseded, marked `lifecycle_state: superseded` with `replaced_by` (as Mem0 does).",
    "include_merged": "Mem0's flag for merged duplicates; accepted, changes nothing: mem0g keeps none (a richer "
    "restatement updates the memory in place; its history keeps the earlier text).",
    "include_sources": "Also search the messages the memories came from: a message found brings in the current "
    'facts it gave (at its score); one that gave no fact comes as itself, marked `"memory_type": "source"`.',
}
READ_FLAG_PARAMS = [
    query("latest_only", bool, SEARCH_HELP["latest_only"]),
    query("include_merged", bool, SEARCH_HELP["include_merged"]),
    query("include_superseded", bool, SEARCH_HELP["include_superseded"]),
]


def search_option_params(*, default_threshold: float | None):
    """The query-string form of the search options (``memories.api.searching``)."""
    threshold = f"Minimum semantic similarity, 0 to 1 (default {default_threshold})."
    return [
        query("threshold", float, threshold),
        query("keyword_search", bool, SEARCH_HELP["keyword_search"]),
        query("rerank", bool, SEARCH_HELP["rerank"]),
        query("explain", bool, SEARCH_HELP["explain"]),
        query("decay_half_life_days", float, SEARCH_HELP["decay_half_life_days"]),
        query("as_of", description=SEARCH_HELP["as_of"]),
        query("show_expired", bool, SEARCH_HELP["show_expired"]),
        *READ_FLAG_PARAMS,
        query("include_sources", bool, SEARCH_HELP["include_sources"]),
    ]


class SearchOptions(serializers.Serializer):
    """The body form of the search options, shared by the search request bodies."""

    keyword_search = serializers.BooleanField(required=False, default=True, help_text=SEARCH_HELP["keyword_search"])
    rerank = serializers.BooleanField(required=False, default=False, help_text=SEARCH_HELP["rerank"])
    explain = serializers.BooleanField(required=False, default=False, help_text=SEARCH_HELP["explain"])
    decay_half_life_days = serializers.FloatField(
        required=False, allow_null=True, min_value=0.0, help_text=SEARCH_HELP["decay_half_life_days"]
    )
    as_of = MomentField(required=False, help_text=SEARCH_HELP["as_of"])
    show_expired = serializers.BooleanField(required=False, default=False, help_text=SEARCH_HELP["show_expired"])
    include_superseded = serializers.BooleanField(required=False, help_text=SEARCH_HELP["include_superseded"])
    latest_only = serializers.BooleanField(required=False, default=False, help_text=SEARCH_HELP["latest_only"])
    include_merged = serializers.BooleanField(required=False, default=False, help_text=SEARCH_HELP["include_merged"])
    include_sources = serializers.BooleanField(required=False, default=False, help_text=SEARCH_HELP["include_sources"])


PAGE_QUERY = [
    query("page", int, "Page number, from 1 (overrides the body's `page`)."),
    query("page_size", int, "Memories per page, 1 to 200 (overrides the body's `page_size`)."),
]

# --- Mem0 Platform requests ----------------------------------------------------------------


class AddRequest(EntityIds):
    """``POST /v3/memories/add/`` and the Mem0 form of ``POST /v1/memories/``: messages in, memories out.
    At least one entity id is required (top level, or a plain id inside ``filters``)."""

    messages = MessagesField(help_text="The conversation to remember: a string, a message, or a list of them.")
    filters = FiltersField(required=False, help_text="Plain entity ids here complete the top-level ids.")
    metadata = ObjectField(required=False, allow_null=True, help_text="Stored on every new memory.")
    infer = serializers.BooleanField(
        required=False,
        default=True,
        help_text="True: extract facts from the messages. False: store each non-system message verbatim.",
    )
    categories = serializers.ListField(child=serializers.CharField(), required=False, allow_null=True)
    immutable = serializers.BooleanField(
        required=False, default=False, help_text="The text of an immutable memory can never be changed (409)."
    )
    expiration_date = ExpirationField(required=False)
    timestamp = MomentField(required=False, help_text="When the conversation happened (the memories' `valid_from`).")
    observation_datetime = MomentField(required=False, help_text="Used when `timestamp` is not given.")
    observation_date = MomentField(required=False, help_text="Used when neither of the above is given.")
    includes = optional_text("Only facts about this are extracted.")
    excludes = optional_text("Facts about this are left out.")
    output_format = serializers.ChoiceField(
        choices=["v1.0", "v1.1"],
        required=False,
        allow_null=True,
        help_text="`/v1/memories/` only: the legacy shapes (`v1.0` a bare list, `v1.1` `{results}` of "
        "`{id, event, data: {memory}}`).",
    )
    content = ignored(help_text="Ignored here (see the memory-layer form of `POST /v1/memories/`).")
    custom_categories = ignored()
    custom_instructions = optional_text(
        "With an LLM configured: instructions added to its extraction prompt (default: the project's)."
    )
    agent_custom_instructions = ignored()
    structured_data_schema = ignored()
    enable_graph = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Also extract entity relations from the new memories and answer them as `relations` "
        "(also done for a `metadata.memory_category` listed in MEM0_USE_GRAPH_FOR_CATEGORIES).",
    )
    prompt_profile_id = ignored()
    temporal_reasoning = ignored()
    timezone = ignored()
    async_mode = serializers.BooleanField(
        required=False,
        default=False,
        help_text="True (with `infer`): answer at once with a PENDING add event and add in the background; "
        "poll `GET /v1/event/{event_id}/`. With `infer: false` the add is synchronous anyway, as in Mem0.",
    )
    version = ignored()
    prompt = optional_text("With an LLM configured: replaces mem0g's fact-extraction instructions.")
    memory_type = serializers.ChoiceField(
        choices=["procedural_memory"],
        required=False,
        allow_null=True,
        help_text="`procedural_memory` (needs an `agent_id`): one memory summarising how the agent carried out "
        "the task, by the configured LLM or else in the conversation's own words; `infer` does not apply.",
    )


class CreateMemoryRequest(EntityIds):
    """The memory-layer form of ``POST /v1/memories/``: one memory, stored as given (no extraction)."""

    content = serializers.CharField(help_text="The memory's text, stored verbatim.")
    metadata = ObjectField(required=False, allow_null=True)
    categories = serializers.ListField(child=serializers.CharField(), required=False, allow_null=True)
    immutable = serializers.BooleanField(required=False, default=False)
    expiration_date = ExpirationField(required=False)


class ListRequest(EntityIds):
    """``POST /v3/memories/`` and ``POST /v2/memories/`` (the SDK's ``get_all``)."""

    filters = FiltersField(
        required=False, help_text="On /v3/memories/ it (or a top-level id) must name a user, agent, app or run."
    )
    page = serializers.IntegerField(required=False, min_value=1, default=1)
    page_size = serializers.IntegerField(
        required=False, min_value=1, max_value=200, help_text="Defaults to `limit`, else 100."
    )
    limit = serializers.IntegerField(required=False, min_value=1, max_value=200, help_text="Default `page_size`.")
    start_date = serializers.CharField(required=False, allow_null=True, help_text="Created at or after (ISO 8601).")
    end_date = serializers.CharField(required=False, allow_null=True, help_text="Created at or before (ISO 8601).")
    categories = serializers.JSONField(
        required=False, allow_null=True, help_text="A list (any of them) or a category filter."
    )
    metadata = ObjectField(required=False, allow_null=True, help_text="Metadata the memories must contain.")
    keywords = serializers.CharField(required=False, allow_null=True, help_text="Text the memories must contain.")
    show_expired = serializers.BooleanField(required=False, default=False)
    as_of = MomentField(required=False, help_text="List the memories as they were at this moment.")
    known_at = MomentField(required=False, help_text="List what was on record at this moment (record time).")
    fields = serializers.ListField(
        child=serializers.CharField(), required=False, allow_null=True, help_text="Only these keys (and `id`)."
    )
    latest_only = serializers.BooleanField(required=False, default=False, help_text=SEARCH_HELP["latest_only"])
    include_merged = serializers.BooleanField(required=False, default=False, help_text=SEARCH_HELP["include_merged"])
    include_superseded = serializers.BooleanField(required=False, help_text=SEARCH_HELP["include_superseded"])
    version = ignored()
    output_format = ignored()


class SearchRequest(EntityIds, SearchOptions):
    """``POST /v3/memories/search/``, ``/v2/memories/search/`` and ``/v1/memories/search/``."""

    query = serializers.CharField(help_text="What to look for.")
    filters = FiltersField(
        required=False, help_text="On /v3 and /v2 it (or a top-level id) must name a user, agent, app or run."
    )
    top_k = serializers.IntegerField(required=False, min_value=1, max_value=1000, default=10)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=1000, help_text="An alias of `top_k`.")
    threshold = serializers.FloatField(
        required=False,
        allow_null=True,
        min_value=0.0,
        max_value=1.0,
        help_text="Minimum semantic similarity (as Mem0 2.2.1 gates it). Default 0.1 (/v3, /v1), 0.3 (/v2).",
    )
    categories = serializers.JSONField(required=False, allow_null=True)
    metadata = ObjectField(required=False, allow_null=True)
    reference_date = MomentField(required=False, help_text="An alias of `as_of`.")
    fields = serializers.ListField(child=serializers.CharField(), required=False, allow_null=True)
    output_format = serializers.ChoiceField(
        choices=["v1.0", "v1.1"], required=False, allow_null=True, help_text="`v1.0`: a bare list of results."
    )
    version = ignored()
    filter_memories = ignored()
    only_metadata_based_search = ignored()
    enable_graph = serializers.BooleanField(
        required=False, default=False, help_text="Also answer `relations`: entity relations the query names."
    )


class UpdateRequest(serializers.Serializer):
    """``PUT``/``PATCH /v1/memories/{memory_id}/``: every field is optional; what is given changes."""

    text = serializers.CharField(required=False, allow_null=True, help_text="The new text.")
    content = serializers.CharField(required=False, allow_null=True, help_text="The new text, if `text` is absent.")
    metadata = ObjectField(required=False, allow_null=True, help_text="Replaces the metadata.")
    categories = serializers.ListField(child=serializers.CharField(), required=False, allow_null=True)
    expiration_date = ExpirationField(required=False, help_text="`null` removes the expiration.")
    timestamp = ignored()


class BatchItem(serializers.Serializer):
    memory_id = serializers.CharField(help_text="The memory's id.")
    text = serializers.CharField(required=False, allow_null=True, help_text="The new text (`PUT` only).")
    metadata = ObjectField(required=False, allow_null=True, help_text="The new metadata (`PUT` only).")


class BatchRequest(serializers.Serializer):
    memories = BatchItem(many=True, help_text="1 to 1000 items; all succeed or nothing changes.")


class FeedbackRequest(serializers.Serializer):
    memory_id = serializers.CharField()
    feedback = serializers.ChoiceField(
        choices=["POSITIVE", "NEGATIVE", "VERY_NEGATIVE"], required=False, allow_null=True
    )
    feedback_reason = serializers.CharField(required=False, allow_null=True)


class ExportRequest(serializers.Serializer):
    schema = serializers.JSONField(
        required=False,
        allow_null=True,
        help_text="A JSON schema (object or JSON string): the export keeps the properties it names (or those of "
        "`properties.memories.items`); all fields when it names none.",
    )
    filters = FiltersField(required=False)
    export_instructions = ignored()
    cursor = serializers.CharField(
        required=False,
        allow_null=True,
        help_text="The `next_cursor` of the previous export of the same filters: export the rows after it.",
    )


class ExportGetRequest(serializers.Serializer):
    memory_export_id = serializers.CharField(required=False, allow_null=True, help_text="The export's id.")
    filters = FiltersField(required=False, help_text="Without an id: the latest export made with these filters.")


class SummaryRequest(serializers.Serializer):
    filters = FiltersField(required=False)


class ProjectUpdateRequest(serializers.Serializer):
    custom_instructions = serializers.CharField(required=False, allow_null=True)
    agent_custom_instructions = serializers.CharField(required=False, allow_null=True)
    custom_categories = serializers.ListField(child=serializers.JSONField(), required=False, allow_null=True)
    memory_depth = serializers.CharField(required=False, allow_null=True)
    usecase_setting = serializers.CharField(required=False, allow_null=True)
    multilingual = serializers.BooleanField(required=False, allow_null=True)
    review_mode = serializers.BooleanField(
        required=False,
        allow_null=True,
        help_text="mem0g: inferred UPDATEs and SUPERSEDEs wait for review (the old fact stays current); "
        "their add results say `pending: true`.",
    )


# --- Mem0 Platform responses ---------------------------------------------------------------


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


class PaginatedMemories(serializers.Serializer):
    count = serializers.IntegerField(help_text="Memories matching, over every page.")
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    page = serializers.IntegerField()
    page_size = serializers.IntegerField()
    results = MemorySerializer(many=True, help_text="Newest first; only the `fields` asked for, if any.")
    memories = MemorySerializer(many=True, help_text="The same list as `results`.")


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


class UserMemoriesPage(serializers.Serializer):
    count = serializers.IntegerField()
    limit = serializers.IntegerField()
    offset = serializers.IntegerField()
    results = MemorySerializer(many=True)
    memories = MemorySerializer(many=True, help_text="The same list as `results`.")


class MessageResponse(serializers.Serializer):
    message = serializers.CharField()


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


class ProjectResponse(serializers.Serializer):
    id = serializers.CharField()
    project_id = serializers.CharField()
    org_id = serializers.CharField()
    name = serializers.CharField()
    created_at = serializers.DateTimeField()
    custom_instructions = serializers.CharField(required=False)
    agent_custom_instructions = serializers.CharField(required=False)
    custom_categories = serializers.ListField(child=serializers.JSONField(), required=False)
    memory_depth = serializers.CharField(required=False)
    usecase_setting = serializers.CharField(required=False)
    multilingual = serializers.BooleanField(required=False)
    review_mode = serializers.BooleanField(required=False, help_text="mem0g: inferred changes wait for review.")


class ProjectUpdated(ProjectResponse):
    message = serializers.CharField()


# --- Mem0 OSS server -----------------------------------------------------------------------


class OssEntityIds(serializers.Serializer):
    user_id = optional_text()
    agent_id = optional_text()
    run_id = optional_text()


class OssAddRequest(OssEntityIds):
    """``POST /memories``: at least one of ``user_id``, ``agent_id``, ``run_id``."""

    messages = serializers.ListField(child=MessageField(), help_text="A list of `{role, content}` messages.")
    metadata = ObjectField(
        required=False,
        allow_null=True,
        help_text="May carry `project_id`, `memory_lifespan` (`short_term` expires after "
        "`MEM0_DEFAULT_SHORT_TERM_TTL_SECONDS`), `memory_category` and `domain_tags` (a list).",
    )
    infer = serializers.BooleanField(required=False, default=True)
    enable_graph = serializers.BooleanField(required=False, default=False, help_text="Also answer `relations`.")
    expiration_date = ExpirationField(required=False)
    memory_type = serializers.ChoiceField(
        choices=["procedural_memory"],
        required=False,
        allow_null=True,
        help_text="`procedural_memory` (needs an `agent_id`): one memory summarising how the agent carried out "
        "the task, by the configured LLM or else in the conversation's own words; `infer` does not apply.",
    )
    prompt = optional_text("With an LLM configured: replaces mem0g's fact-extraction instructions.")


class OssSearchRequest(OssEntityIds, SearchOptions):
    query = serializers.CharField()
    filters = FiltersField(
        required=False, help_text='The full grammar, dotted keys such as `{"metadata.project_id": "p1"}` included.'
    )
    top_k = serializers.IntegerField(required=False, min_value=1, max_value=1000, default=10)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=1000, help_text="An alias of `top_k`.")
    threshold = serializers.FloatField(
        required=False, allow_null=True, min_value=0.0, max_value=1.0, help_text="Minimum semantic similarity."
    )


class OssUpdateRequest(serializers.Serializer):
    text = serializers.CharField(required=False, allow_null=True)
    metadata = ObjectField(required=False, allow_null=True, help_text="Replaces the metadata.")
    expiration_date = ExpirationField(required=False)


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


SOURCE = {
    "id": "0b7f9a52-3c1e-4d8a-9f60-2a4b5c6d7e8f",
    "role": "user",
    "name": "Alice",
    "content": "I'm a vegetarian and I love Python.",
    "observed_at": CREATED,
}
ADD_EVENT_RECORD = {
    "id": "4e5f6a7b-8c9d-4e0f-a1b2-c3d4e5f6a7b8",
    "event_id": "4e5f6a7b-8c9d-4e0f-a1b2-c3d4e5f6a7b8",
    "status": "SUCCEEDED",
    "results": [ADD_EVENT],
    "payload": {"messages": MESSAGES, "user_id": "alice"},
    "error": None,
    "latency": 42.5,
    "created_at": CREATED,
    "updated_at": CREATED,
}
ENTITY = {
    "id": "alice",
    "type": "user",
    "name": "alice",
    "total_memories": 12,
    "created_at": CREATED,
    "updated_at": UPDATED,
}


def _documented(view, **methods):
    """``view`` with ``@extend_schema_view(**methods)``, for the schema only."""
    return extend_schema_view(**methods)(type(view.__name__, (view,), {"__module__": view.__module__}))


class EventViewSchema(OpenApiViewExtension):
    target_class = "memories.api.events.EventView"

    def view_replacement(self):
        return _documented(
            self.target_class,
            get=extend_schema(
                operation_id="event_get",
                summary="Get an add event",
                description="What became of one add request: its status, results and latency, and (our "
                "extension) `traces`: per fact, the extractor, the candidates it was compared with, the decision and "
                "its reason.",
                tags=[PLATFORM],
                parameters=[path_param("event_id", "The add event's id.", ADD_EVENT_RECORD["id"])],
                responses={200: AddEventRecord, **errors(404, e404=("NOT_FOUND", "Event not found", None))},
                examples=[example("Succeeded", ADD_EVENT_RECORD)],
            ),
        )


class EventsViewSchema(OpenApiViewExtension):
    target_class = "memories.api.events.EventsView"

    def view_replacement(self):
        return _documented(
            self.target_class,
            get=extend_schema(
                operation_id="events_list",
                summary="List add events",
                description="The add requests of the project (or of the key's user), newest first.",
                tags=[PLATFORM],
                parameters=[
                    query("page", int, "Page number, from 1."),
                    query("page_size", int, "Events per page, 1 to 200 (default 50)."),
                ],
                responses={200: AddEventsPage, **errors(422)},
                examples=[
                    example("A page", {"count": 1, "next": None, "previous": None, "results": [ADD_EVENT_RECORD]})
                ],
            ),
        )


class StatsViewSchema(OpenApiViewExtension):
    target_class = "memories.api.events.StatsView"

    def view_replacement(self):
        return _documented(
            self.target_class,
            get=extend_schema(
                operation_id="stats",
                summary="Project statistics",
                description="Totals for the key's project (or user): memories, entities by type, add events.",
                tags=[PLATFORM],
                responses={200: ProjectStats, **errors()},
                examples=[
                    example(
                        "Totals",
                        {
                            "total_memories": 14,
                            "current_memories": 12,
                            "total_users": 2,
                            "total_agents": 1,
                            "total_apps": 0,
                            "total_runs": 1,
                            "total_add_events": 5,
                        },
                    )
                ],
            ),
        )


class EntityViewSchema(OpenApiViewExtension):
    target_class = "memories.api.events.EntityView"

    def view_replacement(self):
        return _documented(
            self.target_class,
            get=extend_schema(
                operation_id="entity_get",
                summary="Get an entity",
                description="One user, agent, app or run with its memory count and first/last activity.",
                tags=[PLATFORM],
                parameters=[ENTITY_TYPE_PARAM, path_param("name", "The entity id.", "alice")],
                responses={
                    200: Entity,
                    **errors(404, e404=("NOT_FOUND", "Entity not found", {"type": "user", "name": "bob"})),
                },
                examples=[example("A user", ENTITY)],
            ),
        )


class EntityFiltersViewSchema(OpenApiViewExtension):
    target_class = "memories.api.events.EntityFiltersView"

    def view_replacement(self):
        return _documented(
            self.target_class,
            get=extend_schema(
                operation_id="entity_filters",
                summary="Entity ids for filters",
                description="The ids that have memories, by type, for use in `filters`.",
                tags=[PLATFORM],
                responses={200: EntityFilters, **errors()},
                examples=[
                    example("Ids", {"users": ["alice", "bob"], "agents": ["helper"], "apps": [], "runs": ["r1"]})
                ],
            ),
        )


class EntityMemoriesViewSchema(OpenApiViewExtension):
    target_class = "memories.api.events.EntityMemoriesView"

    def view_replacement(self):
        return _documented(
            self.target_class,
            get=extend_schema(
                operation_id="memories_of_entity",
                summary="List an agent's, app's or run's memories",
                description="One entity's memories, newest first, `limit` at a time from `offset` "
                "(`/v1/memories/user/{user_id}` is the same for a user).",
                tags=[PLATFORM],
                parameters=[
                    path_param("entity_type", "The kind of entity.", "agent", enum=["agent", "app", "run"]),
                    path_param("entity_id", "The entity id.", "helper"),
                    query("limit", int, "1 to 200 (default 50)."),
                    query("offset", int, "A multiple of `limit` (default 0)."),
                    query("show_expired", bool, "Include expired memories."),
                ],
                responses={200: UserMemoriesPage, **errors(404, 422)},
                examples=[
                    example(
                        "A page",
                        {"count": 1, "limit": 50, "offset": 0, "results": [MEMORY], "memories": [MEMORY]},
                    )
                ],
            ),
        )


class MemoryEventsViewSchema(OpenApiViewExtension):
    target_class = "memories.api.events.MemoryEventsView"

    def view_replacement(self):
        return _documented(
            self.target_class,
            get=extend_schema(
                operation_id="memory_events",
                summary="The change feed",
                description="Every ADD, UPDATE, DELETE, ... of the project's memories (or of the key's user's), "
                "newest first.",
                tags=[PLATFORM],
                parameters=[
                    query("page", int, "Page number, from 1."),
                    query("page_size", int, "Rows per page, 1 to 200 (default 100)."),
                ],
                responses={200: HistoryPage, **errors(422)},
                examples=[example("A page", {"count": 1, "next": None, "previous": None, "results": [HISTORY_ROW]})],
            ),
        )


# --- security ------------------------------------------------------------------------------


def security_schemes() -> dict:
    return settings.SPECTACULAR_SETTINGS["APPEND_COMPONENTS"]["securitySchemes"]


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    """``accounts.authentication.ApiKeyAuthentication``: the key in any one of three headers. The
    schemes are ``SPECTACULAR_SETTINGS["APPEND_COMPONENTS"]``'s, and its ``SECURITY`` lists them
    (as alternatives) on every operation, so this adds no requirement of its own."""

    target_class = "accounts.authentication.ApiKeyAuthentication"

    @property
    def name(self):
        return list(security_schemes())

    def get_security_requirement(self, auto_schema):
        return None

    def get_security_definition(self, auto_schema):
        return list(security_schemes().values())


# --- hooks: one documented path per route, unique operation ids ----------------------------

HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
CHARACTER_CLASS = re.compile(r"\[([0-9A-Za-z]+)\]")


def expand_character_classes(path: str) -> list[str]:
    """``/v[12]/entities/`` -> ``/v1/entities/`` and ``/v2/entities/``."""
    match = CHARACTER_CLASS.search(path)
    if match is None:
        return [path]
    return [
        expanded
        for choice in match.group(1)
        for expanded in expand_character_classes(path[: match.start()] + choice + path[match.end() :])
    ]


def preprocess_endpoints(endpoints):
    """Leave out the schema and docs views; give a route matching several paths each of them."""
    result = []
    for path, path_regex, method, callback in endpoints:
        view = getattr(callback, "cls", None)
        if view is not None and view.__module__.startswith("drf_spectacular."):
            continue
        result += [(expanded, path_regex, method, callback) for expanded in expand_character_classes(path)]
    return result


def postprocess_schema(result, generator, request, public):
    """Every route answers with and without its trailing slash: document the Platform paths with the
    slash the Mem0 SDKs send and the others without it, as their clients call them. Then make the
    operation ids of a route documented under several paths unique (``..._v1``, ``..._v2``)."""
    paths = {}
    for path, item in result.get("paths", {}).items():
        operations = [operation for method, operation in item.items() if method in HTTP_METHODS]
        platform = any(PLATFORM in operation.get("tags", ()) for operation in operations)
        documented = path if platform or path == "/" else path.rstrip("/")
        paths.setdefault(documented, {}).update(item)
    result["paths"] = paths

    uses = defaultdict(list)
    for path, item in paths.items():
        for method, operation in item.items():
            if method in HTTP_METHODS and "operationId" in operation:
                uses[operation["operationId"]].append((path, operation))
    for operation_id, places in uses.items():
        if len(places) < 2:
            continue
        for path, operation in places:
            version = re.match(r"^/(v\d+)/", path)
            if version:
                operation["operationId"] = f"{operation_id}_{version.group(1)}"
    return result
