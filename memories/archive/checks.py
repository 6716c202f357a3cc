"""An archive's records checked one by one: a record in, a model's field values out (or
:class:`ArchiveInvalid` naming the line). The rule table of ``memories.archive.services``'s first pass.
"""

import re
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from accounts.models import RegisteredEntity
from graph.models import RELATION_PATTERN, EntityRelation, Origin, Relationship
from mem0g_site.exceptions import ValidationFailed
from memories.archive.format import KINDS, ArchiveInvalid, parse_moment
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
    is_inferred_change,
    memory_hash,
)

NAME_MAX_LENGTH = 255
HISTORY_TEXT_MAX_CHARS = 100_000
_RELATION = re.compile(RELATION_PATTERN)


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
    # The review queue's fields (archives written before it have none: an inferred change waits for review).
    review_state = record.get("review_state")
    if review_state is None:
        inferred = record.get("memory") is not None and is_inferred_change(decision, str(record.get("extractor")))
        review_state = DecisionTrace.ReviewState.PENDING if inferred else DecisionTrace.ReviewState.NONE
    if review_state not in DecisionTrace.ReviewState.values:
        raise ArchiveInvalid(
            f"trace review_state must be one of {', '.join(DecisionTrace.ReviewState.values)}", line=line
        )
    held = _json(record.get("held"), dict, field="held", line=line, default=None)
    if held is not None and (not isinstance(held.get("text"), str) or not isinstance(held.get("observed_at"), str)):
        raise ArchiveInvalid("trace held must be {text, observed_at}", line=line)
    reviewed_by = record.get("reviewed_by")
    if reviewed_by is not None:
        reviewed_by = _text(reviewed_by, field="reviewed_by", line=line, max_length=255)
    return {
        "review_state": review_state,
        "reviewed_by": reviewed_by,
        "reviewed_at": parse_moment(record.get("reviewed_at"), field="reviewed_at", line=line),
        "held": held,
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


def vector_checked(value: Any, *, line: int, dimensions: int) -> list[float] | None:
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
