"""``python manage.py worker``: run background jobs (queued adds, the periodic maintenance job)
until Ctrl-C or SIGTERM. ``serve`` starts ``TASK_WORKERS`` of these; run more anywhere that
reaches the same database.

A thin layer over django-tasks-db's ``db_worker``: it first makes sure the periodic maintenance
job is queued and starts webhook delivery in a thread, then hands over to the library's worker loop.
"""

import threading

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.db.utils import DatabaseError
from django_tasks_db.models import DBTaskResult

from accounts.webhooks import webhook_delivery_loop
from memories.embedding import get_embedder
from memories.tasks import maintenance_schedule


class Command(BaseCommand):
    help = "Run mem0g's background jobs (async adds, purge of expired short-term memories)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--interval", type=float, default=1.0, help="seconds between polls of an empty queue (default 1)"
        )
        parser.add_argument(
            "--check", action="store_true", help="check that the job queue is reachable, then exit (healthchecks)"
        )

    def handle(self, *args, **options):
        try:
            waiting = DBTaskResult.objects.ready().count()
            if options["check"]:
                self.stdout.write(f"job queue reachable: {waiting} job(s) ready")
                return
            maintenance_schedule()
        except DatabaseError as exc:
            first_line = (str(exc).strip().splitlines() or [exc.__class__.__name__])[0]
            raise CommandError(f"job queue unreachable ({first_line}); did `manage.py migrate` run?") from None
        connection.close()
        # Load the embedding model now, so the first job's latency is its own work.
        get_embedder().embed(["warm-up"])
        if settings.WEBHOOK_DELIVERY_INTERVAL_SECONDS > 0:
            # Webhook delivery rides along in a thread (its own database connection); it stops with
            # the process, and a delivery cut short is posted again by the next worker (at least once).
            threading.Thread(
                target=webhook_delivery_loop,
                kwargs={"interval": settings.WEBHOOK_DELIVERY_INTERVAL_SECONDS, "stop": threading.Event()},
                name="webhook-delivery",
                daemon=True,
            ).start()
        call_command(
            "db_worker",
            queue_name="default",
            interval=options["interval"],
            reload=False,
            verbosity=options["verbosity"],
        )
