"""Multimodal message parts (images, PDFs, documents) as references: their URL and caption, never
their content.

Mem0 accepts a message whose ``content`` is an image or document part (``{"type": "image_url",
"image_url": {"url": ...}}``, ``pdf_url``, ``mdx_url``, ``txt_url``) or an OpenAI-style list of
parts mixing text and images, and describes the media with a vision model after downloading them.
mem0g never fetches a URL it is given (no request leaves the server for a caller's URL): each part
becomes a reference, stored as a memory of its own whose text names the URL and the caption, and
whose metadata holds them under ``attachment``.

Pure functions over plain data: stdlib only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

URL_MAX_LENGTH = 2048
CAPTION_MAX_CHARS = 1000
# part type -> (the key holding its URL, the kind of reference it is)
PART_TYPES = {
    "image_url": ("image_url", "image"),
    "input_image": ("image_url", "image"),  # OpenAI Responses API
    "pdf_url": ("pdf_url", "pdf"),
    "mdx_url": ("mdx_url", "document"),
    "txt_url": ("txt_url", "document"),
    "input_file": ("file_url", "document"),  # OpenAI Responses API, by URL
}
# Where a part may carry its own caption (checked in this order, on the part, then on its URL object).
CAPTION_KEYS = ("caption", "alt", "alt_text", "title")
_NOUNS = {"image": "an image", "pdf": "a PDF document", "document": "a document"}
_WHITESPACE = re.compile(r"\s")


@dataclass(frozen=True)
class Attachment:
    kind: str  # "image" | "pdf" | "document"
    url: str
    caption: str | None = None

    def with_caption(self, caption: str | None) -> Attachment:
        return self if self.caption or not caption else Attachment(self.kind, self.url, _caption(caption))

    def as_metadata(self) -> dict[str, Any]:
        return {"type": self.kind, "url": self.url, "caption": self.caption}


def is_media_part(part: Any) -> bool:
    return isinstance(part, dict) and part.get("type") in PART_TYPES


def parse_part(part: dict, where: str) -> Attachment:
    """A media part (see :data:`PART_TYPES`) as an :class:`Attachment`; ValueError naming ``where`` when
    its URL is missing or is not an http(s) URL (inline base64 data is refused: mem0g keeps references,
    not files)."""
    key, kind = PART_TYPES[part["type"]]
    holder = part.get(key)
    url = holder.get("url") if isinstance(holder, dict) else holder
    field = f"{where}.{key}.url" if isinstance(holder, dict) else f"{where}.{key}"
    if not isinstance(url, str) or not url.strip():
        raise ValueError(f"{field} must be a URL string")
    url = url.strip()
    parts = urlsplit(url) if len(url) <= URL_MAX_LENGTH and not _WHITESPACE.search(url) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(
            f"{field} must be an http(s) URL of at most {URL_MAX_LENGTH} characters: mem0g stores a reference "
            "to the file and never its content (inline or base64 data is not accepted)"
        )
    caption = None
    for source in (part, holder if isinstance(holder, dict) else {}):
        for name in CAPTION_KEYS:
            if isinstance(source.get(name), str) and source[name].strip():
                caption = caption or source[name]
    return Attachment(kind=kind, url=url, caption=_caption(caption))


def _caption(text: str | None) -> str | None:
    if text is None:
        return None
    text = " ".join(text.split())
    if len(text) > CAPTION_MAX_CHARS:
        text = text[: CAPTION_MAX_CHARS - 1].rstrip() + "…"
    return text or None


def attachment_text(attachment: Attachment, role: str) -> str:
    """The memory text of a reference: who shared what, where, and its caption."""
    who = {"user": "User", "assistant": "Assistant"}.get(role, role.capitalize())
    text = f"{who} shared {_NOUNS[attachment.kind]} ({attachment.url})"
    return f"{text}: {attachment.caption}" if attachment.caption else text
