"""The checks every graph value passes before a service writes or a selector reads (422 naming the field)."""

import math
import re
from datetime import datetime
from typing import Any

from graph.models import RELATION_PATTERN, Origin
from mem0g_site.exceptions import ValidationFailed

DIRECTIONS = ("out", "in", "both")
DEPTH_MAX = 5
_RELATION = re.compile(RELATION_PATTERN)


def clean_relation(value: Any, *, field_name: str = "relation") -> str:
    """A lower_snake_case verb phrase (``related_to``, ``supersedes``, ...); case is folded."""
    if not isinstance(value, str) or not _RELATION.match(value.strip().lower()):
        raise ValidationFailed(
            f"{field_name} must be a lower_snake_case name of 1 to 64 letters, digits and underscores, "
            "starting with a letter (e.g. related_to, supersedes)",
            field=field_name,
        )
    return value.strip().lower()


def clean_weight(value: Any, *, field_name: str = "weight") -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValidationFailed(f"{field_name} must be a number from 0 to 1", field=field_name)
    if not 0 <= value <= 1:
        raise ValidationFailed(f"{field_name} must be a number from 0 to 1", field=field_name)
    return float(value)


def clean_origin(value: Any) -> str:
    if value not in Origin.values:
        raise ValidationFailed(f"origin must be one of {', '.join(Origin.values)}", field="origin")
    return value


def clean_direction(value: Any) -> str:
    if value not in DIRECTIONS:
        raise ValidationFailed("direction must be in, out or both", field="direction")
    return value


def clean_depth(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= DEPTH_MAX:
        raise ValidationFailed(f"depth must be a whole number from 1 to {DEPTH_MAX}", field="depth")
    return value


def clean_interval(valid_from: datetime, valid_to: datetime | None) -> None:
    if valid_to is not None and valid_to <= valid_from:
        raise ValidationFailed("valid_to must be later than valid_from", field="valid_to")
