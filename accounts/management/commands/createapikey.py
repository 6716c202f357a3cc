from django.core.management.base import BaseCommand, CommandError

from accounts.services import apikey_create, project_get_or_create
from mem0g_site.exceptions import ApplicationError


class Command(BaseCommand):
    help = "Create an API key; the key is printed once, alone on the last line."

    def add_arguments(self, parser):
        parser.add_argument("--project", default="default", help="project name (created in the default organisation)")
        parser.add_argument("--scopes", default="read,write", help="comma-separated: read, write, admin")
        parser.add_argument("--user-id", default=None, help="restrict the key to this user's memories")
        parser.add_argument("--name", default="cli", help="a label for the key")

    def handle(self, *args, **options):
        try:
            project = project_get_or_create(name=options["project"])
            api_key, raw_key = apikey_create(
                project=project, name=options["name"], scopes=options["scopes"], user_id=options["user_id"]
            )
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        restriction = f", only user {api_key.user_id}" if api_key.user_id else ""
        self.stderr.write(
            f"Created key {api_key.prefix}… in project {project} with scopes {','.join(api_key.scopes)}{restriction}."
            " Store it now: it cannot be shown again."
        )
        self.stdout.write(raw_key)
