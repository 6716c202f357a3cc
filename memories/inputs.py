"""What callers hand to the memory services, and the checks every value passes first.

API dialects, HTMX views, admin actions and commands all build these and call the services; the
checks here are why bad input is refused with one clear message (naming the field) before
anything is embedded or written.
"""

import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from mem0g_site.exceptions import ValidationFailed
from memories.models import MEMORY_TYPES, SCOPE_FIELDS, MemoryFeedback

ID_MAX_LENGTH = 255
METADATA_MAX_BYTES = 32 * 1024
CATEGORIES_MAX = 50
CATEGORY_MAX_LENGTH = 100
ROLE_MAX_LENGTH = 50
_WHITESPACE = re.compile(r"\s")


@dataclass(frozen=True)
class Scope:
    """Who a memory is about: any of user, agent, app and run (Mem0's entity ids)."""

    user_id: str | None = None
    agent_id: str | None = None
    app_id: str | None = None
    run_id: str | None = None

    def as_filter(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in SCOPE_FIELDS if getattr(self, name) is not None}

    @property
    def is_empty(self) -> bool:
        return not self.as_filter()


@dataclass(frozen=True)
class NewMemory:
    text: str
    scope: Scope
    metadata: dict[str, Any] | None = None
    categories: list[str] | None = None
    actor_id: str | None = None
    role: str | None = None
    immutable: bool = False
    expiration_date: date | datetime | None = None
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    embedding: list[float] | None = None  # when the caller has embedded the text already
    memory_type: str | None = None  # None (an ordinary memory) or "procedural_memory"


@dataclass(frozen=True)
class CleanMemory:
    text: str
    scope: Scope
    metadata: dict[str, Any] = field(default_factory=dict)
    categories: list[str] = field(default_factory=list)
    actor_id: str | None = None
    role: str | None = None
    immutable: bool = False
    expiration_date: datetime | None = None
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    embedding: list[float] | None = None
    memory_type: str | None = None


def _has_nul(value: str) -> bool:
    return "\x00" in value


def clean_text(value: Any, *, field_name: str = "text") -> str:
    if not isinstance(value, str):
        raise ValidationFailed(f"{field_name} must be a string", field=field_name)
    text = value.strip()
    if not text:
        raise ValidationFailed(f"{field_name} must not be empty", field=field_name)
    if len(text) > settings.MEMORY_MAX_CHARS:
        raise ValidationFailed(
            f"{field_name} is {len(text)} characters long; the limit is {settings.MEMORY_MAX_CHARS}",
            field=field_name,
        )
    if _has_nul(text):
        raise ValidationFailed(f"{field_name} must not contain NUL characters", field=field_name)
    if not is_encodable(text):
        raise ValidationFailed(f"{field_name} must be valid Unicode (no lone surrogates)", field=field_name)
    return text


def clean_id(value: Any, *, field_name: str) -> str | None:
    """An id as its one canonical string: a JSON string (trimmed) or a whole number (``5`` and ``"5"``
    are the same id), never a bool, a float, a list or an object (422). Every comparison of ids (the
    key fence among them) sees this form, whatever JSON type the caller sent."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValidationFailed(f"{field_name} must be a string", field=field_name)
    text = str(value).strip()
    if not text:
        raise ValidationFailed(f"{field_name} must not be empty", field=field_name)
    if len(text) > ID_MAX_LENGTH:
        raise ValidationFailed(f"{field_name} is longer than {ID_MAX_LENGTH} characters", field=field_name)
    if _has_nul(text):
        raise ValidationFailed(f"{field_name} must not contain NUL characters", field=field_name)
    if _WHITESPACE.search(text):
        raise ValidationFailed(f"{field_name} must not contain whitespace", field=field_name)
    if not is_encodable(text):
        raise ValidationFailed(f"{field_name} must be valid Unicode (no lone surrogates)", field=field_name)
    return text


def clean_entity_id(value: Any, *, field_name: str) -> str | None:
    """An entity id (user, agent, app or run) about to be written: :func:`clean_id`, and no ``/``
    (the id is a path segment in ``/v1/memories/user/{id}/``, ``/v2/entities/{type}/{id}/``...)."""
    text = clean_id(value, field_name=field_name)
    if text is not None and "/" in text:
        raise ValidationFailed(f"{field_name} must not contain '/'", field=field_name)
    return text


def is_encodable(text: str) -> bool:
    """False when ``text`` holds a lone surrogate (``"\\ud800"`` in JSON): no UTF-8, no PostgreSQL."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def clean_scope(scope: Any, *, required: bool, prefix: str = "", write: bool = False) -> Scope:
    """``scope`` with canonical ids; ``write``: ids about to be stored (no ``/``, see clean_entity_id)."""
    if not isinstance(scope, Scope):
        raise ValidationFailed(f"{prefix}scope must be a Scope", field=f"{prefix}scope")
    clean = clean_entity_id if write else clean_id
    cleaned = Scope(**{name: clean(getattr(scope, name), field_name=f"{prefix}{name}") for name in SCOPE_FIELDS})
    if required and cleaned.is_empty:
        raise ValidationFailed(
            "at least one of user_id, agent_id, app_id or run_id is required", field=f"{prefix}user_id"
        )
    return cleaned


