"""Operator endpoints: service status and request metrics."""

import hmac
import os
import time

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.db.utils import DatabaseError
from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.renderers import BaseRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from mem0g_site import metrics, replicas, unknown_fields
from mem0g_site.exceptions import InvalidRequest
from mem0g_site.openapi import OPERATIONS, errors, example
from mem0g_site.parsers import bad_text
from mem0g_site.renderers import JSONRenderer

STARTED = time.time()
# Mem0 clients add these to many calls; every endpoint accepts and ignores them.
TOLERATED_PARAMS = unknown_fields.TOLERATED


class ApiSchema(AutoSchema):
    """OpenAPI generation for our views (documentation only): each operation's description ends with
    the API-key scope it needs, and a DELETE may document a JSON body with ``@extend_schema(request=...)``."""

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation:
            scope = required_scope(self.view, self.method)
            note = f"Needs an API key with the `{scope}` scope." if scope else "Needs any valid API key."
            description = operation.get("description", "").strip()
            operation["description"] = f"{description}\n\n{note}" if description else note
        return operation

    def _get_format_parameters(self):
        # ApiView refuses unknown query parameters, DRF's ?format= included.
        allowed = self.view.allowed_query_params(self.method) if hasattr(self.view, "allowed_query_params") else ()
        return [p for p in super()._get_format_parameters() if p["name"] in allowed]

    def get_request_serializer(self):
        if self.method == "DELETE":
            return None  # unless the view's @extend_schema(request=...) says otherwise
        return super().get_request_serializer()

    def _get_request_body(self, direction="request"):
        if self.method != "DELETE" or self.get_request_serializer() is None:
            return super()._get_request_body(direction)
        self.method = "POST"  # AutoSchema documents bodies of PUT, PATCH and POST only
        try:
            return super()._get_request_body(direction)
        finally:
            self.method = "DELETE"


def required_scope(view, method: str) -> str | None:
    """The scope ``accounts.permissions.HasScope`` asks of a call (None: any valid key)."""
    default = "read" if method in ("GET", "HEAD", "OPTIONS") else "write"
    scope = getattr(view, "required_scope", default)
    return scope.get(method, default) if isinstance(scope, dict) else scope


