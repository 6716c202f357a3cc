"""Webhook delivery, outside any request. The memory history (one row per ADD/UPDATE/DELETE) is the
outbox: ``webhook_deliveries_enqueue`` turns each new history row of a webhook's project, of the
event types it asked for, into one ``WebhookDelivery`` (once: a unique constraint per webhook and
row), and ``webhook_deliveries_send`` posts the due ones, retrying failures with a growing delay.
``python manage.py deliverwebhooks`` runs ``webhook_delivery_loop``, and so does every job worker
(``manage.py worker``, started by ``make run``) in a thread: ``WEBHOOK_DELIVERY_INTERVAL_SECONDS``.

Posts run in a pool of ``WEBHOOK_DELIVERY_THREADS`` threads, at most
``WEBHOOK_MAX_CONCURRENCY_PER_PROJECT`` for one project and one at a time for one webhook (so a
webhook gets its events in order), and a freed thread takes the next due delivery at once: one
tenant's slow endpoint holds only its own share. The pool threads only talk HTTP
(``accounts.webhook_guard.post``: address checks, no redirects, no proxies); the thread that
dispatches them claims and records every delivery through its own database connection.

Every request is signed the Standard Webhooks way (``webhook-id``, ``webhook-timestamp``,
``webhook-signature``: docs/API.md shows receivers how to verify)."""

import base64
import hashlib
import hmac
import json
import logging
import threading
import time
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from accounts import webhook_guard
from accounts.models import Webhook, WebhookDelivery
from memories.models import MemoryHistory

logger = logging.getLogger("mem0g.webhooks")

# A superseded memory (closed by a newer fact) is a change of that memory: memory_update.
HISTORY_EVENT_TYPES = {
    "ADD": "memory_add",
    "UPDATE": "memory_update",
    "SUPERSEDE": "memory_update",
    "DELETE": "memory_delete",
}
BATCH = 100
MAX_ATTEMPTS = 5
# While one worker posts a delivery, others leave it alone for this long (a post gives up after
# WEBHOOK_TIMEOUT_SECONDS; name resolution may add a little).
LEASE_MINIMUM = timedelta(seconds=60)


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
            .exclude(
                id__in=WebhookDelivery.objects.filter(project_id=webhook.project_id, webhook=webhook).values(
                    "history_id"
                )
            )
            .order_by("created_at", "id")[:batch]
        )
        WebhookDelivery.objects.bulk_create(
            [
                WebhookDelivery(
                    project_id=webhook.project_id,
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


def sign(*, secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header: ``v1,`` + base64 of the HMAC-SHA256, keyed with the
    base64-decoded part of the secret after ``whsec_``, of ``{id}.{timestamp}.{body}``."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def _post(delivery: WebhookDelivery, *, allow_private: bool, timeout: float) -> webhook_guard.Answer:
    """Sign and post one delivery (runs in a pool thread: no database here)."""
    body = json.dumps(delivery.payload).encode()
    message_id, timestamp = str(delivery.pk), int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": f"mem0g-webhooks/{settings.VERSION}",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(
            secret=delivery.webhook.secret, message_id=message_id, timestamp=timestamp, body=body
        ),
    }
    return webhook_guard.post(delivery.webhook.url, body, headers, allow_private=allow_private, timeout=timeout)


def _record(
    delivery: WebhookDelivery, answer: webhook_guard.Answer, *, now: datetime | None, counts: dict[str, int]
) -> None:
    """A 2xx is delivered; a refusal by the address guard fails at once (nothing was sent); anything
    else is retried after 30 s, 1, 2, 4 minutes, and failed after ``MAX_ATTEMPTS``."""
    now = now or timezone.now()
    delivery.attempts += 1
    delivery.last_status_code, delivery.last_error = answer.status, answer.error[:500]
    if answer.status is not None and 200 <= answer.status < 300:
        delivery.status, delivery.delivered_at = WebhookDelivery.Status.DELIVERED, timezone.now()
        counts["delivered"] += 1
    elif answer.refused or delivery.attempts >= MAX_ATTEMPTS:
        delivery.status = WebhookDelivery.Status.FAILED
        counts["failed"] += 1
    else:
        delivery.next_attempt_at = now + timedelta(seconds=30 * 2 ** (delivery.attempts - 1))
        counts["retried"] += 1
    delivery.save(
        update_fields=["attempts", "last_status_code", "last_error", "status", "delivered_at", "next_attempt_at"]
    )


class _Dispatcher:
    """Claims due deliveries into free pool threads, within the per-project and per-webhook caps,
    and records what each post came to. Used from one thread; the pool threads only post."""

    def __init__(self) -> None:
        self.threads = settings.WEBHOOK_DELIVERY_THREADS
        self.per_project = settings.WEBHOOK_MAX_CONCURRENCY_PER_PROJECT
        self.timeout = settings.WEBHOOK_TIMEOUT_SECONDS
        self.lease = max(LEASE_MINIMUM, timedelta(seconds=3 * self.timeout))
        self.pool = ThreadPoolExecutor(self.threads, thread_name_prefix="webhook-post")
        self.flights: dict[Future, WebhookDelivery] = {}

    def __enter__(self) -> "_Dispatcher":
        return self

    def __exit__(self, *exc) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)

    def fill(self, *, now: datetime, budget: int | None = None) -> int:
        """Claim and start due deliveries while threads are free (at most ``budget``); how many."""
        started = 0
        allow_private = settings.WEBHOOK_ALLOW_PRIVATE
        while len(self.flights) < self.threads and (budget is None or started < budget):
            busy_webhooks = {d.webhook_id for d in self.flights.values()}
            per_project = Counter(d.project_id for d in self.flights.values())
            full = [project for project, n in per_project.items() if n >= self.per_project]
            # Busy webhooks and full projects are left out in SQL, so the first row is always one
            # to take, however many rows a busy tenant has waiting.
            rows = list(
                WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now)
                .exclude(webhook_id__in=busy_webhooks)
                .exclude(project_id__in=full)
                .select_related("webhook")
                .order_by("next_attempt_at", "id")[: 4 * (self.threads - len(self.flights))]
            )
            if not rows:
                break
            for delivery in rows:
                if len(self.flights) >= self.threads or (budget is not None and started >= budget):
                    break
                project = delivery.project_id
                if delivery.webhook_id in busy_webhooks or per_project[project] >= self.per_project:
                    continue
                claimed = WebhookDelivery.objects.filter(
                    project_id=project,
                    pk=delivery.pk,
                    status=WebhookDelivery.Status.PENDING,
                    next_attempt_at=delivery.next_attempt_at,
                ).update(next_attempt_at=now + self.lease)
                if claimed != 1:
                    continue  # another worker has it (it is no longer due: the next query skips it)
                future = self.pool.submit(_post, delivery, allow_private=allow_private, timeout=self.timeout)
                self.flights[future] = delivery
                busy_webhooks.add(delivery.webhook_id)
                per_project[project] += 1
                started += 1
        return started

    def collect(self, *, timeout: float | None, now: datetime | None, counts: dict[str, int]) -> None:
        """Wait up to ``timeout`` for at least one post to finish; record every finished one."""
        if not self.flights:
            return
        done, _ = wait(list(self.flights), timeout=timeout, return_when=FIRST_COMPLETED)
        for future in done:
            delivery = self.flights.pop(future)
            try:
                answer = future.result()
            except Exception as exc:  # a bug, not the receiver's doing: retry like a network error
                logger.exception("posting webhook delivery %s failed", delivery.pk)
                answer = webhook_guard.Answer(None, f"internal error: {type(exc).__name__}")
            _record(delivery, answer, now=now, counts=counts)


