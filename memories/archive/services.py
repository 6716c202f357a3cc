"""An archive written into a project: checked whole first, then written in one transaction.

Pass 1 reads every record and checks it (types, sizes, references between records, the header's
counts, ids already taken) without writing or embedding anything: a bad archive is refused with
the line that is wrong, and nothing is written. Pass 2 reads the archive again and writes it in one
transaction, in batches, embedding the memories whose vectors cannot be used (no vector in the
archive, or another embedding model than this server's).

Ids are kept, so an archive restores the rows it was made from; ``remap_ids`` gives every record a
new id instead (references follow), for importing next to the rows it came from. Registered
entities already in the project are kept as they are.
"""

import re
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction

from accounts.models import RegisteredEntity
from graph.models import RELATION_PATTERN, EntityRelation, Origin, Relationship
from mem0g_site.exceptions import Conflict, ValidationFailed
from memories.archive.format import KINDS, ArchiveInvalid, check_header, parse_moment
from memories.embedding import embed_texts, get_embedder
from memories.inputs import (
    Scope,
    clean_categories,
    clean_id,
    clean_memory_type,
    clean_metadata,
    clean_role,
    clean_scope,
    clean_text,
    clean_uuid,
    is_encodable,
)
from memories.models import (
    SCOPE_FIELDS,
    AddEvent,
    DecisionTrace,
    Memory,
    MemoryHistory,
    MemorySource,
    MemorySourceLink,
    memory_hash,
)

BATCH = 500
NAME_MAX_LENGTH = 255
HISTORY_TEXT_MAX_CHARS = 100_000
_RELATION = re.compile(RELATION_PATTERN)

# (line number, record) pairs, header first: what format.read_records yields.
Records = Iterable[tuple[int, dict[str, Any]]]


class _NoProgress:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def _no_progress(*, desc: str, total: int) -> _NoProgress:
    return _NoProgress()


@dataclass
class ImportReport:
    counts: dict[str, int] = field(default_factory=dict)
    # Memories embedded here (no usable vector in the archive).
    re_embedded: int = 0
    # Registered entities already in the project (kept as they were).
    skipped_entities: int = 0
    # Old id -> new id, by kind, when ids were remapped.
    id_map: dict[str, dict[str, str]] = field(default_factory=dict)


# --- checks: a record in, model field values out -----------------------------------------------


def _checked(kind: str, line: int, check: Callable[[], Any]) -> Any:
    try:
        return check()
    except ArchiveInvalid:
        raise
    except ValidationFailed as exc:
        raise ArchiveInvalid(f"{kind}: {exc.message}", line=line) from None


def _uuid(value: Any, *, field: str, line: int) -> uuid.UUID:
    pk = clean_uuid(value) if isinstance(value, str) else None
    if pk is None:
        raise ArchiveInvalid(f"{field} must be a UUID, not {value!r}", line=line)
    return pk


def _name(value: Any, *, field: str, line: int, allow_empty: bool = False) -> str:
    if not isinstance(value, str) or (not value.strip() and not allow_empty) or len(value) > NAME_MAX_LENGTH:
        raise ArchiveInvalid(f"{field} must be a string of 1 to {NAME_MAX_LENGTH} characters", line=line)
    if "\x00" in value or not is_encodable(value):
        raise ArchiveInvalid(f"{field} must not hold NUL characters or lone surrogates", line=line)
    return value


