"""The one JSON body parser of the API: a body that parses is also one we can store.

Refused with a 400 (``INVALID_REQUEST``) before any view runs: bodies that are not UTF-8 or not
JSON, ``NaN``/``Infinity``, nesting deeper than ``MAX_JSON_DEPTH``, and NUL characters (``\\u0000``,
which PostgreSQL's text and jsonb refuse) or lone surrogates (``\\ud800``, which are not Unicode
text) anywhere, in keys as in values. The error names the place, e.g. ``messages[0].content``.
"""

import json

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser as DrfJSONParser

from mem0g_site import timing
from mem0g_site.exceptions import InvalidRequest


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def _path(parts: tuple) -> str:
    text = "body"
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else ("." if text else "") + str(part)
    return text.removeprefix("body.")


def bad_text(text: str) -> str | None:
    """Why ``text`` cannot be stored (a NUL or a lone surrogate), or None."""
    if "\x00" in text:
        return "a NUL character (\\u0000)"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "a lone surrogate (not Unicode text)"
    return None


def check_json(value, *, max_depth: int, what: str = "request body") -> None:
    """Raise :class:`InvalidRequest` for nesting past ``max_depth`` or an unstorable string.
    Iterative, so any depth the decoder produced is walked without recursion."""
    stack = [(value, 1, ())]
    while stack:
        item, depth, where = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > max_depth:
                raise InvalidRequest(
                    f"Malformed {what}: JSON nested deeper than {max_depth} levels (MAX_JSON_DEPTH)",
                    details={"limit": "MAX_JSON_DEPTH", "value": max_depth, "at": _path(where)},
                )
            if isinstance(item, dict):
                for key, entry in item.items():
                    problem = bad_text(key)
                    if problem:
                        raise InvalidRequest(
                            f"Malformed {what}: a key holds {problem} at {_path(where) or 'the top level'}",
                            details={"at": _path(where)},
                        )
                    stack.append((entry, depth + 1, (*where, key)))
            else:
                stack.extend((entry, depth + 1, (*where, index)) for index, entry in enumerate(item))
        elif isinstance(item, str):
            problem = bad_text(item)
            if problem:
                at = _path(where) or "the top level"
                raise InvalidRequest(f"Malformed {what}: {problem} in {at}", details={"at": _path(where)})


class JSONParser(DrfJSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        with timing.stage("parse"):
            return self._parse(stream)

    def _parse(self, stream):
        raw = stream.read() if stream is not None else b""
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ParseError(f"the body is not UTF-8 ({exc.reason} at byte {exc.start})") from None
        try:
            data = json.loads(text, parse_constant=_refuse_constant)
        except RecursionError:  # ~1,000 levels: far past the limit
            raise InvalidRequest(
                f"Malformed request body: JSON nested deeper than {settings.MAX_JSON_DEPTH} levels (MAX_JSON_DEPTH)",
                details={"limit": "MAX_JSON_DEPTH", "value": settings.MAX_JSON_DEPTH},
            ) from None
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        check_json(data, max_depth=settings.MAX_JSON_DEPTH)
        return data