def _counts() -> dict[str, int]:
    return {"delivered": 0, "retried": 0, "failed": 0}


def webhook_deliveries_send(*, batch: int = BATCH, now: datetime | None = None) -> dict[str, int]:
    """Post up to ``batch`` due deliveries (concurrently, within the caps) and wait for them all.
    Each delivery is claimed with a conditional UPDATE, so several workers never post the same one."""
    now = now or timezone.now()
    counts = _counts()
    with _Dispatcher() as dispatcher:
        started = 0
        while True:
            started += dispatcher.fill(now=now, budget=batch - started)
            if not dispatcher.flights:
                return counts
            dispatcher.collect(timeout=None, now=now, counts=counts)


def webhook_delivery_loop(*, interval: float, stop: threading.Event) -> None:
    """Deliver until ``stop`` is set (the job worker runs this in a thread): queue new events every
    ``interval`` seconds, and keep the pool busy in between: as soon as a post finishes, its thread
    takes the next due delivery. A failing pass is logged and the loop goes on; on stop, posts in
    flight are finished and recorded."""
    from django.db import connection

    counts = _counts()  # not reported: the WebhookDelivery rows say what happened
    next_pass = 0.0
    with _Dispatcher() as dispatcher:
        try:
            while not stop.is_set():
                try:
                    if time.monotonic() >= next_pass:
                        webhook_deliveries_enqueue()
                        next_pass = time.monotonic() + interval
                    dispatcher.fill(now=timezone.now())
                    if dispatcher.flights:
                        wait_for = min(max(next_pass - time.monotonic(), 0.0), 0.5)
                        dispatcher.collect(timeout=wait_for, now=None, counts=counts)
                    else:
                        connection.close()  # this thread's own connection: don't hold it while idle
                        stop.wait(max(next_pass - time.monotonic(), 0.0))
                except Exception:
                    logger.exception("webhook delivery pass failed")
                    connection.close()
                    stop.wait(interval)
        finally:
            while dispatcher.flights:
                try:
                    dispatcher.collect(timeout=None, now=None, counts=counts)
                except Exception:
                    logger.exception("recording webhook deliveries failed")
                    break
            connection.close()
