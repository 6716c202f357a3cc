"""One error format for every endpoint, produced here and nowhere else.

    {"detail": "...", "code": "MEMORY_NOT_FOUND", "request_id": "...", "success": false,
     "error": {"code", "message", "details", "request_id"}, "timestamp": "..."}

``detail`` is what the Mem0 SDK shows; ``code`` is for programs. DRF exceptions, our own
``ApplicationError``s, Django's 404/500 and bare error responses from plain views (405, CSRF) all
pass through :func:`error_response`.
"""

import logging
from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import Http404, HttpRequest, JsonResponse
from django.utils import timezone
from django.views import csrf, defaults
from rest_framework import exceptions as drf
from rest_framework.views import set_rollback

from mem0g_site.exceptions import ApplicationError

logger = logging.getLogger("mem0g.errors")

REASONS = {
    400: ("INVALID_REQUEST", "The request could not be understood"),
    401: ("UNAUTHORIZED", "Authentication credentials were not provided"),
    403: ("FORBIDDEN", "This key may not do that"),
    404: ("NOT_FOUND", "Not found"),
    405: ("METHOD_NOT_ALLOWED", "Method not allowed"),
    406: ("NOT_ACCEPTABLE", "Cannot produce a response in the requested format"),
    413: ("PAYLOAD_TOO_LARGE", "The request body is too large"),
    415: ("UNSUPPORTED_MEDIA_TYPE", "Send JSON (Content-Type: application/json)"),
    422: ("VALIDATION_ERROR", "Some fields are invalid"),
    429: ("RATE_LIMIT_EXCEEDED", "Too many requests"),
    500: ("INTERNAL_ERROR", "Internal server error"),
    503: ("SERVICE_UNAVAILABLE", "The service is unavailable; try again shortly"),
}


def request_id_of(request) -> str | None:
    request = getattr(request, "_request", request)  # DRF Request wraps Django's
    return getattr(request, "request_id", None)


def error_response(
    request, status: int, *, code: str | None = None, message: str | None = None, details: Any = None
) -> JsonResponse:
    default_code, default_message = REASONS.get(status, ("ERROR", "Error"))
    code = code or default_code
    message = message or default_message
    request_id = request_id_of(request)
    body = {
        "detail": message,
        "code": code,
        "request_id": request_id,
        "success": False,
        "error": {"code": code, "message": message, "details": details, "request_id": request_id},
        "timestamp": timezone.now().isoformat(),
    }
    return JsonResponse(body, status=status)


def _first_message(details: Any) -> str:
    """A readable one-liner from DRF's nested error details: 'field: message'."""
    if isinstance(details, dict):
        for field, value in details.items():
            inner = _first_message(value)
            return inner if field == "non_field_errors" else f"{field}: {inner}"
    if isinstance(details, list) and details:
        return _first_message(details[0])
    return str(details)


def api_exception_handler(exc: Exception, context: dict) -> JsonResponse:
    """DRF's EXCEPTION_HANDLER: every exception raised in an API view becomes the one format."""
    request = context.get("request")
    set_rollback()
    if isinstance(exc, ApplicationError):
        return error_response(request, exc.status, code=exc.code, message=exc.message, details=exc.details)
    if isinstance(exc, drf.Throttled):
        response = error_response(request, 429, message=f"Rate limit exceeded; retry in {exc.wait or 1:.0f} s")
        response["Retry-After"] = str(max(1, int(exc.wait or 1)))
        return response
    if isinstance(exc, drf.ValidationError):
        return error_response(request, 422, message=_first_message(exc.detail), details=exc.detail)
    if isinstance(exc, drf.ParseError):
        return error_response(request, 400, message=f"Malformed request body: {exc.detail}")
    if isinstance(exc, (drf.NotAuthenticated, drf.AuthenticationFailed)):
        response = error_response(request, 401, message=str(exc.detail))
        if getattr(exc, "auth_header", None):
            response["WWW-Authenticate"] = exc.auth_header
        return response
    if isinstance(exc, (drf.PermissionDenied, PermissionDenied)):
        return error_response(request, 403, message=str(getattr(exc, "detail", "")) or None)
    if isinstance(exc, (drf.NotFound, Http404)):
        return error_response(request, 404)
    if isinstance(exc, drf.APIException):
        return error_response(request, exc.status_code, message=str(exc.detail))
    if isinstance(exc, RequestDataTooBig):
        return error_response(request, 413)
    if isinstance(exc, DjangoValidationError):
        return error_response(request, 422, message="; ".join(exc.messages))
    if isinstance(exc, SuspiciousOperation):
        return error_response(request, 400, message=str(exc))
    if isinstance(exc, (OperationalError, InterfaceError)):
        logger.error("database unavailable: %s", exc)
        return error_response(request, 503)
    if isinstance(exc, DatabaseError):
        logger.exception("database error", exc_info=exc)
        return error_response(request, 500)
    logger.exception("unhandled error", exc_info=exc)
    return error_response(request, 500)


# Pages for people (admin, web UI, API docs) keep Django's HTML errors; everything else is API.
HTML_PREFIXES = ("/admin/", "/ui/", "/static/", "/docs", "/redoc")


def is_api_path(path: str) -> bool:
    return not path.startswith(HTML_PREFIXES)


# Django's own error views (handler400/403/404/500 in urls.py), for anything outside DRF.
def bad_request(request: HttpRequest, exception=None):
    if not is_api_path(request.path):
        return defaults.bad_request(request, exception)
    return error_response(request, 413 if isinstance(exception, RequestDataTooBig) else 400)


def permission_denied(request: HttpRequest, exception=None):
    if not is_api_path(request.path):
        return defaults.permission_denied(request, exception)
    return error_response(request, 403)


def page_not_found(request: HttpRequest, exception=None):
    if not is_api_path(request.path):
        return defaults.page_not_found(request, exception)
    return error_response(request, 404)


def server_error(request: HttpRequest):
    if not is_api_path(request.path):
        return defaults.server_error(request)
    return error_response(request, 500)


def csrf_failure(request: HttpRequest, reason: str = ""):
    if not is_api_path(request.path):
        return csrf.csrf_failure(request, reason)
    return error_response(request, 403, message=f"CSRF check failed: {reason}" if reason else None)