class ApiView(APIView):
    """Base of our API views: checks query parameters (``unknown_fields``) and refuses malformed
    JSON bodies with a 400 naming the problem, before the view does anything."""

    # The query parameters a view reads: one set for every method, or {method: set}.
    query_params: frozenset[str] | dict[str, frozenset[str]] = frozenset()
    # Unknown query parameters and body fields: refused with a 400 (our own routes), or ignored and
    # named in the X-Mem0g-Ignored-Fields header (Mem0's dialects: ``Mem0View``). See unknown_fields.
    unknown_fields = unknown_fields.REFUSE
    # Query parameters refused even where unknown ones are ignored, because ignoring them would make a
    # destructive call reach more than asked ({method: set}).
    narrowing_params: dict[str, frozenset[str]] = {}
    # Open to keys restricted to one user (``accounts.permissions.UserKeyFence``)? Only views that
    # fence every input to the key's user say yes.
    user_keys = False
    # Methods whose handler only reads: with DATABASE_REPLICA_URL they may read from the replica
    # (mem0g_site/replicas.py). Views whose POST only reads (search, list) add it.
    replica_methods: frozenset[str] = frozenset({"GET", "HEAD"})
    # Reads from the primary that tell a client that work done elsewhere (a job worker) is finished:
    # the key's next reads must see what the primary holds now, as after its own write.
    marks_read_your_writes = False
    schema = ApiSchema()

    @classmethod
    def allowed_query_params(cls, method: str) -> frozenset[str]:
        if isinstance(cls.query_params, dict):
            return cls.query_params.get(method, frozenset())
        return cls.query_params

    def dispatch(self, request, *args, **kwargs):
        with unknown_fields.policy(self.unknown_fields, request), replicas.request_scope():
            return super().dispatch(request, *args, **kwargs)

    def handle_exception(self, exc):
        if replicas.replica_failed(exc):
            # The replica went away mid-read: answer again from the primary (a read has no effects
            # to repeat; authentication and the rate limit ran once, before).
            try:
                handler = getattr(self, self.request.method.lower())
                return handler(self.request, *self.args, **self.kwargs)
            except Exception as again:
                return super().handle_exception(again)
        return super().handle_exception(exc)

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if not hasattr(self, request.method.lower()):
            return  # DRF answers 405 next
        narrowing = sorted(set(request.query_params) & self.narrowing_params.get(request.method, frozenset()))
        if narrowing:
            raise InvalidRequest(
                f"Unsupported query parameter(s) for {request.method}: {', '.join(narrowing)} (ignoring them "
                "would reach more than asked)",
                details={"unsupported": narrowing},
            )
        unknown_fields.check(request.query_params, self.allowed_query_params(request.method), where="query")
        # NULs (%00) and lone surrogates cannot reach PostgreSQL: 400 here, wherever they are.
        for name, values in request.query_params.lists():
            for text in (name, *values):
                problem = bad_text(text)
                if problem:
                    raise InvalidRequest(f"The query parameter {name!r} holds {problem}", details={"key": name})
        for name, text in kwargs.items():
            problem = bad_text(text) if isinstance(text, str) else None
            if problem:
                raise InvalidRequest(f"The path segment {name} holds {problem}", details={"key": name})
        has_body = request.META.get("CONTENT_LENGTH") not in (None, "", "0")
        if has_body and request.content_type.startswith("application/json"):
            request.data  # noqa: B018 (parses now: malformed JSON is a 400 for every endpoint)
        if replicas.configured():
            if request.method in self.replica_methods:
                replicas.reading(request)
            elif self.marks_read_your_writes:
                request._request.mem0g_mark = True


class Mem0View(ApiView):
    """Base of the views of Mem0's dialects (Platform, OSS server, Platform admin): body fields and
    query parameters they do not know are ignored and named in the X-Mem0g-Ignored-Fields header, as
    Mem0's clients add fields from one release to the next."""

    unknown_fields = unknown_fields.IGNORE


class DatabaseStatus(serializers.Serializer):
    status = serializers.ChoiceField(choices=["ok", "unavailable"])
    vendor = serializers.CharField(required=False)
    pgvector = serializers.CharField(required=False, allow_null=True, help_text="The pgvector extension's version.")
    embedded = serializers.BooleanField(required=False, help_text="True: the embedded PostgreSQL.")
    error = serializers.CharField(required=False, help_text="When unavailable: the kind of error.")


class EmbedderStatus(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=["loaded", "not_loaded", "error"], help_text="`not_loaded`: loaded on first use."
    )
    model = serializers.CharField(required=False)
    dimensions = serializers.IntegerField(required=False)
    error = serializers.CharField(required=False)


class StatusResponse(serializers.Serializer):
    status = serializers.ChoiceField(choices=["ok", "degraded"])
    version = serializers.CharField()
    uptime_seconds = serializers.FloatField(help_text="Of this worker.")
    timestamp = serializers.DateTimeField()
    database = DatabaseStatus()
    embedder = EmbedderStatus()
    project_id = serializers.CharField(help_text="The key's project.")
    worker_pid = serializers.IntegerField()


STATUS_EXAMPLE = {
    "status": "ok",
    "version": "0.1.0",
    "uptime_seconds": 3600.5,
    "timestamp": "2026-01-06T08:30:00.123456+00:00",
    "database": {"status": "ok", "vendor": "postgresql", "pgvector": "0.8.0", "embedded": True},
    "embedder": {"status": "loaded", "model": "all-MiniLM-L6-v2", "dimensions": 384},
    "project_id": "5d1c2b3a-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
    "worker_pid": 4242,
}


class LatencyMs(serializers.Serializer):
    mean = serializers.FloatField(allow_null=True)
    p50 = serializers.FloatField(allow_null=True)
    p95 = serializers.FloatField(allow_null=True)
    p99 = serializers.FloatField(allow_null=True)


