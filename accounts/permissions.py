"""Who may call what: a scope per view, and the per-key rate limits (checked first, so every
authenticated response, even a 403, carries the rate-limit headers)."""

from django.conf import settings
from django_ratelimit.core import get_usage
from rest_framework import exceptions, permissions

from accounts.models import ApiKey

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def _key_id(group, request) -> str:
    return str(request.auth.pk)


class WithinRateLimit(permissions.BasePermission):
    """``RATE_LIMIT_REQUESTS`` per ``RATE_LIMIT_WINDOW_MINUTES`` and ``RATE_LIMIT_BURST`` per 10 s,
    per API key, counted in the Django cache (Redis when several processes serve)."""

    def has_permission(self, request, view) -> bool:
        if not isinstance(request.auth, ApiKey):
            return True  # unauthenticated requests are refused by HasScope
        window = get_usage(
            request,
            group="api",
            key=_key_id,
            rate=f"{settings.RATE_LIMIT_REQUESTS}/{settings.RATE_LIMIT_WINDOW_MINUTES}m",
            increment=True,
        )
        request._request.ratelimit = window
        if window is not None and window["should_limit"]:
            raise exceptions.Throttled(wait=max(1, window["time_left"]))
        if settings.RATE_LIMIT_BURST:
            burst = get_usage(
                request, group="api-burst", key=_key_id, rate=f"{settings.RATE_LIMIT_BURST}/10s", increment=True
            )
            if burst is not None and burst["should_limit"]:
                raise exceptions.Throttled(wait=max(1, burst["time_left"]))
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
