"""Webhooks: create, update, rotate their secret, delete (delivery: ``accounts.webhooks``)."""

from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import URLValidator
from django.utils import timezone

from accounts.models import WEBHOOK_EVENT_TYPES, Project, Webhook, webhook_secret_new
from accounts.services.projects import clean_name
from accounts.webhook_guard import url_refusal
from mem0g_site.exceptions import ValidationFailed
from mem0g_site.inputs import UNSET, changes_given

# --- webhooks -------------------------------------------------------------------------------


def _clean_webhook_url(url: Any) -> str:
    if not isinstance(url, str) or len(url) > 2000:
        raise ValidationFailed("url must be an http(s) URL", field="url")
    try:
        URLValidator(schemes=["http", "https"])(url)
    except DjangoValidationError:
        raise ValidationFailed("url must be an http(s) URL", field="url") from None
    refusal = url_refusal(url, allow_private=settings.WEBHOOK_ALLOW_PRIVATE)
    if refusal:
        raise ValidationFailed(
            f"url is not allowed: {refusal}; webhooks may reach only public addresses",
            details={"field": "url", "reason": refusal},
        )
    return url


def _clean_event_types(event_types: Any) -> list[str]:
    if not isinstance(event_types, list) or not event_types:
        raise ValidationFailed("event_types must be a non-empty list", field="event_types")
    unknown = [e for e in event_types if e not in WEBHOOK_EVENT_TYPES]
    if unknown:
        raise ValidationFailed(
            f"unknown event type(s) {unknown!r}; use {', '.join(WEBHOOK_EVENT_TYPES)}", field="event_types"
        )
    return list(dict.fromkeys(event_types))


def webhook_create(*, project: Project, name: Any, url: Any, event_types: Any, now: datetime | None = None) -> Webhook:
    now = now or timezone.now()
    return Webhook.objects.create(
        project=project,
        name=clean_name(name, field="name"),
        url=_clean_webhook_url(url),
        event_types=_clean_event_types(event_types),
        created_at=now,
        updated_at=now,
    )


def webhook_update(
    *, webhook: Webhook, name: Any = UNSET, url: Any = UNSET, event_types: Any = UNSET, now: datetime | None = None
) -> Webhook:
    """Change what is given; nothing given is a 422."""
    changes = changes_given(
        {
            "name": (name, lambda value: clean_name(value, field="name")),
            "url": (url, _clean_webhook_url),
            "event_types": (event_types, _clean_event_types),
        }
    )
    for field, value in changes.items():
        setattr(webhook, field, value)
    webhook.updated_at = now or timezone.now()
    webhook.save(update_fields=[*changes, "updated_at"])
    return webhook


def webhook_secret_rotate(*, webhook: Webhook, now: datetime | None = None) -> str:
    """Give the webhook a new signing secret (the old one stops at once) and return it."""
    webhook.secret = webhook_secret_new()
    webhook.updated_at = now or timezone.now()
    webhook.save(update_fields=["secret", "updated_at"])
    return webhook.secret


def webhook_delete(*, webhook: Webhook) -> None:
    webhook.delete()