class EndpointMetrics(serializers.Serializer):
    requests = serializers.IntegerField()
    responses = serializers.DictField(child=serializers.IntegerField(), help_text="By status class: `2xx` ... `5xx`.")
    error_rate = serializers.FloatField(help_text="4xx and 5xx over all requests.")
    server_error_rate = serializers.FloatField(help_text="5xx over all requests.")
    latency_ms = LatencyMs(help_text="Estimated from the histogram buckets (mean: exact).")
    buckets = serializers.ListField(
        child=serializers.IntegerField(), help_text="Requests per latency bucket (1 ms ... 10 s, then slower)."
    )
    sum_ms = serializers.FloatField()


class MetricsResponse(serializers.Serializer):
    scope = serializers.ChoiceField(choices=["server", "project"])
    project_id = serializers.CharField(allow_null=True, help_text="With `scope: project`, the key's project.")
    endpoints = serializers.DictField(child=EndpointMetrics(), help_text="By endpoint (`METHOD route`).")
    timestamp = serializers.DateTimeField()


METRICS_EXAMPLE = {
    "scope": "project",
    "project_id": "5d1c2b3a-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
    "endpoints": {
        "POST /v3/memories/search/": {
            "requests": 120,
            "responses": {"2xx": 118, "3xx": 0, "4xx": 2, "5xx": 0},
            "error_rate": 0.0167,
            "server_error_rate": 0.0,
            "latency_ms": {"mean": 14.2, "p50": 10.0, "p95": 50.0, "p99": 100.0},
            "buckets": [0, 0, 10, 60, 30, 15, 3, 2, 0, 0, 0, 0, 0, 0],
            "sum_ms": 1704.0,
        }
    },
    "timestamp": "2026-01-06T08:30:00.123456+00:00",
}
PROMETHEUS_EXAMPLE = (
    "# HELP mem0g_requests_total Requests answered, by endpoint and status class.\n"
    "# TYPE mem0g_requests_total counter\n"
    'mem0g_requests_total{endpoint="POST /v3/memories/search/",status="2xx"} 118\n'
)
PROMETHEUS_RESPONSE = OpenApiResponse(
    OpenApiTypes.STR,
    description="The Prometheus text exposition format (`text/plain; version=0.0.4`).",
    examples=[OpenApiExample("Prometheus", value=PROMETHEUS_EXAMPLE, media_type="text/plain")],
)


class StatusView(ApiView):
    """``GET /status``: database, embedder, version and uptime (any valid key)."""

    required_scope = None
    user_keys = True

    @extend_schema(
        operation_id="status",
        summary="Service status",
        description="Database (pgvector version, embedded or not), embedder (loaded or not yet), version and "
        "uptime. Answers 503 with the same body when the database is unreachable or the embedding model "
        "is missing.",
        tags=[OPERATIONS],
        responses={
            200: StatusResponse,
            503: OpenApiResponse(StatusResponse, description="Degraded: the database or the embedder is not usable."),
            **errors(),
        },
        examples=[
            example("Healthy", STATUS_EXAMPLE),
            example(
                "Degraded",
                {
                    **STATUS_EXAMPLE,
                    "status": "degraded",
                    "database": {"status": "unavailable", "error": "OperationalError"},
                },
                status=503,
            ),
        ],
    )
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


METRICS_TOKEN_AUTH = "metrics-token"


class MetricsTokenAuthentication(BaseAuthentication):
    """``Authorization: Bearer <METRICS_TOKEN>``: the operator's scraper, for ``/metrics`` only."""

    def authenticate(self, request):
        from accounts.authentication import raw_key_from

        token = settings.METRICS_TOKEN
        raw = raw_key_from(request) if token else None
        if raw is not None and hmac.compare_digest(raw.encode(), token.encode()):
            return AnonymousUser(), METRICS_TOKEN_AUTH
        return None

    def authenticate_header(self, request) -> str:
        return 'Token realm="mem0g"'  # a 401, not a 403, without credentials


