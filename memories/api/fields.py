"""The memory routes' own field types of the request contracts (``memories.api.contract``): ids,
queries, filters, messages, batches... read the way Mem0 is lenient about them. The shared ones
(flags, numbers, moments, objects, :func:`read`) are ``mem0g_site.api_kit.contract``'s."""

import json

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import SkipField, empty

from mem0g_site.api_kit.contract import JsonObject, Lenient, Raw
from mem0g_site.api_kit.parsing import as_expiration
from mem0g_site.exceptions import InvalidRequest, ValidationFailed
from memories.api.common import query_filters
from memories.inputs import clean_feedback, clean_id, clean_memory_type, clean_text
from memories.models import MemoryFeedback
from memories.search import DECAY_HALF_LIFE_DAYS_MAX


@extend_schema_field(
    {
        "type": "number",
        "minimum": 0,
        "exclusiveMinimum": True,
        "maximum": DECAY_HALF_LIFE_DAYS_MAX,
        "nullable": True,
        "description": "Recency decay: each score is multiplied by 0.5 per this many days of the memory's age "
        "(since `valid_from`). Above 0; off by default.",
    }
)
class HalfLife(Lenient, serializers.Field):
    def parse(self, value):
        if value is None or value == "":
            return None
        try:
            days = float(value) if not isinstance(value, bool) else None
        except (TypeError, ValueError):
            days = None
        if days is None or not 0 < days <= DECAY_HALF_LIFE_DAYS_MAX:
            raise ValidationFailed(
                f"{self.field_name} must be a number of days above 0, at most {DECAY_HALF_LIFE_DAYS_MAX}",
                field=self.field_name,
            )
        return days


@extend_schema_field(
    {
        "oneOf": [{"type": "string", "example": "2026-12-31"}, {"type": "number"}],
        "nullable": True,
        "description": "A date (`YYYY-MM-DD`: the memory expires when that day ends, UTC), an ISO 8601 time, or "
        "Unix seconds. Expired memories are left out of lists and searches unless `show_expired`.",
    }
)
class Expiration(Lenient, serializers.Field):
    def parse(self, value):
        return as_expiration(value, self.field_name)


@extend_schema_field({"type": "string", "nullable": True})
class EntityId(Lenient, serializers.Field):
    """An id: a string or a whole number (``5`` and ``"5"`` are one id), trimmed."""

    def parse(self, value):
        return clean_id(value, field_name=self.field_name)


@extend_schema_field({"type": "string", "minLength": 1})
class Query(serializers.Field):
    """The text to look for (required, not blank)."""

    def __init__(self, **kwargs):
        super().__init__(required=False, allow_null=True, **kwargs)
        self.required = True  # documented

    def validate_empty_values(self, data):
        return False, None if data is empty else data

    def to_internal_value(self, data):
        return clean_text(data, field_name=self.field_name)


FILTERS_HELP = (
    "Mem0's filter grammar: sibling keys are ANDed; `AND`/`OR` take a list of objects, `NOT` an object or a "
    "list. Fields: `user_id`, `agent_id`, `app_id`, `run_id` (`session_id`), `created_at`/`updated_at`/"
    "`timestamp`, `categories`, `metadata`, `memory_ids`, `keywords`, `text`. Operators, by field: `eq`, `ne`, "
    "`in`, `nin`, `gt`, `gte`, `lt`, `lte`, `contains`, `icontains`. The Platform paths refuse the OSS-only "
    'parts: `nin`, `eq` on times, `actor_id` and `metadata.<path>` keys. `"*"` means "any value set".'
)


@extend_schema_field(
    {
        "type": "object",
        "additionalProperties": True,
        "nullable": True,
        "description": FILTERS_HELP,
        "example": {"AND": [{"user_id": "alice"}, {"categories": {"in": ["preferences"]}}]},
    }
)
class Filters(Lenient, serializers.Field):
    """A filter object (compiled by ``memories.filters`` when the call runs); ``null``: none."""

    def parse(self, value):
        if value is not None and not isinstance(value, dict):
            raise InvalidRequest(f"{self.field_name} must be a JSON object", details={"key": self.field_name})
        return value or {}


@extend_schema_field(
    {
        "type": "string",
        "description": "A JSON object, or the Python dict literal the Mem0 SDK sends, in one query parameter.",
        "example": '{"user_id": "alice"}',
    }
)
class QueryObject(Lenient, serializers.Field):
    """A JSON object in a query string, or the Python dict literal the SDK stringifies
    (``memories.api.common.query_filters``: 400 otherwise); absent: ``None``."""

    def parse(self, value):
        return None if value is None else query_filters(value, key=self.field_name)


