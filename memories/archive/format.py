"""The archive file format: JSON Lines, UTF-8, one object per line, optionally gzip-compressed.

The first line is the header::

    {"kind": "header", "format": "mem0g-archive", "version": 2, "exported_at": "...",
     "project": {"id", "name", "slug", "organization"}, "user_id": null | "alice",
     "embedding": {"model": "all-MiniLM-L6-v2", "dimensions": 384, "vectors": false},
     "counts": {"entity": 1, "memory": 12, "event": 5, "source": 9, "source_link": 12, "trace": 14,
                "history": 15, "relationship": 3, "entity_relation": 4}}

Every other line is a record ``{"kind": "<kind>", ...}`` of one of :data:`KINDS`, in that order
(a kind's records refer only to kinds before it). ``counts`` says how many records of each kind
follow, so a cut-off archive is recognised. A reader refuses an archive of a newer ``version`` and
any kind it does not know: nothing is silently dropped. Version 2 added the add events, the
messages kept as sources, their links to memories and the decision traces (and ``trace`` on history
rows); a version 1 archive, which has none of them, reads as before. This module knows no ORM.
"""

import gzip
import io
import json
import zlib
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, BinaryIO

from django.conf import settings

from mem0g_site.exceptions import ApplicationError, InvalidRequest, ValidationFailed
from mem0g_site.inputs import day_start, read_moment
from mem0g_site.parsers import check_json

FORMAT = "mem0g-archive"
VERSION = 2
# Record kinds, in the order an archive lists them (a kind refers only to kinds before it). A new
# kind is added here, in archive.selectors (export) and in archive.services (import).
KINDS = (
    "entity",
    "memory",
    "event",
    "source",
    "source_link",
    "trace",
    "history",
    "relationship",
    "entity_relation",
)
GZIP_MAGIC = b"\x1f\x8b"
CHUNK_BYTES = 64 * 1024
# No record comes near this (a memory is at most MEMORY_MAX_CHARS, its metadata 32 KiB, a vector ~10 KiB).
LINE_MAX_BYTES = 1024 * 1024


class ArchiveInvalid(ValidationFailed):
    """The archive cannot be read or holds a bad record; nothing was written."""

    code = "INVALID_ARCHIVE"

    def __init__(self, message: str, *, line: int | None = None) -> None:
        where = f"line {line}: " if line else ""
        super().__init__(f"Invalid archive: {where}{message}", details={"line": line} if line else None)
        self.line = line


class ArchiveTooLarge(ApplicationError):
    status = 413
    code = "ARCHIVE_TOO_LARGE"


def moment_text(value: datetime | None) -> str | None:
    """An aware datetime as ISO 8601 in UTC, microseconds kept (parses back to the same instant)."""
    return None if value is None else value.astimezone(UTC).isoformat()


def parse_moment(value: Any, *, field: str, line: int, required: bool = False) -> datetime | None:
    """ISO 8601 text as an aware datetime, read by the one moment parser
    (:func:`mem0g_site.inputs.read_moment`: ``Z``, an offset or none for UTC; a bare date is the start
    of that day)."""
    if value is None:
        if required:
            raise ArchiveInvalid(f"{field} is required", line=line)
        return None
    try:
        moment = read_moment(value) if isinstance(value, str) else None
    except (ValueError, OverflowError, OSError):
        moment = None
    if moment is None:
        raise ArchiveInvalid(f"{field} must be an ISO 8601 date-time, not {value!r}", line=line)
    return moment if isinstance(moment, datetime) else day_start(moment)


def header(
    *,
    project: dict[str, Any] | None,
    user_id: str | None,
    embedding_model: str | None,
    dimensions: int | None,
    with_vectors: bool,
    counts: dict[str, int],
    exported_at: datetime,
    source: str = "mem0g",
) -> dict[str, Any]:
    return {
        "kind": "header",
        "format": FORMAT,
        "version": VERSION,
        "source": source,
        "exported_at": moment_text(exported_at),
        "project": project,
        "user_id": user_id,
        "embedding": {"model": embedding_model, "dimensions": dimensions, "vectors": with_vectors},
        "counts": {kind: counts.get(kind, 0) for kind in KINDS},
    }