def clean_metadata(value: Any, *, field_name: str = "metadata") -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValidationFailed(f"{field_name} must be an object", field=field_name)
    try:
        encoded = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as exc:
        raise ValidationFailed(f"{field_name} is not valid JSON: {exc}", field=field_name) from None
    if len(encoded.encode()) > METADATA_MAX_BYTES:
        raise ValidationFailed(f"{field_name} is larger than {METADATA_MAX_BYTES} bytes", field=field_name)
    if "\\u0000" in encoded:
        raise ValidationFailed(f"{field_name} must not contain NUL characters", field=field_name)
    if not all(is_encodable(text) for text in _strings(value)):
        raise ValidationFailed(f"{field_name} must be valid Unicode (no lone surrogates)", field=field_name)
    return value


def _strings(value: Any):
    """Every string in a JSON value, keys included (iteratively: no recursion limit to hit)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)


def clean_categories(value: Any, *, field_name: str = "categories") -> list[str]:
    if value is None:
        return []
    if not isinstance(value, (list, tuple)):
        raise ValidationFailed(f"{field_name} must be a list of strings", field=field_name)
    if len(value) > CATEGORIES_MAX:
        raise ValidationFailed(f"{field_name} has more than {CATEGORIES_MAX} entries", field=field_name)
    cleaned: list[str] = []
    for item in value:
        if not isinstance(item, str) or not item.strip() or len(item.strip()) > CATEGORY_MAX_LENGTH:
            raise ValidationFailed(
                f"{field_name} entries must be non-empty strings of at most {CATEGORY_MAX_LENGTH} characters",
                field=field_name,
            )
        if _has_nul(item) or not is_encodable(item):
            raise ValidationFailed(f"{field_name} must not contain NUL characters or lone surrogates", field=field_name)
        if item.strip() not in cleaned:
            cleaned.append(item.strip())
    return cleaned


def clean_role(value: Any, *, field_name: str = "role") -> str | None:
    if value is None:
        return None
    if (
        not isinstance(value, str)
        or not value.strip()
        or len(value) > ROLE_MAX_LENGTH
        or _has_nul(value)
        or not is_encodable(value)
    ):
        raise ValidationFailed(f"{field_name} must be a short string", field=field_name)
    return value.strip()


def clean_memory_type(value: Any, *, field_name: str = "memory_type") -> str | None:
    """Mem0's ``memory_type``: absent (an ordinary memory) or ``procedural_memory``, the one kind Mem0
    implements (it refuses ``semantic_memory`` and ``episodic_memory`` too)."""
    if value is None:
        return None
    if value not in MEMORY_TYPES:
        raise ValidationFailed(
            f"{field_name} must be {' or '.join(MEMORY_TYPES)} (or absent for an ordinary memory)", field=field_name
        )
    return value


def clean_feedback(value: Any) -> str | None:
    """Mem0's ``feedback`` on a memory: ``POSITIVE``, ``NEGATIVE``, ``VERY_NEGATIVE`` or ``None``."""
    if value is not None and value not in MemoryFeedback.Kind.values:
        raise ValidationFailed("feedback must be POSITIVE, NEGATIVE, VERY_NEGATIVE or null", field="feedback")
    return value


def clean_flag(value: Any, *, field: str) -> bool:
    if not isinstance(value, bool):
        raise ValidationFailed(f"{field} must be true or false", field=field)
    return value


def clean_moment(value: Any, *, field_name: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise ValidationFailed(f"{field_name} must be a datetime", field=field_name)
    if timezone.is_naive(value):
        raise ValidationFailed(f"{field_name} must carry a time zone", field=field_name)
    return value


def clean_expiration(value: Any, *, field_name: str = "expiration_date") -> datetime | None:
    """A date D means the memory is served through D (UTC) and expires at the start of D+1."""
    if isinstance(value, datetime):
        return clean_moment(value, field_name=field_name)
    if isinstance(value, date):
        return datetime.combine(value + timedelta(days=1), time.min, tzinfo=UTC)
    if value is None:
        return None
    raise ValidationFailed(f"{field_name} must be a date or datetime", field=field_name)


def clean_new_memory(item: Any, *, prefix: str = "") -> CleanMemory:
    if not isinstance(item, NewMemory):
        raise ValidationFailed(f"{prefix or 'item'} must be a NewMemory", field=prefix or None)
    if not isinstance(item.immutable, bool):
        raise ValidationFailed(f"{prefix}immutable must be true or false", field=f"{prefix}immutable")
    return CleanMemory(
        text=clean_text(item.text, field_name=f"{prefix}text"),
        scope=clean_scope(item.scope, required=True, prefix=prefix, write=True),
        metadata=clean_metadata(item.metadata, field_name=f"{prefix}metadata"),
        categories=clean_categories(item.categories, field_name=f"{prefix}categories"),
        actor_id=clean_id(item.actor_id, field_name=f"{prefix}actor_id"),
        role=clean_role(item.role, field_name=f"{prefix}role"),
        immutable=item.immutable,
        expiration_date=clean_expiration(item.expiration_date, field_name=f"{prefix}expiration_date"),
        valid_from=clean_moment(item.valid_from, field_name=f"{prefix}valid_from"),
        valid_to=clean_moment(item.valid_to, field_name=f"{prefix}valid_to"),
        embedding=item.embedding,
        memory_type=clean_memory_type(item.memory_type, field_name=f"{prefix}memory_type"),
    )


def clean_uuid(value: Any) -> uuid.UUID | None:
    """A memory id as a UUID, or None when it cannot be one (the caller answers 'not found')."""
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        return None
