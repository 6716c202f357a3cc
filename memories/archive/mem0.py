"""Mem0's exports read as archive records (header, memories, one ADD history row per memory).

- ``mem0-oss``: the JSON of Mem0 OSS ``Memory.get_all()`` or of its server's ``GET /memories``:
  ``{"results": [item, ...]}`` (or a bare list), items as ``Memory.get()`` gives them: ``id``,
  ``memory``, ``hash``, ``metadata``, ``created_at``, ``updated_at`` and, when present, ``user_id``,
  ``agent_id``, ``run_id``, ``actor_id``, ``role``, ``attributed_to``, ``expiration_date``.
- ``mem0-pgvector``: a dump of Mem0 OSS's pgvector table (``mem0``: ``id UUID``, ``vector``,
  ``payload JSONB``) as CSV (``\\copy mem0 TO 'mem0.csv' CSV HEADER``), as ``COPY ... TO STDOUT``
  text, as a ``pg_dump`` of the table, or as JSON lines of ``row_to_json``. The payload holds the
  text (``data``), ``hash``, times, the ids, and the caller's metadata keys at its top level;
  Mem0's entity-store rows (``entity_type`` + ``linked_memory_ids``) and rows without text are skipped.
- ``mem0-platform``: the result of a Mem0 Platform export (``POST /v1/exports/get/``): an object
  with ``results`` (or ``memories``, or ``data``) or a bare list of memories, each with ``memory``
  (or ``text``/``content``) and, when the export's schema kept them, ``id``, the four ids,
  ``metadata``, ``categories``, ``created_at``, ``updated_at``, ``expiration_date``, ``immutable``.

Mem0's vectors come from another model (OpenAI's by default), so imported memories are always
embedded again. Memories without any of user_id/agent_id/app_id/run_id take ``default_user_id``.
"""

import csv
import io
import json
import re
import sys
import uuid
from datetime import date, datetime
from typing import Any

from django.utils import timezone

from mem0g_site.inputs import day_start, read_moment
from memories.archive.format import ArchiveInvalid, header, moment_text
from memories.inputs import clean_expiration
from memories.models import SCOPE_FIELDS

SOURCES = ("mem0-oss", "mem0-pgvector", "mem0-platform")
# Payload keys Mem0 keeps for itself; the rest of a payload is the caller's metadata.
PAYLOAD_CORE = {"data", "hash", "created_at", "updated_at", "id", "text_lemmatized"}
PROMOTED = ("user_id", "agent_id", "app_id", "run_id", "actor_id", "role", "expiration_date")
TEXT_KEYS = ("memory", "text", "content", "data")
HISTORY_NAMESPACE = uuid.UUID("6f0d2c4e-5b7a-4e1f-9c3d-8a2b1e0f4d6c")
_COPY_START = re.compile(r"^COPY\s+(\S+)\s*\(([^)]*)\)\s+FROM\s+stdin;\s*$", re.IGNORECASE)
_COPY_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{1,2}|[0-7]{1,3}|.)")
_COPY_CHARS = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


def _day_or_moment(value: Any, *, where: str, field: str) -> date | datetime | None:
    """Read by the one moment parser (:func:`mem0g_site.inputs.read_moment`)."""
    try:
        return read_moment(value)
    except (ValueError, OverflowError, OSError):
        raise ArchiveInvalid(f"{where}: {field} is not a date-time ({value!r})") from None


def _moment(value: Any, *, where: str, field: str) -> datetime | None:
    moment = _day_or_moment(value, where=where, field=field)
    return day_start(moment) if isinstance(moment, date) and not isinstance(moment, datetime) else moment


def _expiration(value: Any, *, where: str) -> datetime | None:
    """Mem0's ``expiration_date`` is a day, ``YYYY-MM-DD``: the memory is served through that day."""
    return clean_expiration(_day_or_moment(value, where=where, field="expiration_date"))


def _text_of(item: dict) -> Any:
    for key in TEXT_KEYS:
        if isinstance(item.get(key), str) and item[key].strip():
            return item[key]
    return None


