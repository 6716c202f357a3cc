"""Webhook delivery, outside any request. The memory history (one row per ADD/UPDATE/DELETE) is the
outbox: ``webhook_deliveries_enqueue`` turns each new history row of a webhook's project, of the
event types it asked for, into one ``WebhookDelivery`` (once: a unique constraint per webhook and
row), and ``webhook_deliveries_send`` posts the due ones, retrying failures with a growing delay.
``python manage.py deliverwebhooks`` runs both in a loop."""

import json
import urllib.error
import urllib.request
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from accounts.models import Webhook, WebhookDelivery

HISTORY_EVENT_TYPES = {"ADD": "memory_add", "UPDATE": "memory_update", "DELETE": "memory_delete"}
BATCH = 100
MAX_ATTEMPTS = 5
TIMEOUT_SECONDS = 10
# While one worker posts a delivery, others leave it alone for this long.
LEASE = timedelta(seconds=60)


def _payload(webhook: Webhook, row) -> dict:
    text = row.new_memory if row.new_memory is not None else row.old_memory
    return {
        "event_type": HISTORY_EVENT_TYPES[row.event],
        "webhook_id": webhook.id,
        "project_id": str(webhook.project_id),
        "event_details": {
            "id": str(row.memory_id),
            "event": row.event,
            "data": {"memory": text},
            "user_id": row.user_id,
            "agent_id": row.agent_id,
            "app_id": row.app_id,
            "run_id": row.run_id,
            "created_at": row.created_at.isoformat(),
        },
    }


def webhook_deliveries_enqueue(*, batch: int = BATCH, now: datetime | None = None) -> int:
    """Queue, per active webhook, up to ``batch`` history rows made since the webhook was created
    and not queued for it yet. Returns how many rows were looked at."""
    from memories.models import MemoryHistory

    now = now or timezone.now()
    seen = 0
    for webhook in Webhook.objects.filter(is_active=True):
        events = [event for event, name in HISTORY_EVENT_TYPES.items() if name in webhook.event_types]
        if not events:
            continue
        rows = list(
            MemoryHistory.objects.filter(
                project_id=webhook.project_id, created_at__gte=webhook.created_at, event__in=events
            )
            .exclude(id__in=WebhookDelivery.objects.filter(webhook=webhook).values("history_id"))
            .order_by("created_at", "id")[:batch]
        )
        WebhookDelivery.objects.bulk_create(
            [
                WebhookDelivery(
                    webhook=webhook,
                    history_id=row.id,
                    event_type=HISTORY_EVENT_TYPES[row.event],
                    payload=_payload(webhook, row),
                    next_attempt_at=now,
                )
                for row in rows
            ],
            ignore_conflicts=True,  # another worker queued it first
        )
        seen += len(rows)
    return seen


def _post(url: str, payload: dict) -> tuple[int | None, str]:
    """POST ``payload`` as JSON; (status code or None, error text)."""
    request = urllib.request.Request(
        url,
        data=json.dumps(payload).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": f"mem0g-webhooks/{settings.VERSION}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310 (http/https only)
            return response.status, ""
    except urllib.error.HTTPError as exc:
        return exc.code, f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return None, str(getattr(exc, "reason", exc))[:500]


def webhook_deliveries_send(*, batch: int = BATCH, now: datetime | None = None) -> dict[str, int]:
    """Post up to ``batch`` due deliveries. A 2xx is delivered; anything else is retried after
    30 s, 1, 2, 4 minutes, and marked failed after ``MAX_ATTEMPTS``. Each delivery is claimed with
    a conditional UPDATE, so several workers never post the same one at once."""
    now = now or timezone.now()
    counts = {"delivered": 0, "retried": 0, "failed": 0}
    due = list(
        WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now)
        .select_related("webhook")
        .order_by("next_attempt_at", "id")[:batch]
    )
    for delivery in due:
        claimed = WebhookDelivery.objects.filter(
            pk=delivery.pk, status=WebhookDelivery.Status.PENDING, next_attempt_at=delivery.next_attempt_at
        ).update(next_attempt_at=now + LEASE)
        if claimed != 1:
            continue  # another worker has it
        status_code, error = _post(delivery.webhook.url, delivery.payload)
        delivery.attempts += 1
        delivery.last_status_code, delivery.last_error = status_code, error
        if status_code is not None and 200 <= status_code < 300:
            delivery.status, delivery.delivered_at = WebhookDelivery.Status.DELIVERED, timezone.now()
            counts["delivered"] += 1
        elif delivery.attempts >= MAX_ATTEMPTS:
            delivery.status = WebhookDelivery.Status.FAILED
            counts["failed"] += 1
        else:
            delivery.next_attempt_at = now + timedelta(seconds=30 * 2 ** (delivery.attempts - 1))
            counts["retried"] += 1
        delivery.save(
            update_fields=["attempts", "last_status_code", "last_error", "status", "delivered_at", "next_attempt_at"]
        )
    return counts
