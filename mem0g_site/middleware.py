"""The edge of every request: request id, body size limit, timing (``X-Response-Time-ms`` and the
per-stage ``Server-Timing``, mem0g_site/timing.py), rate-limit headers, metrics,
the fields a Mem0 dialect ignored (header), one log line, and the one error format for bare error
responses from non-DRF views."""

import json
import logging
import re
import time
import uuid

from django.conf import settings
from django.db import connection

from mem0g_site import metrics, timing, unknown_fields
from mem0g_site.errors import error_response, is_api_path
from mem0g_site.kept_connections import check_kept_connections

logger = logging.getLogger("mem0g.requests")
_CLIENT_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_ARCHIVE_IMPORT = re.compile(r"^/v1/archive/import/?$")


class RequestEdgeMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        timings, token = timing.begin()
        try:
            with connection.execute_wrapper(timing.SqlTimer(timings)):
                return self._serve(request, timings)
        finally:
            timing.end(token)

    def _serve(self, request, timings: timing.Timings):
        started = timings.started
        offered = request.META.get("HTTP_X_REQUEST_ID", "")
        request.request_id = offered if _CLIENT_REQUEST_ID.match(offered) else str(uuid.uuid4())

        if connection.connection is not None:
            # Django checks a kept connection (CONN_HEALTH_CHECKS) before its first query, outside
            # any execute wrapper; done here (a round trip only where the server has spoken since
            # its last statement: mem0g_site/kept_connections.py), so that it counts as SQL time.
            checked = time.perf_counter()
            check_kept_connections()
            timings.add("db", time.perf_counter() - checked)
        response = self._too_large(request) or self.get_response(request)

        if response.status_code >= 400 and is_api_path(request.path) and not _is_json(response):
            # A plain view's bare 405, a CSRF or host failure...: same body as every other error.
            replacement = error_response(request, response.status_code)
            for header in ("Allow", "Retry-After", "WWW-Authenticate"):
                if header in response:
                    replacement[header] = response[header]
            response = replacement

        usage = getattr(request, "ratelimit", None)
        if usage is not None:
            response["X-RateLimit-Limit"] = str(usage["limit"])
            response["X-RateLimit-Remaining"] = str(max(0, usage["limit"] - usage["count"]))
            response["X-RateLimit-Reset"] = str(max(0, usage["time_left"]))

        ignored = unknown_fields.ignored_fields(request)
        if ignored:
            response[unknown_fields.HEADER] = unknown_fields.header_value(ignored)

        seconds = time.perf_counter() - started
        duration_ms = seconds * 1000
        response["X-Request-ID"] = request.request_id
        response["X-Mem0g-Node"] = settings.NODE_NAME
        response["X-Response-Time-ms"] = f"{duration_ms:.1f}"
        response[timing.HEADER] = timings.header(seconds)
        endpoint = _endpoint(request)
        api_key = getattr(request, "api_key", None)
        try:
            metrics.record(endpoint, response.status_code, duration_ms, getattr(api_key, "project_id", None))
        except Exception:  # metrics must never break a response (e.g. Redis briefly away)
            logger.warning("could not record metrics", exc_info=True)
        logger.info(
            json.dumps(
                {
                    "method": request.method,
                    "path": request.path,
                    "endpoint": endpoint,
                    "status": response.status_code,
                    "duration_ms": round(duration_ms, 1),
                    "key_prefix": api_key.prefix if api_key else None,
                    "request_id": request.request_id,
                    **({"ignored_fields": ignored} if ignored else {}),
                }
            )
        )
        return response

    @staticmethod
    def _too_large(request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return error_response(request, 400, message="Content-Length is not a number")
        # An archive import (POST /v1/archive/import) has a limit of its own.
        archive = _ARCHIVE_IMPORT.match(request.path) is not None
        limit = settings.ARCHIVE_IMPORT_MAX_BYTES if archive else settings.MAX_REQUEST_BYTES
        if length > limit:
            name = "ARCHIVE_IMPORT_MAX_BYTES" if archive else "MAX_REQUEST_BYTES"
            message = f"The request body is {length} bytes; the limit is {limit} ({name})"
            return error_response(request, 413, message=message)
        return None


def _is_json(response) -> bool:
    return response.get("Content-Type", "").startswith("application/json")


def _endpoint(request) -> str:
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "unmatched"
    return f"{request.method} {match.view_name or match.route}"
