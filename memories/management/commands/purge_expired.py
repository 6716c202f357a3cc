"""``python manage.py purge_expired``: delete short-term memories past their expiry now (the job
workers also do it every TASK_MAINTENANCE_INTERVAL_SECONDS)."""

import re
from datetime import datetime

from django.core.management.base import BaseCommand, CommandError

from mem0g_site.inputs import read_moment
from memories.services import memories_purge_expired

# A clock set by hand says its zone (``Z`` or an offset), though the moment parser reads naive as UTC.
_ZONE = re.compile(r"(?:Z|[+-]\d\d(?::?\d\d)?)$", re.IGNORECASE)


def _moment(value: str) -> datetime:
    try:
        moment = read_moment(value)
    except (ValueError, OverflowError, OSError):
        moment = None
    if not isinstance(moment, datetime):
        raise CommandError(f"--now: {value!r} is not an ISO 8601 date-time")
    if not _ZONE.search(value.strip()) and not value.strip().replace(".", "", 1).isdigit():
        raise CommandError("--now must carry a time zone, e.g. 2026-01-01T00:00:00+00:00")
    return moment


class Command(BaseCommand):
    help = 'Hard-delete memories with metadata.memory_lifespan = "short_term" whose expiration date has passed.'

    def add_arguments(self, parser):
        parser.add_argument("--now", help="purge as of this ISO 8601 date-time instead of the current time")

    def handle(self, *args, **options):
        now = _moment(options["now"]) if options["now"] else None
        purged = memories_purge_expired(now=now)
        self.stdout.write(f"purged {purged} expired short-term memor{'y' if purged == 1 else 'ies'}")
