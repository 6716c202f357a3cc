"""The OpenAPI description's site-wide pieces (drf-spectacular): the dialects' tags, example
helpers, the error body every endpoint answers, parameter helpers, the API-key security schemes, and
the hooks that give every route one documented path. The apps' request and response shapes live
beside their views (``memories.api.contract`` and ``memories.api.responses``, ``graph.serializers``,
``accounts.api``), and what several apps' APIs share in ``mem0g_site.api_kit``."""

import re
from collections import defaultdict

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema_field
from rest_framework import serializers

from mem0g_site.errors import REASONS

# --- tags ----------------------------------------------------------------------------------

# The dialects, as tags (described in SPECTACULAR_SETTINGS["TAGS"]).
PLATFORM = "Mem0 Platform"
OSS = "Mem0 OSS server"
MEMORY_LAYER = "Memory layer"
OPERATIONS = "Operations"

# --- examples ------------------------------------------------------------------------------

EXAMPLE_MEMORY_ID = "9b2f6f3e-4c1a-4b7e-9a52-0f3c2d1e8a77"
REQUEST_ID = "0b6f7c0e-8f43-4a55-9a0c-3f1d2f0b2c11"
CREATED = "2026-01-05T10:00:00.000000Z"
UPDATED = "2026-01-06T08:30:00.000000Z"


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


@extend_schema_field({"type": "object", "additionalProperties": True, "example": {"source": "chat"}})
class ObjectField(serializers.JSONField):
    """A JSON object."""


MOMENT_SCHEMA = {
    "oneOf": [
        {"type": "string", "description": "ISO 8601 date or time (naive = UTC)."},
        {"type": "number", "description": "Unix seconds."},
    ],
    "nullable": True,
}


@extend_schema_field(MOMENT_SCHEMA)
class MomentField(serializers.JSONField):
    """A moment: an ISO 8601 date or time (naive = UTC), or Unix seconds."""


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
    404: ("MEMORY_NOT_FOUND", "Memory not found", {"memory_id": EXAMPLE_MEMORY_ID}),
    409: ("CONFLICT", "This memory is immutable; its text cannot be changed", {"memory_id": EXAMPLE_MEMORY_ID}),
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

    _alternatives_in_responses(result)

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


def _alternatives_in_responses(result) -> None:
    """A response that may take several shapes (``PolymorphicProxySerializer``) is documented with
    ``anyOf``: one answer may fit more than one shape (an empty ``results`` list fits every add
    shape), which ``oneOf`` would call invalid."""
    schemas = result.get("components", {}).get("schemas", {})
    for item in result.get("paths", {}).values():
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                continue
            for response in operation.get("responses", {}).values():
                for media in response.get("content", {}).values():
                    schema = media.get("schema", {})
                    ref = schema.get("$ref", "")
                    target = schemas.get(ref.rsplit("/", 1)[-1]) if ref.startswith("#/components/schemas/") else schema
                    if isinstance(target, dict) and "oneOf" in target:
                        target["anyOf"] = target.pop("oneOf")