def _optional_text(value: Any, *, field: str, line: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > HISTORY_TEXT_MAX_CHARS or "\x00" in value:
        raise ArchiveInvalid(f"{field} must be a string (or null)", line=line)
    return value


def _optional_metadata(value: Any, *, field: str) -> dict | None:
    return None if value is None else clean_metadata(value, field_name=field)


def _bool(value: Any, *, field: str, line: int, default: bool = False) -> bool:
    if value is None:
        return default
    if not isinstance(value, bool):
        raise ArchiveInvalid(f"{field} must be true or false", line=line)
    return value


def _temporal(record: dict, line: int) -> dict[str, datetime | None]:
    values = {
        "valid_from": parse_moment(record.get("valid_from"), field="valid_from", line=line, required=True),
        "valid_to": parse_moment(record.get("valid_to"), field="valid_to", line=line),
        "created_at": parse_moment(record.get("created_at"), field="created_at", line=line, required=True),
        "invalidated_at": parse_moment(record.get("invalidated_at"), field="invalidated_at", line=line),
    }
    if values["valid_to"] is not None and values["valid_to"] <= values["valid_from"]:
        raise ArchiveInvalid("valid_to must be later than valid_from", line=line)
    return values


def _scope_ids(record: dict, *, required: bool, kind: str, line: int) -> dict[str, str | None]:
    scope = Scope(**{name: record.get(name) for name in SCOPE_FIELDS})
    cleaned = _checked(kind, line, lambda: clean_scope(scope, required=required))
    return {name: getattr(cleaned, name) for name in SCOPE_FIELDS}


def _entity(record: dict, line: int) -> dict[str, Any]:
    entity_type = record.get("type")
    if entity_type not in RegisteredEntity.Type.values:
        raise ArchiveInvalid(f"entity type must be one of {', '.join(RegisteredEntity.Type.values)}", line=line)
    created_at = parse_moment(record.get("created_at"), field="created_at", line=line, required=True)
    return {
        "type": entity_type,
        "name": _checked("entity", line, lambda: clean_id(record.get("name"), field_name="name")) or "",
        "display_name": _name(record.get("display_name") or "", field="display_name", line=line, allow_empty=True),
        "metadata": _checked("entity", line, lambda: clean_metadata(record.get("metadata"))),
        "created_at": created_at,
        "updated_at": parse_moment(record.get("updated_at"), field="updated_at", line=line) or created_at,
    }


def _optional_uuid(value: Any, *, field: str, line: int) -> uuid.UUID | None:
    return None if value is None else _uuid(value, field=field, line=line)


def _json(value: Any, kind: type, *, field: str, line: int, default: Any) -> Any:
    if value is None:
        return default
    if not isinstance(value, kind):
        raise ArchiveInvalid(f"{field} must be a JSON {'object' if kind is dict else 'array'}", line=line)
    return value


def _position(value: Any, *, line: int) -> int:
    if value is None:
        return 0
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 1_000_000:
        raise ArchiveInvalid("position must be a whole number from 0", line=line)
    return value


def _text(value: Any, *, field: str, line: int, max_length: int = HISTORY_TEXT_MAX_CHARS) -> str:
    if not isinstance(value, str) or len(value) > max_length or "\x00" in value or not is_encodable(value):
        raise ArchiveInvalid(f"{field} must be a string of at most {max_length} characters", line=line)
    return value


def _event(record: dict, line: int) -> dict[str, Any]:
    status = record.get("status")
    if status not in AddEvent.Status.values:
        raise ArchiveInvalid(f"event status must be one of {', '.join(AddEvent.Status.values)}", line=line)
    latency = record.get("latency_ms")
    if latency is not None and (not isinstance(latency, (int, float)) or isinstance(latency, bool)):
        raise ArchiveInvalid("latency_ms must be a number (or null)", line=line)
    created_at = parse_moment(record.get("created_at"), field="created_at", line=line, required=True)
    return {
        "id": _uuid(record.get("id"), field="id", line=line),
        "user_id": _checked("event", line, lambda: clean_id(record.get("user_id"), field_name="user_id")),
        "status": status,
        "payload": _json(record.get("payload"), dict, field="payload", line=line, default={}),
        "results": _json(record.get("results"), list, field="results", line=line, default=[]),
        "error": _optional_text(record.get("error"), field="error", line=line),
        "latency_ms": latency,
        "created_at": created_at,
        "updated_at": parse_moment(record.get("updated_at"), field="updated_at", line=line) or created_at,
    }


def _source(record: dict, line: int) -> dict[str, Any]:
    return {
        "id": _uuid(record.get("id"), field="id", line=line),
        **_scope_ids(record, required=True, kind="source", line=line),
        "add_event_id": _optional_uuid(record.get("event"), field="event", line=line),
        "position": _position(record.get("position"), line=line),
        "role": _checked("source", line, lambda: clean_role(record.get("role"))) or "user",
        "name": _checked("source", line, lambda: clean_id(record.get("name"), field_name="name")),
        "content": _text(record.get("content"), field="content", line=line),
        "observed_at": parse_moment(record.get("observed_at"), field="observed_at", line=line, required=True),
        "metadata": _checked("source", line, lambda: clean_metadata(record.get("metadata"))),
        "created_at": parse_moment(record.get("created_at"), field="created_at", line=line, required=True),
    }


def _source_link(record: dict, line: int) -> dict[str, Any]:
    memory = _uuid(record.get("memory"), field="memory", line=line)
    source = _uuid(record.get("source"), field="source", line=line)
    return {
        "id": (memory, source),  # the link's identity in the archive (the table numbers its rows)
        "memory_id": memory,
        "source_id": source,
        "created_at": parse_moment(record.get("created_at"), field="created_at", line=line, required=True),
    }


def _trace(record: dict, line: int) -> dict[str, Any]:
    decision = record.get("decision")
    if decision not in DecisionTrace.Decision.values:
        raise ArchiveInvalid(f"trace decision must be one of {', '.join(DecisionTrace.Decision.values)}", line=line)
    return {
        "id": _uuid(record.get("id"), field="id", line=line),
        **_scope_ids(record, required=False, kind="trace", line=line),
        "add_event_id": _uuid(record.get("event"), field="event", line=line),
        "position": _position(record.get("position"), line=line),
        "fact": _text(record.get("fact"), field="fact", line=line),
        "extractor": _text(record.get("extractor"), field="extractor", line=line, max_length=150),
        "candidates": _json(record.get("candidates"), list, field="candidates", line=line, default=[]),
        "decision": decision,
        "target_id": _optional_uuid(record.get("target_id"), field="target_id", line=line),
        "reason": _json(record.get("reason"), dict, field="reason", line=line, default={}),
        "source_ids": [
            str(_uuid(pk, field="source_ids", line=line))
            for pk in _json(record.get("source_ids"), list, field="source_ids", line=line, default=[])
        ],
        "memory_id": _optional_uuid(record.get("memory"), field="memory", line=line),
        "created_at": parse_moment(record.get("created_at"), field="created_at", line=line, required=True),
    }


def _vector(value: Any, *, line: int, dimensions: int) -> list[float] | None:
    if value is None:
        return None
    if (
        not isinstance(value, list)
        or len(value) != dimensions
        or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in value)
    ):
        raise ArchiveInvalid(f"vector must be a list of {dimensions} numbers (or null)", line=line)
    return value


