"""Portable archives over HTTP: ``GET /v1/archive/export`` and ``POST /v1/archive/import``.

Mem0 has no such routes; these are ours (docs/MIGRATING.md). Large archives go through the
``export_project`` / ``import_project`` commands.
"""

import io

from django.conf import settings
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.parsers import BaseParser
from rest_framework.response import Response

from accounts.access import key_user
from mem0g_site import openapi
from mem0g_site.api import ApiView
from mem0g_site.api_kit.parsing import as_bool
from mem0g_site.exceptions import Forbidden, UserNotFound
from memories.archive.format import KINDS, ArchiveTooLarge, encode_lines, read_records
from memories.archive.selectors import archive_counts, archive_records
from memories.archive.services import archive_import
from memories.inputs import clean_id

ARCHIVES = "Archives"
NDJSON = "application/x-ndjson"
GZIP = "application/gzip"

HEADER_EXAMPLE = (
    '{"kind":"header","format":"mem0g-archive","version":1,"source":"mem0g",'
    '"exported_at":"2026-01-06T08:30:00.123456+00:00","project":{"id":"7d1e0c52-3a8b-4f29-9c61-2b5e8d4f0a13",'
    '"name":"Default","slug":"default","organization":"default"},"user_id":"alice",'
    '"embedding":{"model":"all-MiniLM-L6-v2","dimensions":384,"vectors":false},'
    '"counts":{"entity":0,"memory":1,"history":1,"relationship":0,"entity_relation":0}}\n'
)
ARCHIVE_EXAMPLE = (
    HEADER_EXAMPLE + '{"kind":"memory","id":"9b2f6f3e-4c1a-4b7e-9a52-0f3c2d1e8a77","user_id":"alice","agent_id":null,'
    '"app_id":null,"run_id":null,"memory":"Prefers Python for scripting","hash":"5d41402abc4b2a76b9719d911017c592",'
    '"metadata":{},"categories":[],"valid_from":"2026-01-05T10:00:00+00:00","valid_to":null,'
    '"created_at":"2026-01-05T10:00:00+00:00","invalidated_at":null,"updated_at":"2026-01-05T10:00:00+00:00",'
    '"expiration_date":null,"immutable":false,"actor_id":null,"role":null,"embedding_model":"all-MiniLM-L6-v2"}\n'
    '{"kind":"history","id":"3c0d7a51-2b8e-4f6a-8d19-6e5b4a3c2d10","memory_id":"9b2f6f3e-4c1a-4b7e-9a52-0f3c2d1e8a77",'
    '"event":"ADD","old_memory":null,"new_memory":"Prefers Python for scripting","old_metadata":null,'
    '"new_metadata":{},"user_id":"alice","agent_id":null,"app_id":null,"run_id":null,"actor_id":null,"role":null,'
    '"is_deleted":false,"created_at":"2026-01-05T10:00:00+00:00","updated_at":"2026-01-05T10:00:00+00:00"}\n'
)


class ArchiveBodyParser(BaseParser):
    """The body as bytes (JSON Lines, plain or gzipped), up to ARCHIVE_IMPORT_MAX_BYTES."""

    media_type = "*/*"

    def parse(self, stream, media_type=None, parser_context=None):
        if stream is None:
            return b""
        limit = settings.ARCHIVE_IMPORT_MAX_BYTES
        data = stream.read(limit + 1)
        if len(data) > limit:
            raise ArchiveTooLarge(
                f"The archive is larger than {limit} bytes (ARCHIVE_IMPORT_MAX_BYTES); import it with "
                "`python manage.py import_project`",
                details={"limit": limit},
            )
        return data


class ArchiveCounts(serializers.Serializer):
    entity = serializers.IntegerField(help_text="Registered users, agents, apps and runs.")
    memory = serializers.IntegerField()
    history = serializers.IntegerField()
    relationship = serializers.IntegerField()
    entity_relation = serializers.IntegerField()


class ArchiveImported(serializers.Serializer):
    message = serializers.CharField()
    counts = ArchiveCounts(help_text="Records written, by kind.")
    re_embedded = serializers.IntegerField(help_text="Memories embedded here (no usable vector in the archive).")
    skipped_entities = serializers.IntegerField(help_text="Registered entities the project had already (kept).")
    remapped = serializers.BooleanField(help_text="True: every record got a new id.")


