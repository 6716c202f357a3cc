"""Who may call what: a scope per view, and the per-key rate limits (checked first, so every
authenticated response, even a 403, carries the rate-limit headers)."""

import logging

from django.conf import settings
from rest_framework import exceptions, permissions

from accounts import counters, leases
from accounts.models import ApiKey
from mem0g_site import timing
from mem0g_site.exceptions import ServiceUnavailable

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
BURST_SECONDS = 10
logger = logging.getLogger("mem0g.ratelimit")


class WithinRateLimit(permissions.BasePermission):
    """``RATE_LIMIT_REQUESTS`` per ``RATE_LIMIT_WINDOW_MINUTES`` and ``RATE_LIMIT_BURST`` per 10 s,
    per API key. Both windows are counted in the shared counter store (accounts/counters.py:
    PostgreSQL, or Redis with ``REDIS_URL``), so every worker process draws on the same budget: a
    request takes a slot in each, from its process's lease of slots (accounts/leases.py) or, with
    ``RATE_LIMIT_LEASE_MAX=1``, in one step of the store. Every authenticated request counts,
    refused ones included."""

    def has_permission(self, request, view) -> bool:
        if not isinstance(request.auth, ApiKey):
            return True  # unauthenticated requests are refused by HasScope
        with timing.stage("ratelimit"):
            return self._count(request)

    def _count(self, request) -> bool:
        key_id = request.auth.pk
        window = counters.Window(f"rl:w:{key_id}", settings.RATE_LIMIT_WINDOW_MINUTES * 60)
        burst = counters.Window(f"rl:b:{key_id}", BURST_SECONDS) if settings.RATE_LIMIT_BURST else None
        limits = {window: settings.RATE_LIMIT_REQUESTS}
        if burst is not None:
            limits[burst] = settings.RATE_LIMIT_BURST
        try:
            counted = leases.take(limits, lease_max=settings.RATE_LIMIT_LEASE_MAX)
        except counters.StoreError:
            logger.warning("rate-limit store unavailable", exc_info=True)
            if not settings.RATE_LIMIT_FAIL_OPEN:
                raise ServiceUnavailable("Rate limits cannot be counted right now; retry shortly") from None
            return True  # let the request through uncounted (and without X-RateLimit-* headers)
        usage = counted[window.name]
        request._request.ratelimit = {
            "limit": settings.RATE_LIMIT_REQUESTS,
            "count": usage.count,
            "time_left": usage.seconds_left,
        }
        if usage.count > settings.RATE_LIMIT_REQUESTS:
            raise exceptions.Throttled(wait=usage.seconds_left)
        if burst is not None and counted[burst.name].count > settings.RATE_LIMIT_BURST:
            raise exceptions.Throttled(wait=counted[burst.name].seconds_left)
        return True


class HasScope(permissions.BasePermission):
    """The key needs the view's ``required_scope``; by default ``read`` for GET/HEAD/OPTIONS and
    ``write`` for the rest. ``required_scope = None`` accepts any valid key."""

    def has_permission(self, request, view) -> bool:
        if not isinstance(request.auth, ApiKey):
            raise exceptions.NotAuthenticated()
        default = ApiKey.Scope.READ if request.method in SAFE_METHODS else ApiKey.Scope.WRITE
        scope = getattr(view, "required_scope", default)
        if isinstance(scope, dict):
            scope = scope.get(request.method, default)
        if scope is not None and not request.auth.has_scope(scope):
            raise exceptions.PermissionDenied(f"This API key lacks the '{scope}' scope")
        return True


class UserKeyFence(permissions.BasePermission):
    """A key restricted to one ``user_id`` may call only the routes about that user's memories:
    the views that set ``user_keys = True`` (and fence every input to the key's user). Every other
    route (organisation, projects, members, webhooks, profile settings, metrics) answers it 403, so a
    new route is closed to such keys until it says otherwise."""

    message = "This API key is restricted to one user and cannot call this route"

    def has_permission(self, request, view) -> bool:
        if isinstance(request.auth, ApiKey) and request.auth.user_id is not None:
            if not getattr(view, "user_keys", False):
                raise exceptions.PermissionDenied(self.message)
        return True
