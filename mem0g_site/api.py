"""Operator endpoints: service status and request metrics."""

import os
import time

from django.conf import settings
from django.db import connection
from django.db.utils import DatabaseError
from django.http import HttpResponse
from django.utils import timezone
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from mem0g_site import metrics
from mem0g_site.exceptions import InvalidRequest

STARTED = time.time()
# Mem0 clients add these to many calls; every endpoint accepts and ignores them.
TOLERATED_PARAMS = frozenset({"org_id", "project_id"})


class ApiView(APIView):
    """Base of our API views: refuses unknown query parameters and malformed JSON bodies with a
    400 naming the problem, before the view does anything."""

    query_params: frozenset[str] = frozenset()

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if not hasattr(self, request.method.lower()):
            return  # DRF answers 405 next
        unknown = sorted(set(request.query_params) - self.query_params - TOLERATED_PARAMS)
        if unknown:
            raise InvalidRequest(f"Unknown query parameter(s): {', '.join(unknown)}", details={"unknown": unknown})
        has_body = request.META.get("CONTENT_LENGTH") not in (None, "", "0")
        if has_body and request.content_type.startswith("application/json"):
            request.data  # noqa: B018 (parses now: malformed JSON is a 400 for every endpoint)


class StatusView(ApiView):
    """``GET /status``: database, embedder, version and uptime (any valid key)."""

    required_scope = None

    def get(self, request):
        from memories import embedding

        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
                row = cursor.fetchone()
            database = {
                "status": "ok",
                "vendor": connection.vendor,
                "pgvector": row[0] if row else None,
                "embedded": settings.DATABASE_IS_EMBEDDED,
            }
        except DatabaseError as exc:
            database = {"status": "unavailable", "error": exc.__class__.__name__}
        embedder = embedding.status()
        healthy = database["status"] == "ok" and embedder["status"] != "error"
        return Response(
            {
                "status": "ok" if healthy else "degraded",
                "version": settings.VERSION,
                "uptime_seconds": round(time.time() - STARTED, 1),
                "timestamp": timezone.now().isoformat(),
                "database": database,
                "embedder": embedder,
                "project_id": str(request.auth.project_id),
                "worker_pid": os.getpid(),
            },
            status=200 if healthy else 503,
        )


class PrometheusTextRenderer(BaseRenderer):
    media_type = "text/plain"
    format = "prometheus"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data if isinstance(data, (str, bytes)) else str(data)


class MetricsView(ApiView):
    """``GET /metrics`` (admin scope): requests, latency percentiles and error rates per endpoint,
    summed over every worker. ``Accept: text/plain`` gives the Prometheus text format."""

    required_scope = "admin"
    renderer_classes = [JSONRenderer, PrometheusTextRenderer]

    def get(self, request):
        stats = metrics.snapshot()
        accept = request.META.get("HTTP_ACCEPT", "")
        if "text/plain" in accept and "application/json" not in accept:
            return prometheus_response(stats)
        return Response({"endpoints": stats, "timestamp": timezone.now().isoformat()})


class PrometheusMetricsView(ApiView):
    """``GET /metrics/prometheus`` (admin scope): the Prometheus text exposition format."""

    required_scope = "admin"
    renderer_classes = [PrometheusTextRenderer, JSONRenderer]

    def get(self, request):
        return prometheus_response(metrics.snapshot())


def prometheus_response(stats) -> HttpResponse:
    return HttpResponse(metrics.prometheus_text(stats), content_type="text/plain; version=0.0.4; charset=utf-8")
