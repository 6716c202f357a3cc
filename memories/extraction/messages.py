"""The conversation in (:class:`Message`, :func:`normalize_messages`) and the facts out (:class:`Fact`,
``KINDS``) of the built-in extractor; the LLM path reads and makes the same objects."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from memories.attachments import Attachment, is_media_part, parse_part

KINDS = ("preference", "plan", "relation", "biography", "possession", "habit", "correction", "other")


@dataclass(frozen=True)
class Message:
    role: str  # "user" | "assistant" | "system" | other
    content: str
    name: str | None = None
    # Image and document parts, as references (memories.attachments); their text is not in ``content``.
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True)
class Fact:
    text: str  # self-contained third-person fact, e.g. "User loves working with Python and AI"
    role: str  # role of the message it came from
    kind: str  # one of KINDS
    negated: bool = False  # "I don't like coffee any more" -> True
    # Positions (in the add's messages) of the message(s) that said it: a fact said twice, or
    # corrected by a later message ("No, I meant Lisbon"), has several.
    sources: tuple[int, ...] = field(default=(), compare=False)


# --------------------------------------------------------------------------------------------------
# Message normalization


def normalize_messages(messages: Any) -> list[Message]:
    """Mem0's accepted message shapes -> a list of Message.

    A str is one user message, a dict ``{"role", "content"[, "name"]}`` is one message, a list (or
    tuple) may mix both. Content may be a str, one part, or OpenAI-style parts ``[{"type": "text",
    "text": ...}, {"type": "image_url", "image_url": {"url": ...}}]``: text parts are joined with
    newlines; image and document parts (``memories.attachments.PART_TYPES``) become the message's
    ``attachments``, captioned by their own caption or else by the message's text; other part types
    (audio, ...) are skipped. Anything else raises ValueError naming the offending item.
    """
    if isinstance(messages, str | dict | Message):
        return [_normalize_one(messages, "messages")]
    if isinstance(messages, list | tuple):
        return [_normalize_one(item, f"messages[{index}]") for index, item in enumerate(messages)]
    raise ValueError(f"messages must be a string, a message dict or a list of them, got {_type_name(messages)}")


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _normalize_one(item: Any, where: str) -> Message:
    if isinstance(item, Message):
        return item
    if isinstance(item, str):
        return Message(role="user", content=item)
    if not isinstance(item, dict):
        raise ValueError(f"{where} must be a string or a dict with 'role' and 'content', got {_type_name(item)}")
    if "role" not in item:
        raise ValueError(f"{where} is missing 'role'")
    role = item["role"]
    if not isinstance(role, str):
        raise ValueError(f"{where}.role must be a string, got {_type_name(role)}")
    if not role.strip():
        raise ValueError(f"{where}.role must not be empty")
    if "content" not in item:
        raise ValueError(f"{where} is missing 'content'")
    content, attachments = _normalize_content(item["content"], f"{where}.content")
    name = item.get("name")
    if name is not None and not isinstance(name, str):
        raise ValueError(f"{where}.name must be a string or null, got {_type_name(name)}")
    return Message(role=role.strip().lower(), content=content, name=name, attachments=attachments)


def _normalize_content(content: Any, where: str) -> tuple[str, tuple[Attachment, ...]]:
    if isinstance(content, str):
        return content, ()
    if isinstance(content, dict) and "type" in content:  # one part: {"type": "image_url", ...}
        return _normalize_parts([content], where, single=True)
    if isinstance(content, list | tuple):
        return _normalize_parts(content, where, single=False)
    raise ValueError(f"{where} must be a string, a content part or a list of parts, got {_type_name(content)}")


def _normalize_parts(parts: Sequence[Any], where: str, *, single: bool) -> tuple[str, tuple[Attachment, ...]]:
    texts, attachments = [], []
    for index, part in enumerate(parts):
        at = where if single else f"{where}[{index}]"
        if isinstance(part, str):
            texts.append(part)
            continue
        if not isinstance(part, dict):
            raise ValueError(f"{at} must be a dict like {{'type': 'text', 'text': ...}}")
        if is_media_part(part):
            attachments.append(parse_part(part, at))
            continue
        if part.get("type", "text") != "text":
            continue  # audio and other parts: nothing to extract from, nothing to refer to
        text = part.get("text")
        if not isinstance(text, str):
            raise ValueError(f"{at}.text must be a string, got {_type_name(text)}")
        texts.append(text)
    text = "\n".join(texts)
    return text, tuple(attachment.with_caption(text) for attachment in attachments)
