"""Who speaks, and rewriting what they said into the third person ("I love X" -> "User loves X")."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from memories.extraction.rules import (
    _ADVERBS,
    _AMBIGUOUS_PAST,
    _AUX_3SG,
    _AUX_PLURAL,
    _ED_BASE,
    _LEADING_PUNCT,
    _MODALS,
    _PAST,
    _PREFERENCE_VERBS,
    _SPACES,
    _TOKEN,
    _TRAILING_PUNCT,
    _VERB_BASE,
    _is_ly_adverb,
)

# --------------------------------------------------------------------------------------------------
# Speakers


@dataclass(frozen=True)
class _Speaker:
    name: str  # "User" / "Assistant"
    pronoun: str  # embedded subject "I" when the clause subject is the speaker
    pronoun_plural: bool  # "they" takes plural verbs, "it" takes 3rd-singular
    possessive: str  # embedded "my"
    object: str  # embedded "me"
    reflexive: str  # "myself"
    absolute: str  # "mine"
    other: str | None  # who "you" is; None: unknown (a clause about "you" is dropped)
    agent: bool = False  # the assistant speaking about itself (agent-scoped adds)
    group: str = "{name} and family"  # what "we" becomes (plural verbs stay plural)


_GROUP_PRONOUNS = {"we": "they", "our": "their", "ours": "theirs", "us": "them", "ourselves": "themselves"}
_USER = _Speaker("User", "they", True, "their", "them", "themselves", "theirs", None)
_ASSISTANT = _Speaker("Assistant", "it", False, "its", "it", "itself", "its own", "the user", agent=True)
_NAME_OK = re.compile(r"^[^\W\d_](?:[^\W\d_]|['.-])*(?: [^\W\d_](?:[^\W\d_]|['.-])*){0,3}$")
_RESERVED_NAMES = frozenset("user assistant system human ai bot me you i we".split())


def _speaker_name(name: str | None) -> str | None:
    """A message's ``name`` usable as a subject ("Caroline"), or None ("user_42", "", "assistant")."""
    name = (name or "").strip()
    if not name or len(name) > 40 or not _NAME_OK.match(name) or name.lower() in _RESERVED_NAMES:
        return None
    return name[0].upper() + name[1:]


def _user_speaker(name: str | None, other: str | None) -> _Speaker:
    if name is None:
        return replace(_USER, other=other)
    return replace(_USER, name=name, other=other)


# --------------------------------------------------------------------------------------------------
# Rewriting into the third person


def _rewrite(
    text: str,
    speaker: _Speaker,
    *,
    lead_is_subject: bool,
    subject_is_speaker: bool,
    past_context: bool,
    group: bool = False,
) -> str:
    tokens = _TOKEN.findall(text)
    out = list(tokens)
    lead_pending = lead_is_subject
    coordinate = False  # conjugate "and <verb>" after a 3rd-person lexical verb ("lives ... and works")
    index = 0
    while index < len(tokens):
        token = tokens[index]
        lower = token.lower()
        if token == "I":
            if lead_pending:
                lead_pending = False
                out[index] = speaker.name
                index, coordinate = _conjugate_after(tokens, out, index, past_context, plural=False)
                continue
            if subject_is_speaker:
                out[index] = speaker.pronoun
                index, _ = _conjugate_after(tokens, out, index, past_context, plural=speaker.pronoun_plural)
            else:
                out[index] = speaker.name
                index, _ = _conjugate_after(tokens, out, index, past_context, plural=False)
            continue
        if lower == "you":
            out[index] = speaker.other
            verb_index = _next_word(tokens, index)
            if verb_index is not None:
                verb = tokens[verb_index].lower()
                if verb in ("are", "were", "have", "do") or verb in _VERB_BASE:
                    out[verb_index] = _AUX_3SG.get(verb) or _third_person(verb)
        elif lower in ("your", "yours"):
            out[index] = f"{speaker.other}'s"
        elif lower in ("yourself", "yourselves"):
            out[index] = "itself" if not speaker.agent else "themselves"
        elif lower == "my":
            own = subject_is_speaker and index > 0
            out[index] = speaker.possessive if own else f"{speaker.name}'s"
        elif token == "me":
            out[index] = speaker.object if subject_is_speaker else speaker.name
        elif lower == "myself":
            out[index] = speaker.reflexive if subject_is_speaker else speaker.name
        elif lower == "mine":
            out[index] = speaker.absolute if subject_is_speaker else f"{speaker.name}'s"
        elif group and lower in _GROUP_PRONOUNS:
            out[index] = _GROUP_PRONOUNS[lower]
        elif lower in ("to", "not", "never") or lower in _MODALS:
            coordinate = False
        elif coordinate and lower in ("and", "or"):
            verb_index = _next_word(tokens, index)
            if verb_index is not None and tokens[verb_index] in _VERB_BASE:
                out[verb_index] = _third_person(tokens[verb_index])
                index = verb_index
        index += 1
    return "".join(out)


def _next_word(tokens: list[str], index: int) -> int | None:
    index += 1
    while index < len(tokens) and tokens[index].isspace():
        index += 1
    if index < len(tokens) and tokens[index][:1].isalpha():
        return index
    return None


def _conjugate_after(tokens: list[str], out: list[str], index: int, past_context: bool, *, plural: bool):
    """Conjugate the verb after an "I" (skipping adverbs) at tokens[index]; return (next index, coordinate)."""
    cursor = index
    while True:
        nxt = _next_word(tokens, cursor)
        if nxt is None:
            return index + 1, False
        lower = tokens[nxt].lower()
        if lower in _ADVERBS or _is_ly_adverb(lower):
            cursor = nxt
            continue
        break
    verb = tokens[nxt]
    if plural:
        out[nxt] = _AUX_PLURAL.get(lower, verb) if lower in ("am", "was") else verb
        return nxt + 1, False
    if lower in _AUX_3SG:
        out[nxt] = _AUX_3SG[lower]
        lexical = lower in ("am", "are", "have")
        return nxt + 1, lexical
    if lower in _MODALS or lower in _PAST or (lower.endswith("ed") and lower not in _ED_BASE):
        return nxt + 1, False
    if lower in _AMBIGUOUS_PAST and past_context:
        return nxt + 1, False
    if verb.isalpha() and verb.isupper() and len(verb) > 1:
        out[nxt] = _third_person(lower).upper()  # "I LOVE PIZZA"
        return nxt + 1, False
    if not verb.isalpha() or not verb.islower():
        return nxt + 1, False
    out[nxt] = _third_person(lower)
    return nxt + 1, lower not in _PREFERENCE_VERBS


def _third_person(verb: str) -> str:
    special = {"have": "has", "be": "is", "do": "does", "go": "goes"}
    if verb in special:
        return special[verb]
    if verb.endswith(("s", "sh", "ch", "x", "z", "o")):
        return verb + "es"
    if verb.endswith("y") and len(verb) > 1 and verb[-2] not in "aeiou":
        return verb[:-1] + "ies"
    return verb + "s"


def _finish(text: str) -> str:
    text = _SPACES.sub(" ", text).strip()
    text = _TRAILING_PUNCT.sub("", text)
    text = _LEADING_PUNCT.sub("", text)
    if not text:
        return ""
    return text[0].upper() + text[1:]
