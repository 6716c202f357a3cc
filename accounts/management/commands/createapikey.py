from django.core.management.base import BaseCommand, CommandError

from accounts.services import apikey_create, organization_find, project_get_or_create
from mem0g_site.exceptions import ApplicationError


class Command(BaseCommand):
    help = "Create an API key; the key is printed once, alone on the last line."

    def add_arguments(self, parser):
        parser.add_argument(
            "--project",
            default="default",
            help="project name: an existing project, or a new one in a new organisation of its own (unless --org)",
        )
        parser.add_argument("--org", default=None, help="the organisation (slug, name or id) of the project")
        parser.add_argument("--scopes", default="read,write", help="comma-separated: read, write, admin")
        parser.add_argument("--user-id", default=None, help="restrict the key to this user's memories")
        parser.add_argument(
            "--org-admin",
            action="store_true",
            help="an organisation key: manages every project of the organisation (implies the admin scope)",
        )
        parser.add_argument("--name", default="cli", help="a label for the key")

    def handle(self, *args, **options):
        try:
            organization = organization_find(name=options["org"]) if options["org"] else None
            project = project_get_or_create(name=options["project"], organization=organization)
            api_key, raw_key = apikey_create(
                project=project,
                name=options["name"],
                scopes=options["scopes"],
                user_id=options["user_id"],
                organization_key=options["org_admin"],
            )
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        restriction = f", only user {api_key.user_id}" if api_key.user_id else ""
        kind = f"organisation key of {project.organization.slug}" if api_key.is_organization_key else "key"
        self.stderr.write(
            f"Created {kind} {api_key.prefix}… in project {project} with scopes {','.join(api_key.scopes)}"
            f"{restriction}. Store it now: it cannot be shown again."
        )
        self.stdout.write(raw_key)