def _memory(record: dict, line: int) -> dict[str, Any]:
    text = _checked("memory", line, lambda: clean_text(record.get("memory"), field_name="memory"))
    temporal = _temporal(record, line)
    expiration = parse_moment(record.get("expiration_date"), field="expiration_date", line=line)
    return {
        "id": _uuid(record.get("id"), field="id", line=line),
        **_scope_ids(record, required=True, kind="memory", line=line),
        "memory": text,
        "hash": memory_hash(text),
        "metadata": _checked("memory", line, lambda: clean_metadata(record.get("metadata"))),
        "categories": _checked("memory", line, lambda: clean_categories(record.get("categories"))),
        **temporal,
        "updated_at": parse_moment(record.get("updated_at"), field="updated_at", line=line) or temporal["created_at"],
        "expiration_date": expiration,
        "immutable": _bool(record.get("immutable"), field="immutable", line=line),
        "actor_id": _checked("memory", line, lambda: clean_id(record.get("actor_id"), field_name="actor_id")),
        "role": _checked("memory", line, lambda: clean_role(record.get("role"))),
        "memory_type": _checked("memory", line, lambda: clean_memory_type(record.get("memory_type"))),
    }


def _history(record: dict, line: int) -> dict[str, Any]:
    event = record.get("event")
    if event not in MemoryHistory.Event.values:
        raise ArchiveInvalid(f"history event must be one of {', '.join(MemoryHistory.Event.values)}", line=line)
    created_at = parse_moment(record.get("created_at"), field="created_at", line=line, required=True)
    return {
        "id": _uuid(record.get("id"), field="id", line=line),
        "memory_id": _uuid(record.get("memory_id"), field="memory_id", line=line),
        "event": event,
        "old_memory": _optional_text(record.get("old_memory"), field="old_memory", line=line),
        "new_memory": _optional_text(record.get("new_memory"), field="new_memory", line=line),
        "old_metadata": _checked(
            "history", line, lambda: _optional_metadata(record.get("old_metadata"), field="old_metadata")
        ),
        "new_metadata": _checked(
            "history", line, lambda: _optional_metadata(record.get("new_metadata"), field="new_metadata")
        ),
        **_scope_ids(record, required=False, kind="history", line=line),
        "actor_id": _checked("history", line, lambda: clean_id(record.get("actor_id"), field_name="actor_id")),
        "role": _checked("history", line, lambda: clean_role(record.get("role"))),
        "is_deleted": _bool(record.get("is_deleted"), field="is_deleted", line=line),
        "created_at": created_at,
        "updated_at": parse_moment(record.get("updated_at"), field="updated_at", line=line) or created_at,
        "trace_id": _optional_uuid(record.get("trace"), field="trace", line=line),
    }