class ArchiveExportView(ApiView):
    required_scope = "read"
    user_keys = True
    query_params = frozenset({"user_id", "with_vectors", "gzip"})

    @extend_schema(
        operation_id="archive_export",
        summary="Export a portable archive",
        description="Streams the project's memories (every state: current, superseded, expired, with their "
        "validity intervals), history rows, relationships, entity relations and registered entities as a "
        "JSON Lines archive (docs/MIGRATING.md), or those of one `user_id`. A whole-project archive needs a "
        "key with the `admin` scope (an organisation key is one); a key restricted to one user exports that "
        "user, whatever `user_id` says otherwise (another user is a 404). A user without records is a 404. "
        "At most `ARCHIVE_EXPORT_MAX_RECORDS` records (413 beyond: use `manage.py export_project`).",
        tags=[ARCHIVES],
        parameters=[
            openapi.query("user_id", str, "Only this user's records (a user-restricted key: its user's)."),
            openapi.query("with_vectors", bool, "Include each memory's embedding vector (default false)."),
            openapi.query("gzip", bool, "Gzip the archive (`application/gzip`; default false)."),
        ],
        responses={
            (200, NDJSON): OpenApiResponse(
                OpenApiTypes.STR,
                description="The archive: a header line, then one record per line.",
                examples=[OpenApiExample("Archive of alice", value=ARCHIVE_EXAMPLE, media_type=NDJSON)],
            ),
            (200, GZIP): OpenApiResponse(OpenApiTypes.BINARY, description="`gzip=true`: the archive, gzipped."),
            **openapi.errors(404, 413, 422, media_type="application/json", e404=openapi.USER_NOT_FOUND),
        },
    )
    def get(self, request):
        params = request.query_params
        user_id = key_user(request.auth, clean_id(params.get("user_id") or None, field_name="user_id"))
        with_vectors = as_bool(params.get("with_vectors"), "with_vectors")
        compress = as_bool(params.get("gzip"), "gzip")
        if user_id is None and not request.auth.has_scope("admin"):
            raise Forbidden(
                "A whole-project archive needs a key with the 'admin' scope; name a user_id to export one user"
            )
        project = request.auth.project
        counts = archive_counts(project=project, user_id=user_id)
        if user_id is not None and not any(counts.values()):
            raise UserNotFound(user_id)
        total = sum(counts.values())
        if total > settings.ARCHIVE_EXPORT_MAX_RECORDS:
            raise ArchiveTooLarge(
                f"The archive would hold {total} records; the limit here is {settings.ARCHIVE_EXPORT_MAX_RECORDS} "
                "(ARCHIVE_EXPORT_MAX_RECORDS): export it with `python manage.py export_project`",
                details={"records": total, "limit": settings.ARCHIVE_EXPORT_MAX_RECORDS},
            )
        records = archive_records(project=project, user_id=user_id, with_vectors=with_vectors)
        response = StreamingHttpResponse(
            encode_lines(records, compress=compress), content_type=GZIP if compress else NDJSON
        )
        name = project.slug + (f"-{user_id}" if user_id else "")
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
        response["Content-Disposition"] = f'attachment; filename="{safe}.jsonl{".gz" if compress else ""}"'
        return response


class ArchiveImportView(ApiView):
    required_scope = "admin"
    query_params = frozenset({"remap_ids"})
    parser_classes = [ArchiveBodyParser]

    @extend_schema(
        operation_id="archive_import",
        summary="Import a portable archive",
        description="Writes an archive made by `GET /v1/archive/export` or `manage.py export_project` (the body: "
        "JSON Lines, plain or gzipped, any Content-Type) into the key's project. Every record is checked "
        "first; a bad archive is a 422 naming the line, and nothing is written. Then everything is written in "
        "one transaction. Ids are kept (a 409 when some are in use already); `remap_ids=true` gives every "
        "record a new id. Memories whose vectors are absent or from another embedding model are embedded "
        "again. Bodies up to `ARCHIVE_IMPORT_MAX_BYTES` (413 beyond: use `manage.py import_project`).",
        tags=[ARCHIVES],
        parameters=[openapi.query("remap_ids", bool, "Give every imported record a new id (default false).")],
        request={NDJSON: OpenApiTypes.STR, GZIP: OpenApiTypes.BINARY},
        examples=[OpenApiExample("Archive", value=ARCHIVE_EXAMPLE, media_type=NDJSON, request_only=True)],
        responses={
            200: OpenApiResponse(
                ArchiveImported,
                examples=[
                    OpenApiExample(
                        "Imported",
                        value={
                            "message": "Imported 2 records",
                            "counts": {"entity": 0, "memory": 1, "history": 1, "relationship": 0, "entity_relation": 0},
                            "re_embedded": 1,
                            "skipped_entities": 0,
                            "remapped": False,
                        },
                        response_only=True,
                    )
                ],
            ),
            **openapi.errors(
                409,
                413,
                422,
                e409=("CONFLICT", "The archive's ids are in use already (2 memory records)", {"taken": {"memory": 2}}),
                e422=("INVALID_ARCHIVE", "Invalid archive: line 3: memory: memory must not be empty", {"line": 3}),
            ),
        },
    )
    def post(self, request):
        remap = as_bool(request.query_params.get("remap_ids"), "remap_ids")
        data = request.data if isinstance(request.data, bytes) else b""
        report = archive_import(
            project=request.auth.project,
            open_records=lambda: read_records(io.BytesIO(data), max_bytes=settings.ARCHIVE_IMPORT_MAX_BYTES),
            remap_ids=remap,
        )
        total = sum(report.counts.values())
        return Response(
            {
                "message": f"Imported {total} record{'' if total == 1 else 's'}",
                "counts": {kind: report.counts.get(kind, 0) for kind in KINDS},
                "re_embedded": report.re_embedded,
                "skipped_entities": report.skipped_entities,
                "remapped": remap,
            }
        )
