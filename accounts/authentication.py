"""API-key authentication in the three forms the Mem0 world sends:

- ``Authorization: Token <key>`` (the official Mem0 SDKs),
- ``Authorization: Bearer <key>``,
- ``X-API-Key: <key>`` (Mem0's OSS server).
"""

from rest_framework import authentication, exceptions

from accounts import keycache
from accounts.models import ApiKey
from accounts.selectors import apikey_authenticate
from accounts.services import apikey_touch
from mem0g_site import timing

SCHEMES = ("token", "bearer")


class ApiKeyClient:
    """``request.user`` for a request made with an API key (the key itself is ``request.auth``)."""

    is_authenticated = True
    is_anonymous = False
    is_staff = False
    is_active = True
    pk = None

    def __init__(self, api_key: ApiKey) -> None:
        self.api_key = api_key

    def __str__(self) -> str:
        return f"api-key:{self.api_key.prefix}"


def raw_key_from(request) -> str | None:
    header = request.META.get("HTTP_AUTHORIZATION", "").strip()
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() not in SCHEMES or not value.strip():
            raise exceptions.AuthenticationFailed("Use 'Authorization: Token <key>', 'Bearer <key>' or X-API-Key")
        return value.strip()
    value = request.META.get("HTTP_X_API_KEY", "").strip()
    return value or None


class ApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        with timing.stage("auth"):
            return self._authenticate(request)

    def _authenticate(self, request):
        raw_key = raw_key_from(request)
        if raw_key is None:
            return None  # -> 401 "Authentication credentials were not provided" from the permission
        api_key = apikey_authenticate(raw_key)
        if api_key is None:
            raise exceptions.AuthenticationFailed("Invalid API key")
        apikey_touch(api_key=api_key)
        keycache.note_used(raw_key, api_key.last_used_at)
        # Logging and the rate-limit headers read these from Django's request.
        request._request.api_key = api_key
        return ApiKeyClient(api_key), api_key

    def authenticate_header(self, request) -> str:
        # Makes DRF answer 401 (with WWW-Authenticate) rather than 403 to unauthenticated calls.
        return 'Token realm="mem0g"'