def _relationship(record: dict, line: int) -> dict[str, Any]:
    relation = record.get("relation")
    if not isinstance(relation, str) or not _RELATION.match(relation):
        raise ArchiveInvalid("relation must be a lower_snake_case verb phrase (at most 64 characters)", line=line)
    weight = record.get("weight", 1.0)
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0 <= weight <= 1:
        raise ArchiveInvalid("weight must be a number from 0 to 1", line=line)
    origin = record.get("origin", Origin.USER)
    if origin not in Origin.values:
        raise ArchiveInvalid(f"origin must be one of {', '.join(Origin.values)}", line=line)
    values = {
        "id": _uuid(record.get("id"), field="id", line=line),
        "source_id": _uuid(record.get("source"), field="source", line=line),
        "target_id": _uuid(record.get("target"), field="target", line=line),
        "relation": relation,
        "metadata": _checked("relationship", line, lambda: clean_metadata(record.get("metadata"))),
        "weight": float(weight),
        "origin": origin,
        **_temporal(record, line),
    }
    if values["source_id"] == values["target_id"]:
        raise ArchiveInvalid("a relationship cannot link a memory to itself", line=line)
    return values


def _entity_relation(record: dict, line: int) -> dict[str, Any]:
    relationship = record.get("relationship")
    if not isinstance(relationship, str) or not _RELATION.match(relationship):
        raise ArchiveInvalid("relationship must be lower_snake_case (at most 64 characters)", line=line)
    return {
        "id": _uuid(record.get("id"), field="id", line=line),
        "memory_id": _uuid(record.get("memory"), field="memory", line=line),
        **_scope_ids(record, required=False, kind="entity_relation", line=line),
        "source": _name(record.get("source"), field="source", line=line),
        "relationship": relationship,
        "destination": _name(record.get("destination"), field="destination", line=line),
        **_temporal(record, line),
    }


CHECK = {
    "entity": _entity,
    "memory": _memory,
    "event": _event,
    "source": _source,
    "source_link": _source_link,
    "trace": _trace,
    "history": _history,
    "relationship": _relationship,
    "entity_relation": _entity_relation,
}
MODEL = {
    "memory": Memory,
    "event": AddEvent,
    "source": MemorySource,
    "source_link": MemorySourceLink,
    "trace": DecisionTrace,
    "history": MemoryHistory,
    "relationship": Relationship,
    "entity_relation": EntityRelation,
}
assert tuple(CHECK) == KINDS


# --- pass 1 ----------------------------------------------------------------------------------


@dataclass
class _Plan:
    header: dict[str, Any]
    counts: dict[str, int]
    ids: dict[str, set[uuid.UUID]]
    vectors_usable: bool
    to_embed: int


def _vectors_usable(header: dict, model_name: str | None, dimensions: int | None) -> bool:
    embedding = header.get("embedding") or {}
    return bool(embedding.get("vectors")) and embedding.get("model") == model_name and model_name is not None


