"""``python manage.py export_project <project>``: a project (or one user of it) as a portable archive."""

import sys

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from accounts.services import organization_find
from mem0g_site.exceptions import ApplicationError
from memories.archive.format import encode_lines
from memories.archive.selectors import archive_counts, archive_records, project_find
from memories.inputs import clean_id


class Command(BaseCommand):
    help = (
        "Write a project's memories, history, relationships, entity relations and registered entities (or one "
        "user's) as a JSON Lines archive (docs/MIGRATING.md). Progress goes to stderr."
    )

    def add_arguments(self, parser):
        parser.add_argument("project", help="the project's slug, name or id")
        parser.add_argument("--org", default=None, help="the organisation (slug, name or id) of the project")
        parser.add_argument("--user-id", default=None, help="only this user's records")
        parser.add_argument("--output", "-o", default="-", help="file to write (default: stdout); *.gz is gzipped")
        parser.add_argument("--gzip", action="store_true", help="gzip the archive (implied by an --output ending .gz)")
        parser.add_argument("--with-vectors", action="store_true", help="include the embedding vectors")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, **options):
        try:
            organization = organization_find(name=options["org"]) if options["org"] else None
            project = project_find(name=options["project"], organization=organization)
            user_id = clean_id(options["user_id"], field_name="user_id")
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        output = options["output"]
        compress = options["gzip"] or output.endswith(".gz")
        total = sum(archive_counts(project=project, user_id=user_id).values()) + 1
        bar = tqdm(total=total, desc="exporting", unit="rec", file=sys.stderr, disable=options["no_progress"])

        def counted():
            for record in archive_records(project=project, user_id=user_id, with_vectors=options["with_vectors"]):
                bar.update(1)
                yield record

        target = sys.stdout.buffer if output == "-" else open(output, "wb")  # noqa: SIM115
        written = 0
        try:
            for chunk in encode_lines(counted(), compress=compress):
                target.write(chunk)
                written += len(chunk)
        finally:
            bar.close()
            if target is not sys.stdout.buffer:
                target.close()
            else:
                target.flush()
        where = "stdout" if output == "-" else output
        self.stderr.write(f"wrote {bar.n} records ({written} bytes) of project {project} to {where}")
