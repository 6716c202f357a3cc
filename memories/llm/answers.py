"""Reading the model's answers: JSON out of a message, facts and decisions out of JSON, checked in code.
An answer that is not what we asked for is logged and read as "nothing". No ORM."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from typing import Any

from django.conf import settings

from memories.decisions import EVENTS, Candidate, Decision
from memories.extraction import KINDS, Fact

logger = logging.getLogger("mem0g.llm")

# How much of a malformed answer goes into the log line.
LOG_CHARS = 500

# --------------------------------------------------------------------------------------------------
# Reading the model's answers


def fact_of(item: Any, sources: set[str]) -> Fact | None:
    if isinstance(item, str):
        item = {"text": item}
    if not isinstance(item, dict):
        return None
    text = collapse_spaces(item.get("text") or item.get("fact"))
    if not text:
        return None
    text = text[: settings.MEMORY_MAX_CHARS]
    role = item.get("role")
    role = role.strip().lower() if isinstance(role, str) and role.strip() else "user"
    if role not in ("user", "assistant"):
        role = "user"
    if role not in sources:
        return None
    kind = item.get("kind")
    kind = kind.strip().lower() if isinstance(kind, str) else "other"
    negated = item.get("negated")
    return Fact(text=text, role=role, kind=kind if kind in KINDS else "other", negated=negated is True)


def decision_of(item: dict, fact: Fact, options: Sequence[Candidate], by_alias: dict[int, Candidate]) -> Decision:
    event = item.get("event")
    event = event.strip().upper() if isinstance(event, str) else ""
    said = collapse_spaces(item.get("reason"))[:300]
    if event not in EVENTS or event == "ADD":
        why = said or ("the model answered ADD" if event == "ADD" else f"the model answered {event or 'nothing'}")
        return Decision(event="ADD", text=fact.text, reason={"rule": "llm", "detail": why})
    alias = int_of(item.get("id"))
    target = by_alias.get(alias) if alias is not None else None
    if target is None or all(option.id != target.id for option in options):
        # An id the model made up, or one listed for another fact.
        why = f"the model answered {event} with an id that is not one of this fact's candidates: added"
        return Decision(event="ADD", text=fact.text, reason={"rule": "llm-invalid", "detail": why})
    reason = {"rule": "llm", "detail": said or f"the model answered {event}", "similarity": round(target.score, 4)}
    if event == "NONE":
        return Decision(event="NONE", text=fact.text, target_id=target.id, reason=reason)
    if target.immutable:
        why = f"the model answered {event} for an immutable memory: added beside it"
        return Decision(event="ADD", text=fact.text, reason={"rule": "immutable", "detail": why})
    text = collapse_spaces(item.get("text"))
    text = text[: settings.MEMORY_MAX_CHARS] if text else fact.text
    return Decision(event=event, text=text, target_id=target.id, reason=reason)


def list_field(answer: Any, field: str, purpose: str) -> list:
    if answer is None:
        return []
    if isinstance(answer, dict) and isinstance(answer.get(field), list):
        return answer[field]
    if isinstance(answer, list):  # the bare list, without the wrapping object
        return answer
    log_malformed(purpose, json.dumps(answer, ensure_ascii=False), f"no {field!r} list")
    return []


def same_text(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold().rstrip(".") == " ".join(b.split()).casefold().rstrip(".")


def int_of(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("#").isdigit():
        return int(value.strip().lstrip("#"))
    return None


def collapse_spaces(value: Any) -> str:
    return " ".join(value.split()) if isinstance(value, str) else ""


_NOT_WORD = re.compile(r"[^0-9a-z]+")


def snake_case(value: Any) -> str:
    if not isinstance(value, str):
        return ""
    value = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", value.strip())
    return _NOT_WORD.sub("_", value.lower()).strip("_")


_FENCE = re.compile(r"^```[a-zA-Z]*\s*|\s*```$")


def parse_json(raw: str) -> Any:
    """The JSON value in ``raw``; tolerates a Markdown code fence or prose around one object."""
    text = _FENCE.sub("", raw.strip())
    try:
        return json.loads(text)
    except ValueError:
        pass
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        try:
            return json.loads(text[start : end + 1])
        except ValueError:
            pass
    raise ValueError("not JSON")


def log_malformed(purpose: str, raw: str, why: str) -> None:
    shown = raw if len(raw) <= LOG_CHARS else raw[:LOG_CHARS] + "..."
    logger.warning("LLM %s answer ignored (%s): %r", purpose, why, shown)


def shorten(text: str) -> str:
    return text if len(text) <= LOG_CHARS else text[:LOG_CHARS] + "..."