def _plan(records: Records, *, embedder_info: Callable[[], tuple[str, int]], progress) -> _Plan:
    iterator = iter(records)
    first = next(iterator, None)
    if first is None:
        raise ArchiveInvalid("the archive is empty (no header line)")
    line, head = first
    check_header(head, line=line)
    expected = {kind: head["counts"].get(kind, 0) for kind in KINDS}
    bar = progress(desc="checking", total=sum(expected.values()))
    counts = dict.fromkeys(KINDS, 0)
    ids: dict[str, set[uuid.UUID]] = {kind: set() for kind in KINDS}
    entity_names: set[tuple[str, str]] = set()
    model_name, dimensions = None, None
    usable = False
    to_embed = 0
    order = {kind: index for index, kind in enumerate(KINDS)}
    last = -1
    for line, record in iterator:
        kind = record.get("kind")
        if kind == "header":
            raise ArchiveInvalid("a second header", line=line)
        if order[kind] < last:
            raise ArchiveInvalid(f"{kind} records must come before {KINDS[last]} records", line=line)
        last = order[kind]
        values = CHECK[kind](record, line)
        counts[kind] += 1
        if kind == "entity":
            key = (values["type"], values["name"])
            if key in entity_names:
                raise ArchiveInvalid(f"the {key[0]} {key[1]!r} is registered twice", line=line)
            entity_names.add(key)
        else:
            if values["id"] in ids[kind]:
                raise ArchiveInvalid(f"{kind} id {values['id']} appears twice", line=line)
            ids[kind].add(values["id"])
        if kind == "memory":
            if model_name is None:
                model_name, dimensions = embedder_info()
                usable = _vectors_usable(head, model_name, dimensions)
            vector = _vector(record.get("vector"), line=line, dimensions=dimensions) if usable else None
            if vector is None or record.get("embedding_model", model_name) != model_name:
                to_embed += 1
        elif kind == "source":
            if model_name is None:
                model_name, dimensions = embedder_info()
                usable = _vectors_usable(head, model_name, dimensions)
            vector = _vector(record.get("vector"), line=line, dimensions=dimensions) if usable else None
            if vector is None:
                to_embed += 1
            _refers(values["add_event_id"], ids["event"], "event", line=line)
        elif kind == "source_link":
            _refers(values["memory_id"], ids["memory"], "memory", line=line)
            _refers(values["source_id"], ids["source"], "source", line=line)
        elif kind == "trace":
            _refers(values["add_event_id"], ids["event"], "event", line=line)
            _refers(values["memory_id"], ids["memory"], "memory", line=line)
        elif kind == "history":
            _refers(values["trace_id"], ids["trace"], "trace", line=line)
        elif kind == "relationship":
            for end in ("source_id", "target_id"):
                if values[end] not in ids["memory"]:
                    raise ArchiveInvalid(f"{end[:-3]} {values[end]} is not a memory of the archive", line=line)
        elif kind == "entity_relation" and values["memory_id"] not in ids["memory"]:
            raise ArchiveInvalid(f"memory {values['memory_id']} is not a memory of the archive", line=line)
        bar.update(1)
    bar.close()
    for kind in KINDS:
        if counts[kind] != expected[kind]:
            raise ArchiveInvalid(
                f"the header announces {expected[kind]} {kind} records, the archive holds {counts[kind]} "
                "(cut off or edited?)"
            )
    return _Plan(header=head, counts=counts, ids=ids, vectors_usable=usable, to_embed=to_embed)


def _refers(pk, known: set, what: str, *, line: int) -> None:
    if pk is not None and pk not in known:
        raise ArchiveInvalid(f"{what} {pk} is not a {what} of the archive", line=line)


def _taken_ids(plan: _Plan) -> dict[str, int]:
    """How many of the archive's ids are already used (in any project) per kind."""
    taken = {}
    for kind, model in MODEL.items():
        if kind == "source_link":  # numbered by the table, never taken
            continue
        wanted = list(plan.ids[kind])
        found = 0
        for start in range(0, len(wanted), 5000):
            found += model.objects.filter(pk__in=wanted[start : start + 5000]).count()
        if found:
            taken[kind] = found
    return taken


# --- pass 2 ----------------------------------------------------------------------------------