def _memory_records(item: dict, *, where: str, default_user_id: str | None, now: datetime) -> list[dict]:
    """One Mem0 memory as our memory record and its ADD history row."""
    text = _text_of(item)
    if text is None:
        raise ArchiveInvalid(f"{where}: no memory text ({', '.join(TEXT_KEYS)})")
    raw_id = item.get("id")
    try:
        memory_id = uuid.UUID(str(raw_id)) if raw_id not in (None, "") else uuid.uuid4()
    except ValueError:
        # Not a UUID (some schema-shaped exports): a stable id made from it.
        memory_id = uuid.uuid5(HISTORY_NAMESPACE, str(raw_id))
    scope = {name: item.get(name) for name in SCOPE_FIELDS}
    if scope["run_id"] is None and item.get("session_id") is not None:
        scope["run_id"] = item["session_id"]
    scope = {
        name: (str(value) if isinstance(value, int) and not isinstance(value, bool) else value)
        for name, value in scope.items()
    }
    if all(value in (None, "") for value in scope.values()):
        if default_user_id is None:
            raise ArchiveInvalid(f"{where}: no user_id, agent_id, app_id or run_id; name a user (--user-id)")
        scope["user_id"] = default_user_id
    metadata = item.get("metadata")
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict):
        raise ArchiveInvalid(f"{where}: metadata must be an object")
    if item.get("attributed_to") is not None and "attributed_to" not in metadata:
        metadata = {**metadata, "attributed_to": item["attributed_to"]}
    created_at = _moment(item.get("created_at"), where=where, field="created_at") or now
    updated_at = _moment(item.get("updated_at"), where=where, field="updated_at") or created_at
    categories = item.get("categories")
    memory = {
        "kind": "memory",
        "id": str(memory_id),
        **scope,
        "memory": text,
        "metadata": metadata,
        "categories": categories if categories is not None else [],
        "valid_from": moment_text(created_at),
        "valid_to": None,
        "created_at": moment_text(created_at),
        "invalidated_at": None,
        "updated_at": moment_text(updated_at),
        "expiration_date": moment_text(_expiration(item.get("expiration_date"), where=where)),
        "immutable": item.get("immutable") if isinstance(item.get("immutable"), bool) else False,
        "actor_id": item.get("actor_id"),
        "role": item.get("role"),
    }
    history = {
        "kind": "history",
        "id": str(uuid.uuid5(HISTORY_NAMESPACE, f"{memory_id}:ADD")),
        "memory_id": str(memory_id),
        "event": "ADD",
        "old_memory": None,
        "new_memory": text,
        "old_metadata": None,
        "new_metadata": metadata,
        **scope,
        "actor_id": item.get("actor_id"),
        "role": item.get("role"),
        "is_deleted": False,
        "created_at": moment_text(created_at),
        "updated_at": moment_text(created_at),
    }
    return [memory, history]


def _items_of(document: Any, *, keys: tuple[str, ...], what: str) -> list:
    if isinstance(document, list):
        return document
    if isinstance(document, dict):
        for key in keys:
            if isinstance(document.get(key), list):
                return document[key]
    raise ArchiveInvalid(f"not {what}: expected a list, or an object with {' or '.join(repr(k) for k in keys)}")


def _load_json(data: bytes) -> Any:
    try:
        return json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise ArchiveInvalid("not UTF-8 text") from None
    except ValueError as exc:
        raise ArchiveInvalid(f"not JSON ({exc})") from None


def _payload_item(row_id: Any, payload: Any, *, where: str) -> dict | None:
    """A pgvector row as a ``get()``-shaped item (None: not a memory row)."""
    if isinstance(payload, str):
        try:
            payload = json.loads(payload)
        except ValueError:
            raise ArchiveInvalid(f"{where}: payload is not JSON") from None
    if not isinstance(payload, dict):
        raise ArchiveInvalid(f"{where}: payload must be a JSON object")
    if "linked_memory_ids" in payload and "entity_type" in payload:
        return None  # Mem0's entity store, not a memory
    if not isinstance(payload.get("data"), str) or not payload["data"].strip():
        return None
    item = {key: payload.get(key) for key in ("data", "hash", "created_at", "updated_at", *PROMOTED)}
    item["id"] = row_id
    item["metadata"] = {key: value for key, value in payload.items() if key not in PAYLOAD_CORE and key not in PROMOTED}
    return item


def _copy_text_field(value: str) -> str | None:
    if value == "\\N":
        return None

    def unescape(match: re.Match) -> str:
        code = match.group(1)
        if code[0] == "x" and len(code) > 1:
            return chr(int(code[1:], 16))
        if code[0] in "01234567":
            return chr(int(code, 8))
        return _COPY_CHARS.get(code, code)

    return _COPY_ESCAPE.sub(unescape, value)


