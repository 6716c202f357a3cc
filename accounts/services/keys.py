"""API keys (create, revoke, touch, bootstrap from API_KEYS) and the admin user."""

import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from accounts.models import ApiKey, Project, hash_key
from accounts.selectors import KEY_PREFIX_LENGTH, project_default
from mem0g_site.exceptions import ValidationFailed
from memories.inputs import clean_id

ADMIN_USERNAME = "admin"
# How stale last_used_at may get before a request refreshes it (one write per key per minute,
# not one per request).
LAST_USED_RESOLUTION = timedelta(seconds=60)


@transaction.atomic
def admin_user_ensure(*, password: str):
    """Create or update the superuser ``admin`` with ``password`` (MEM0G_ADMIN_PASSWORD)."""
    user_model = get_user_model()
    user, _ = user_model.objects.get_or_create(username=ADMIN_USERNAME, defaults={"email": ""})
    user.is_staff = True
    user.is_superuser = True
    user.is_active = True
    user.set_password(password)
    user.save()
    return user


def _clean_scopes(scopes: Iterable[str]) -> list[str]:
    if isinstance(scopes, str):
        scopes = [part.strip() for part in scopes.split(",")]
    cleaned = sorted({scope.strip().lower() for scope in scopes if scope and scope.strip()})
    unknown = [scope for scope in cleaned if scope not in ApiKey.Scope.values]
    if unknown or not cleaned:
        raise ValidationFailed(
            f"scopes must be a non-empty subset of {', '.join(ApiKey.Scope.values)}"
            f" (got {', '.join(unknown) or 'none'})",
            field="scopes",
        )
    return cleaned


def _store_key(
    *,
    project: Project,
    name: str,
    raw_key: str,
    scopes: list[str],
    user_id: str | None,
    now: datetime,
    kind: str = ApiKey.Kind.PROJECT,
) -> ApiKey:
    salt = secrets.token_hex(16)
    return ApiKey.objects.create(
        project=project,
        name=name,
        prefix=raw_key[:KEY_PREFIX_LENGTH],
        salt=salt,
        secret_hash=hash_key(raw_key, salt),
        scopes=scopes,
        kind=kind,
        user_id=user_id,
        created_at=now,
    )


def apikey_create(
    *,
    project: Project,
    name: str,
    scopes: Iterable[str],
    user_id: str | None = None,
    organization_key: bool = False,
    now: datetime | None = None,
) -> tuple[ApiKey, str]:
    """Make a new key; returns the row and the key itself, which is not stored and never shown again.
    An ``organization_key`` manages every project of ``project``'s organisation: it has the admin
    scope and cannot be restricted to a user."""
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise ValidationFailed("name must be a non-empty string of at most 200 characters", field="name")
    scopes = _clean_scopes(scopes)
    user_id = clean_id(user_id, field_name="user_id")
    if organization_key:
        if user_id is not None:
            raise ValidationFailed("an organisation key cannot be restricted to one user", field="user_id")
        scopes = sorted({*scopes, ApiKey.Scope.ADMIN})
    raw_key = "mem0_" + secrets.token_urlsafe(32)
    api_key = _store_key(
        project=project,
        name=name.strip(),
        raw_key=raw_key,
        scopes=scopes,
        user_id=user_id,
        kind=ApiKey.Kind.ORGANIZATION if organization_key else ApiKey.Kind.PROJECT,
        now=now or timezone.now(),
    )
    return api_key, raw_key


def apikey_revoke(*, api_key: ApiKey, now: datetime | None = None) -> ApiKey:
    if api_key.revoked_at is None:
        api_key.revoked_at = now or timezone.now()
        api_key.save(update_fields=["revoked_at"])
    return api_key


def apikey_touch(*, api_key: ApiKey, now: datetime | None = None) -> None:
    """Record use, at most once a minute per key (a conditional UPDATE, no read)."""
    now = now or timezone.now()
    if api_key.last_used_at is not None and now - api_key.last_used_at < LAST_USED_RESOLUTION:
        return
    ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
    api_key.last_used_at = now


@transaction.atomic
def apikeys_bootstrap(*, keys: Iterable[str], admin_keys: Iterable[str], now: datetime | None = None) -> int:
    """Make sure the keys given in API_KEYS (read, write) and ADMIN_API_KEYS (read, write, admin)
    exist, active, in the default project. Admin keys are the operator's: organisation keys of the
    default organisation. Returns how many were created or changed."""
    now = now or timezone.now()
    project = project_default()
    wanted: dict[str, tuple[list[str], str]] = {}
    for raw_key in keys:
        wanted[raw_key] = (["read", "write"], ApiKey.Kind.PROJECT)
    for raw_key in admin_keys:
        wanted[raw_key] = (["admin", "read", "write"], ApiKey.Kind.ORGANIZATION)
    changed = 0
    for raw_key, (scopes, kind) in wanted.items():
        if len(raw_key) < 16:
            raise ValidationFailed("bootstrap keys must be at least 16 characters long", field="API_KEYS")
        existing = next(
            (key for key in ApiKey.objects.filter(prefix=raw_key[:KEY_PREFIX_LENGTH]) if key.matches(raw_key)),
            None,
        )
        if existing is None:
            _store_key(
                project=project, name="bootstrap", raw_key=raw_key, scopes=scopes, user_id=None, kind=kind, now=now
            )
            changed += 1
        elif (existing.scopes, existing.kind, existing.revoked_at, existing.user_id) != (scopes, kind, None, None):
            existing.scopes, existing.kind, existing.revoked_at, existing.user_id = scopes, kind, None, None
            existing.save(update_fields=["scopes", "kind", "revoked_at", "user_id"])
            changed += 1
    return changed