class _Remap:
    """Old id -> new id per kind (new ids made on first sight); the identity when not remapping."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.maps: dict[str, dict[uuid.UUID, uuid.UUID]] = defaultdict(dict)

    def __call__(self, kind: str, old: uuid.UUID) -> uuid.UUID:
        if not self.enabled:
            return old
        table = self.maps[kind]
        if old not in table:
            table[old] = uuid.uuid4()
        return table[old]


def archive_import(
    *,
    project,
    open_records: Callable[[], Records],
    remap_ids: bool = False,
    progress: Callable[..., Any] | None = None,
    now: datetime | None = None,
) -> ImportReport:
    """Write the archive that ``open_records()`` reads (called twice: check, then write) into
    ``project``. Raises :class:`ArchiveInvalid` (a bad archive) or :class:`Conflict` (ids already in
    use without ``remap_ids``, or rows that clash with the project's); then nothing was written.
    ``progress(desc=, total=)`` makes a progress bar (``update(n)``, ``close()``), tqdm-like."""
    progress = progress or _no_progress

    def embedder_info() -> tuple[str, int]:
        embedder = get_embedder()
        return embedder.model_name, embedder.dimensions

    plan = _plan(open_records(), embedder_info=embedder_info, progress=progress)
    if not remap_ids:
        taken = _taken_ids(plan)
        if taken:
            listed = ", ".join(f"{count} {kind}" for kind, count in taken.items())
            raise Conflict(
                f"The archive's ids are in use already ({listed} records); import with remap_ids "
                "(--remap-ids) to give its records new ids",
                details={"taken": taken},
            )
    report = ImportReport(counts=dict(plan.counts), re_embedded=plan.to_embed)
    remap = _Remap(remap_ids)
    model_name = get_embedder().model_name if plan.counts["memory"] or plan.counts["source"] else None
    existing_entities = set(RegisteredEntity.objects.filter(project=project).values_list("type", "name"))
    bar = progress(desc="importing", total=sum(plan.counts.values()))
    pending: dict[str, list] = {kind: [] for kind in KINDS}
    vectors_of: dict[int, list[float] | None] = {}

    def flush(kind: str) -> None:
        rows = pending[kind]
        if not rows:
            return
        if kind in ("memory", "source"):
            text = "memory" if kind == "memory" else "content"
            missing = [index for index, row in enumerate(rows) if vectors_of.get(index) is None]
            fresh = iter(embed_texts([getattr(rows[index], text) for index in missing]) if missing else [])
            for index, row in enumerate(rows):
                vector = vectors_of.get(index)
                row.embedding = vector if vector is not None else next(fresh)
                if kind == "memory":
                    row.embedding_model = model_name
            vectors_of.clear()
        if kind == "entity":
            RegisteredEntity.objects.bulk_create(rows)
        else:
            MODEL[kind].objects.bulk_create(rows)
        bar.update(len(rows))
        rows.clear()

    try:
        with transaction.atomic():
            current = None
            for line, record in open_records():
                kind = record.get("kind")
                if kind == "header":
                    continue
                if kind != current and current is not None:
                    flush(current)
                current = kind
                values = CHECK[kind](record, line)
                if kind == "entity" and (values["type"], values["name"]) in existing_entities:
                    report.skipped_entities += 1
                    bar.update(1)
                    continue
                row = _row(kind, values, project=project, remap=remap)
                if kind in ("memory", "source"):  # the vector was checked in pass 1
                    usable = plan.vectors_usable and record.get("embedding_model", model_name) == model_name
                    vectors_of[len(pending[kind])] = record.get("vector") if usable else None
                pending[kind].append(row)
                if len(pending[kind]) >= BATCH:
                    flush(kind)
            if current is not None:
                flush(current)
    except IntegrityError as exc:
        constraint = getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None)
        raise Conflict(
            f"The archive clashes with rows of the project ({constraint or exc}); nothing was imported",
            details={"constraint": constraint},
        ) from None
    finally:
        bar.close()
    report.counts["entity"] -= report.skipped_entities
    if remap_ids:
        report.id_map = {kind: {str(old): str(new) for old, new in table.items()} for kind, table in remap.maps.items()}
    return report


def _row(kind: str, values: dict[str, Any], *, project, remap: _Remap):
    if kind == "entity":
        return RegisteredEntity(project=project, **values)
    if kind == "source_link":
        values = {key: value for key, value in values.items() if key != "id"}
        values["memory_id"] = remap("memory", values["memory_id"])
        values["source_id"] = remap("source", values["source_id"])
        return MemorySourceLink(project=project, **values)
    values = {**values, "id": remap(kind, values["id"])}
    if kind in ("source", "trace") and values["add_event_id"] is not None:
        values["add_event_id"] = remap("event", values["add_event_id"])
    if kind == "trace":
        if values["memory_id"] is not None:
            values["memory_id"] = remap("memory", values["memory_id"])
        # Ids the decision only mentions follow when they are the archive's (else kept as they were).
        if remap.enabled and values["target_id"] in remap.maps["memory"]:
            values["target_id"] = remap.maps["memory"][values["target_id"]]
        if remap.enabled:
            sources = remap.maps["source"]
            values["source_ids"] = [str(sources.get(uuid.UUID(pk), pk)) for pk in values["source_ids"]]
    if kind == "history":
        values["memory_id"] = remap("memory", values["memory_id"])
        if values["trace_id"] is not None:
            values["trace_id"] = remap("trace", values["trace_id"])
    elif kind == "relationship":
        values["source_id"] = remap("memory", values["source_id"])
        values["target_id"] = remap("memory", values["target_id"])
    elif kind == "entity_relation":
        values["memory_id"] = remap("memory", values["memory_id"])
    return MODEL[kind](project=project, **values)