def _pgvector_rows(data: bytes) -> list[tuple[int, Any, Any]]:
    """(line, id, payload) of every row of a dump, whatever its form."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ArchiveInvalid("not UTF-8 text") from None
    lines = text.splitlines()
    first = next((line for line in lines if line.strip()), "")
    rows: list[tuple[int, Any, Any]] = []
    if first.lstrip().startswith("{"):  # JSON lines: SELECT row_to_json(m) FROM mem0 m
        for number, line in enumerate(lines, 1):
            if line.strip():
                row = _load_json(line.encode())
                if not isinstance(row, dict) or "payload" not in row:
                    raise ArchiveInvalid(f"line {number}: expected an object with id and payload")
                rows.append((number, row.get("id"), row["payload"]))
        return rows
    if any(_COPY_START.match(line) for line in lines):  # pg_dump (plain SQL): the COPY blocks
        columns = None
        for number, line in enumerate(lines, 1):
            start = _COPY_START.match(line)
            if start:
                names = [name.strip().strip('"') for name in start.group(2).split(",")]
                columns = names if {"id", "payload"} <= set(names) else None
                continue
            if columns is not None:
                if line == "\\.":
                    columns = None
                    continue
                fields = [_copy_text_field(value) for value in line.split("\t")]
                row = dict(zip(columns, fields, strict=False))
                rows.append((number, row.get("id"), row.get("payload")))
        return rows
    if "\t" in first:  # COPY mem0 TO STDOUT (text format): id, vector, payload
        for number, line in enumerate(lines, 1):
            if line.strip():
                fields = [_copy_text_field(value) for value in line.split("\t")]
                if len(fields) < 3:
                    raise ArchiveInvalid(f"line {number}: expected id, vector and payload separated by tabs")
                rows.append((number, fields[0], fields[2]))
        return rows
    csv.field_size_limit(sys.maxsize)
    reader = csv.reader(io.StringIO(text))
    columns = ["id", "vector", "payload"]
    for index, fields in enumerate(reader):
        if index == 0 and "payload" in fields:
            columns = fields
            continue
        if not fields:
            continue
        row = dict(zip(columns, fields, strict=False))
        if "payload" not in row:
            raise ArchiveInvalid(f"row {index + 1}: expected the columns id, vector, payload")
        rows.append((reader.line_num, row.get("id"), row["payload"]))
    return rows


def mem0_records(
    data: bytes, *, source: str, default_user_id: str | None = None, now: datetime | None = None
) -> list[dict[str, Any]]:
    """Archive records (header first) of a Mem0 export's bytes. :class:`ArchiveInvalid` when the
    data is not that kind of export; the archive checks of the import follow."""
    now = now or timezone.now()
    items: list[tuple[str, dict]] = []
    skipped = 0
    if source == "mem0-pgvector":
        for line, row_id, payload in _pgvector_rows(data):
            item = _payload_item(row_id, payload, where=f"line {line}")
            if item is None:
                skipped += 1
            else:
                items.append((f"line {line}", item))
    elif source in ("mem0-oss", "mem0-platform"):
        keys = ("results",) if source == "mem0-oss" else ("results", "memories", "data")
        what = "a Mem0 OSS get_all result" if source == "mem0-oss" else "a Mem0 Platform export"
        for index, item in enumerate(_items_of(_load_json(data), keys=keys, what=what)):
            if not isinstance(item, dict):
                raise ArchiveInvalid(f"item {index}: each memory must be an object")
            items.append((f"item {index}", item))
    else:
        raise ArchiveInvalid(f"unknown source {source!r} (one of {', '.join(SOURCES)})")
    records: list[dict[str, Any]] = []
    for where, item in items:
        records.extend(_memory_records(item, where=where, default_user_id=default_user_id, now=now))
    memories = [record for record in records if record["kind"] == "memory"]
    history = [record for record in records if record["kind"] == "history"]
    head = header(
        project=None,
        user_id=None,
        embedding_model=None,
        dimensions=None,
        with_vectors=False,
        counts={"memory": len(memories), "history": len(history)},
        exported_at=now,
        source=source,
    )
    head["skipped_rows"] = skipped
    return [head, *memories, *history]
