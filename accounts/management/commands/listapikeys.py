from django.core.management.base import BaseCommand

from accounts.models import ApiKey


class Command(BaseCommand):
    help = "List API keys (prefixes only; secrets are never stored)."

    def add_arguments(self, parser):
        parser.add_argument("--project", default=None, help="only this project's keys (name or slug)")
        parser.add_argument("--all", action="store_true", help="include revoked keys")

    def handle(self, *args, **options):
        keys = ApiKey.objects.select_related("project__organization").order_by("project__name", "-created_at")
        if options["project"]:
            keys = keys.filter(project__slug=options["project"]) | keys.filter(project__name=options["project"])
        if not options["all"]:
            keys = keys.filter(revoked_at__isnull=True)
        self.stdout.write(
            f"{'PREFIX':<14} {'PROJECT':<24} {'KIND':<13} {'SCOPES':<18} {'USER':<16} {'LAST USED':<20} NAME"
        )
        for key in keys:
            last_used = key.last_used_at.strftime("%Y-%m-%d %H:%M") if key.last_used_at else "never"
            state = " (revoked)" if key.revoked_at else ""
            self.stdout.write(
                f"{key.prefix:<14} {str(key.project):<24} {key.kind:<13} {','.join(key.scopes):<18} "
                f"{key.user_id or '-':<16} "
                f"{last_used:<20} {key.name}{state}"
            )