def check_header(record: Any, *, line: int = 1) -> dict[str, Any]:
    """The header, checked: our format, a version we read, counts for known kinds only."""
    if not isinstance(record, dict) or record.get("kind") != "header":
        raise ArchiveInvalid('the first line must be the header ({"kind": "header", ...})', line=line)
    if record.get("format") != FORMAT:
        raise ArchiveInvalid(f"format must be {FORMAT!r}, not {record.get('format')!r}", line=line)
    version = record.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ArchiveInvalid("version must be a positive whole number", line=line)
    if version > VERSION:
        raise ArchiveInvalid(f"version {version} is newer than this server reads ({VERSION}); upgrade it", line=line)
    counts = record.get("counts")
    if not isinstance(counts, dict):
        raise ArchiveInvalid("counts must be an object of record counts by kind", line=line)
    for kind, count in counts.items():
        if kind not in KINDS:
            raise ArchiveInvalid(f"counts names an unknown record kind {kind!r}", line=line)
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ArchiveInvalid(f"counts.{kind} must be a whole number", line=line)
    embedding = record.get("embedding")
    if embedding is not None and not isinstance(embedding, dict):
        raise ArchiveInvalid("embedding must be an object", line=line)
    return record


def encode(record: dict[str, Any]) -> bytes:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode() + b"\n"


def encode_lines(records: Iterable[dict[str, Any]], *, compress: bool = False) -> Iterator[bytes]:
    """The archive's bytes in chunks of about 64 KiB (gzip-compressed when ``compress``)."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31) if compress else None  # wbits 31: gzip framing
    buffer = bytearray()
    for record in records:
        buffer += encode(record)
        if len(buffer) >= CHUNK_BYTES:
            chunk = compressor.compress(bytes(buffer)) if compressor else bytes(buffer)
            buffer.clear()
            if chunk:
                yield chunk
    tail = compressor.compress(bytes(buffer)) + compressor.flush() if compressor else bytes(buffer)
    if tail:
        yield tail


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def read_records(stream: BinaryIO, *, max_bytes: int | None = None) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, record) for each non-blank line of an archive (gzip or plain: told apart by its
    first bytes). Lines that are not JSON objects with a known ``kind`` are :class:`ArchiveInvalid`;
    more than ``max_bytes`` of (uncompressed) text is :class:`ArchiveTooLarge`."""
    buffered = stream if hasattr(stream, "peek") else io.BufferedReader(stream)
    text = gzip.GzipFile(fileobj=buffered) if buffered.peek(2)[:2] == GZIP_MAGIC else buffered
    total = 0
    number = 0
    max_depth = settings.MAX_JSON_DEPTH + 2  # a record nests its metadata one level deeper than a request
    while True:
        try:
            raw = text.readline(LINE_MAX_BYTES + 1)
        except (OSError, EOFError, zlib.error) as exc:
            raise ArchiveInvalid(f"the gzip data is damaged or cut off ({exc})", line=number + 1) from None
        if not raw:
            return
        number += 1
        total += len(raw)
        if max_bytes is not None and total > max_bytes:
            raise ArchiveTooLarge(
                f"The archive is larger than {max_bytes} bytes (ARCHIVE_IMPORT_MAX_BYTES); "
                "import it with `python manage.py import_project`",
                details={"limit": max_bytes},
            )
        if len(raw) > LINE_MAX_BYTES:
            raise ArchiveInvalid(f"a line longer than {LINE_MAX_BYTES} bytes", line=number)
        if not raw.strip():
            continue
        try:
            record = json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
        except UnicodeDecodeError:
            raise ArchiveInvalid("not UTF-8 text", line=number) from None
        except (ValueError, RecursionError) as exc:
            raise ArchiveInvalid(f"not JSON ({exc})", line=number) from None
        if not isinstance(record, dict):
            raise ArchiveInvalid("each line must be a JSON object", line=number)
        try:
            check_json(record, max_depth=max_depth, what="archive line")
        except InvalidRequest as exc:
            raise ArchiveInvalid(exc.message, line=number) from None
        kind = record.get("kind")
        if kind != "header" and kind not in KINDS:
            raise ArchiveInvalid(f"unknown record kind {kind!r} (known: {', '.join(KINDS)})", line=number)
        yield number, record
