"""``python manage.py import_project <archive> --project P``: an archive (ours or Mem0's) into a project."""

import json
import sys

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from tqdm import tqdm

from accounts.services import organization_find, project_get_or_create
from mem0g_site.exceptions import ApplicationError
from memories.archive.format import read_records
from memories.archive.mem0 import SOURCES, mem0_records
from memories.archive.services import archive_import
from memories.inputs import clean_id


class Command(BaseCommand):
    help = (
        "Import an archive written by export_project (plain or gzipped), or a Mem0 export (--from), into a "
        "project (made if missing). Everything is checked first; then it is written in one transaction, or "
        "nothing is. docs/MIGRATING.md"
    )

    def add_arguments(self, parser):
        parser.add_argument("archive", help="the archive file ('-': stdin)")
        parser.add_argument("--project", required=True, help="the project's name (made when it does not exist)")
        parser.add_argument("--org", default=None, help="the organisation (slug, name or id) of the project")
        parser.add_argument("--from", dest="source", default="archive", choices=("archive", *SOURCES))
        parser.add_argument("--remap-ids", action="store_true", help="give every record a new id")
        parser.add_argument("--user-id", default=None, help="Mem0 imports: the user of memories that name none")
        parser.add_argument("--id-map", default=None, help="with --remap-ids: write old -> new ids here (JSON)")
        parser.add_argument("--no-progress", action="store_true", help="no progress bars")

    def handle(self, *args, **options):
        path = options["archive"]
        if path == "-":
            data = sys.stdin.buffer.read()
        else:
            try:
                with open(path, "rb") as file:
                    data = None if options["source"] == "archive" else file.read()
            except OSError as exc:
                raise CommandError(f"cannot read {path}: {exc.strerror}") from None

        def progress(*, desc: str, total: int):
            return tqdm(total=total, desc=desc, unit="rec", file=sys.stderr, disable=options["no_progress"])

        try:
            user_id = clean_id(options["user_id"], field_name="user_id")
            if options["source"] != "archive":
                records = mem0_records(data, source=options["source"], default_user_id=user_id)

                def open_records():
                    return enumerate(records, 1)
            elif data is not None:
                import io

                def open_records():
                    return read_records(io.BytesIO(data))
            else:

                def open_records():
                    with open(path, "rb") as file:
                        yield from read_records(file)

            organization = organization_find(name=options["org"]) if options["org"] else None
            with transaction.atomic():  # a project made here is undone with a refused import
                project = project_get_or_create(name=options["project"], organization=organization)
                report = archive_import(
                    project=project, open_records=open_records, remap_ids=options["remap_ids"], progress=progress
                )
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        if options["id_map"]:
            with open(options["id_map"], "w") as file:
                json.dump(report.id_map, file, indent=1)
        counts = ", ".join(f"{count} {kind}" for kind, count in report.counts.items())
        skipped = f"; {report.skipped_entities} registered entities already there" if report.skipped_entities else ""
        self.stdout.write(f"imported into {project}: {counts}; embedded {report.re_embedded} memories here{skipped}")