class MetricsTokenScheme(OpenApiAuthenticationExtension):
    """``Authorization: Bearer <METRICS_TOKEN>``: a scheme of its own, offered on the metrics routes
    beside the API-key schemes every operation lists."""

    target_class = MetricsTokenAuthentication
    name = "MetricsToken"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "`Authorization: Bearer <METRICS_TOKEN>`."}


class MetricsAccess(BasePermission):
    """The metrics token, or an API key that passes the usual checks (rate limit, admin scope,
    no user restriction)."""

    def has_permission(self, request, view) -> bool:
        if request.auth == METRICS_TOKEN_AUTH:
            return True
        from accounts.permissions import HasScope, UserKeyFence, WithinRateLimit

        return all(check().has_permission(request, view) for check in (WithinRateLimit, HasScope, UserKeyFence))


def metrics_project(request):
    """None (server-wide) for the metrics token and for organisation keys of the operator's
    organisation (the default one, where ``ADMIN_API_KEYS`` live); else the key's own project."""
    from accounts.models import DEFAULT_ORGANIZATION_SLUG

    if request.auth == METRICS_TOKEN_AUTH:
        return None
    api_key = request.auth
    if api_key.is_organization_key and api_key.project.organization.slug == DEFAULT_ORGANIZATION_SLUG:
        return None
    return api_key.project_id


class MetricsView(ApiView):
    """``GET /metrics`` (admin scope): requests, latency percentiles and error rates per endpoint,
    summed over every worker: server-wide for the operator, else the key's own project's.
    ``Accept: text/plain`` gives the Prometheus text format."""

    required_scope = "admin"
    authentication_classes = [MetricsTokenAuthentication, *APIView.authentication_classes]
    permission_classes = [MetricsAccess]
    renderer_classes = [JSONRenderer, PrometheusTextRenderer]

    @extend_schema(
        operation_id="metrics",
        summary="Request metrics",
        description="Per endpoint: requests, responses by status class, error rates and latency percentiles "
        "(ms), summed over every worker. Server-wide (`scope: server`) for organisation keys of the operator's "
        "(default) organisation and for `Authorization: Bearer <METRICS_TOKEN>`; for any other admin key, the "
        "requests made with its own project's keys (`scope: project`). `Accept: text/plain` (without "
        "`application/json`) gives the Prometheus text format.",
        tags=[OPERATIONS],
        responses={
            (200, "application/json"): OpenApiResponse(
                MetricsResponse, examples=[OpenApiExample("Metrics", value=METRICS_EXAMPLE)]
            ),
            (200, "text/plain"): PROMETHEUS_RESPONSE,
            **errors(media_type="application/json"),
        },
    )
    def get(self, request):
        project_id = metrics_project(request)
        stats = metrics.snapshot(project_id)
        accept = request.META.get("HTTP_ACCEPT", "")
        if "text/plain" in accept and "application/json" not in accept:
            return prometheus_response(stats)
        return Response(
            {
                "scope": "server" if project_id is None else "project",
                "project_id": None if project_id is None else str(project_id),
                "endpoints": stats,
                "timestamp": timezone.now().isoformat(),
            }
        )


class PrometheusMetricsView(MetricsView):
    """``GET /metrics/prometheus`` (admin scope): the Prometheus text exposition format."""

    renderer_classes = [PrometheusTextRenderer, JSONRenderer]

    @extend_schema(
        operation_id="metrics_prometheus",
        summary="Request metrics for Prometheus",
        description="The metrics of `GET /metrics` (the same reach) in the Prometheus text exposition format.",
        tags=[OPERATIONS],
        responses={(200, "text/plain"): PROMETHEUS_RESPONSE, **errors(media_type="application/json")},
    )
    def get(self, request):
        return prometheus_response(metrics.snapshot(metrics_project(request)))


def prometheus_response(stats) -> HttpResponse:
    return HttpResponse(metrics.prometheus_text(stats), content_type="text/plain; version=0.0.4; charset=utf-8")
