from django.core.management.base import BaseCommand, CommandError

from accounts.selectors import apikey_find
from accounts.services import apikey_revoke
from mem0g_site.exceptions import ApplicationError


class Command(BaseCommand):
    help = "Revoke an API key, given its prefix (as listapikeys shows it) or the whole key."

    def add_arguments(self, parser):
        parser.add_argument("prefix")

    def handle(self, *args, **options):
        try:
            api_key = apikey_find(prefix=options["prefix"][:12])
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        apikey_revoke(api_key=api_key)
        self.stdout.write(f"Revoked {api_key.prefix}… ({api_key.name}) in project {api_key.project}.")