class QueryFilters(QueryObject):
    """``filters`` in a query string (:class:`QueryObject`); absent: none."""

    def parse(self, value):
        return super().parse(value) or {}


@extend_schema_field({"type": "array", "items": {"type": "string"}})
class Tags(Lenient, serializers.Field):
    """Tags from a query string: the parameter repeated, each value a comma-separated list (read from
    ``QueryDict.getlist``); blanks are skipped."""

    def parse(self, value):
        values = value if isinstance(value, list) else [] if value is None else [value]
        return [tag for text in values for tag in (part.strip() for part in str(text).split(",")) if tag]


@extend_schema_field({"type": "array", "items": {"type": "string"}, "nullable": True})
class FieldNames(Lenient, serializers.Field):
    """Mem0's ``fields``: only these keys (and ``id``) in each result."""

    def parse(self, value):
        if value is not None and (not isinstance(value, list) or not all(isinstance(f, str) for f in value)):
            raise ValidationFailed("fields must be a list of field names", field="fields")
        return value


class MemoryType(Lenient, serializers.ChoiceField):
    def __init__(self, **kwargs):
        super().__init__(choices=["procedural_memory"], **kwargs)

    def parse(self, value):
        return clean_memory_type(value, field_name=self.field_name)


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
class Messages(serializers.JSONField):
    """A string, one message object, or a list mixing both (the add pipeline checks them, absent
    ones included: documented as required, refused there with its own message)."""

    def __init__(self, **kwargs):
        super().__init__(required=False, allow_null=True, **kwargs)
        self.required = True  # documented

    def validate_empty_values(self, data):
        if data is empty:
            raise SkipField()
        return super().validate_empty_values(data)


@extend_schema_field({"type": "string"})
class RequiredText(Raw):
    """A string the service checks (documented as required; absent, it is refused there)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.required = True  # documented

    def validate_empty_values(self, data):
        if data is empty:
            raise SkipField()
        return super().validate_empty_values(data)


@extend_schema_field({"type": "array", "items": MESSAGE_SCHEMA})
class MessageList(Lenient, serializers.Field):
    """A list of ``{role, content}`` messages (the add pipeline checks each)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.required = True  # documented

    def parse(self, value):
        if not isinstance(value, list):
            raise InvalidRequest("messages must be a list of {role, content}", details={"key": "messages"})
        return value


BATCH_MAX = 1000


@extend_schema_field(
    {
        "type": "array",
        "minItems": 1,
        "maxItems": BATCH_MAX,
        "items": {
            "type": "object",
            "properties": {
                "memory_id": {"type": "string", "description": "The memory's id."},
                "text": {"type": "string", "nullable": True, "description": "The new text (`PUT` only)."},
                "metadata": {
                    "type": "object",
                    "additionalProperties": True,
                    "nullable": True,
                    "description": "The new metadata (`PUT` only).",
                },
            },
            "required": ["memory_id"],
        },
        "description": f"1 to {BATCH_MAX} items; all succeed or nothing changes.",
    }
)
class BatchItems(Lenient, serializers.Field):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.required = True  # documented

    def parse(self, value):
        if not isinstance(value, list) or not value:
            raise ValidationFailed("memories must be a non-empty list", field="memories")
        if len(value) > BATCH_MAX:
            raise ValidationFailed(f"Maximum of {BATCH_MAX} memories per batch", field="memories")
        if not all(isinstance(item, dict) and item.get("memory_id") for item in value):
            raise ValidationFailed("every item needs a memory_id", field="memories")
        return value


class FeedbackKind(Lenient, serializers.ChoiceField):
    def __init__(self, **kwargs):
        super().__init__(choices=MemoryFeedback.Kind.values, **kwargs)

    def parse(self, value):
        return clean_feedback(value)


@extend_schema_field(
    {
        "type": "object",
        "additionalProperties": True,
        "nullable": True,
        "description": FILTERS_HELP,
        "example": {"user_id": "alice"},
    }
)
class FilterObject(JsonObject):
    """``filters`` as a plain object (422 otherwise); ``null``: none."""

    def parse(self, value):
        return super().parse(value) or {}


@extend_schema_field(
    {
        "oneOf": [{"type": "object", "additionalProperties": True}, {"type": "string"}],
        "nullable": True,
        "description": "A JSON schema (object or JSON string): the export keeps the properties it names (or those "
        "of `properties.memories.items`); all fields when it names none.",
    }
)
class ExportSchema(Lenient, serializers.Field):
    def parse(self, value):
        if not value:
            return {}
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                raise ValidationFailed("schema must be a JSON schema object", field=self.field_name) from None
        return value or {}
