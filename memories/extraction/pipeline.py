"""The extractor's entry point (:func:`extract_facts`) and its pipeline: messages -> speakers ->
sentences -> clauses (each turned into a fact by :mod:`memories.extraction.clauses`)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime

from memories.extraction.clauses import _clause_fact, _dangling, _keywords, _mentions, _strip_markers, _there
from memories.extraction.dates import _clause_is_past, _resolve_dates
from memories.extraction.messages import Fact, Message
from memories.extraction.rules import (
    _ABBREVIATIONS,
    _ADVERBS,
    _AUX_3SG,
    _BOUNDARY,
    _COMPOUND_LEFT,
    _ED_BASE,
    _EMOJI,
    _FUNCTION_WORDS,
    _I_CONTRACTION,
    _IM,
    _LAST_WORD,
    _LEAD_TIME,
    _LOWER_I,
    _MODALS,
    _NAME_SUBJECT,
    _NEG_CONTRACTION,
    _NOT_PLACES,
    _NOT_VOCATIVES,
    _PAST,
    _PLACE,
    _POINTERS,
    _POSSESSIVE_SUBJECT,
    _PRONOUN_SUBJECT,
    _QUESTION_START,
    _RESTATEMENTS,
    _SAID_MIN_CONTENT_WORDS,
    _SAID_NOT_STARTS,
    _SECOND_PERSON,
    _SECOND_TO_FIRST,
    _SLANG,
    _SLANG_RE,
    _SPACES,
    _SPEAKER_IN_REST,
    _SPLIT_CANDIDATE,
    _SUBORDINATE,
    _THANKS,
    _THERE,
    _TRAILING_NOISE,
    _TRAILING_PUNCT,
    _TRANSLATE,
    _VERB_BASE,
    _VOCATIVE,
    _WE_CONTRACTION,
    _WORD,
    _YOU,
    _YOU_CONTRACTION,
)
from memories.extraction.speakers import _ASSISTANT, _finish, _rewrite, _Speaker, _speaker_name, _user_speaker

# --------------------------------------------------------------------------------------------------
# Public entry point


class TooManyFacts(ValueError):
    """More distinct facts than ``max_facts``: raised as soon as one more is found (the rest of the
    messages are not read)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the messages hold more than {limit} facts")
        self.limit = limit


def extract_facts(
    messages: Sequence[Message],
    *,
    observed_at: datetime,
    agent_scoped: bool = False,
    includes: str | None = None,
    excludes: str | None = None,
    max_facts: int | None = None,
) -> list[Fact]:
    """Self-contained third-person facts stated in ``messages``, in order, each text once.

    User messages always count; assistant messages only when ``agent_scoped`` (facts about the
    assistant itself, starting with "Assistant"); system and other roles never. Relative dates are
    resolved against ``observed_at`` (its own local date). ``includes``/``excludes`` are comma
    separated topic words: a fact is kept only if it mentions an include word (prefix match on word
    stems, case-insensitive; the leading "User"/"Assistant" subject does not count) and none of the
    exclude words. A blank string means no filter. ``max_facts``: raise :class:`TooManyFacts` once
    more distinct facts than that are found (before ``includes``/``excludes`` apply), or ten times as
    many statements of facts, repeats included.
    """
    today = observed_at.date()
    include_words = _keywords(includes)
    exclude_words = _keywords(excludes)
    facts: list[Fact] = []
    found: set[str] = set()
    stated = 0
    names = [_speaker_name(message.name) for message in messages]
    others = _other_speakers(names)
    addressees = _addressees(messages, names)
    context = _Context()
    for position, message in enumerate(messages):
        role = (message.role or "").strip().lower()
        if role == "user":
            other = others[position] or _vocative(message.content, names[position])
            speaker = _user_speaker(names[position], other)
            content = message.content
        elif role == "assistant" and agent_scoped:
            speaker = _ASSISTANT
            content = message.content
        elif role == "assistant":
            # Only what the assistant restates about the user ("You mentioned you're vegan").
            speaker = _user_speaker(addressees[position], None)
            content = _restated(message.content)
            if not content:
                continue
            role = "user"
        else:
            continue
        before = list(facts)
        for text, kind, negated in _message_facts(content, speaker, today, facts, role, context):
            sources = (position,)
            if kind == "correction":
                # The corrected fact (dropped from ``facts`` by the correction) said the rest of it.
                kept = {id(fact) for fact in facts}
                sources = _merged(*(fact.sources for fact in before if id(fact) not in kept), sources)
            facts.append(Fact(text=text, role=role, kind=kind, negated=negated, sources=sources))
            before = list(facts)
            found.add(text)
            stated += 1
            # Repeats count too, up to 10x: a correction looks back over the facts stated before it,
            # so their number bounds the work as well.
            if max_facts is not None and (len(found) > max_facts or stated > 10 * max_facts):
                raise TooManyFacts(max_facts)
    said_in: dict[str, tuple[int, ...]] = {}
    for fact in facts:
        said_in[fact.text] = _merged(said_in.get(fact.text, ()), fact.sources)
    seen: set[str] = set()
    result = []
    for fact in facts:
        if fact.text in seen:
            continue
        seen.add(fact.text)
        fact = replace(fact, sources=said_in[fact.text])
        if include_words is not None and not _mentions(fact.text, include_words):
            continue
        if exclude_words and _mentions(fact.text, exclude_words):
            continue
        result.append(fact)
    return result


def _merged(*positions: tuple[int, ...]) -> tuple[int, ...]:
    """Message positions, each once, in order."""
    return tuple(sorted({position for group in positions for position in group}))


# --------------------------------------------------------------------------------------------------
# Pipeline


@dataclass
class _Context:
    """What earlier messages of the same add said that later ones may point back to."""

    place: str | None = None  # the last place named, for a later "there"


def _other_speakers(names: list[str | None]) -> list[str | None]:
    """Who "you" is in each message: the nearest other named speaker of the conversation (linear:
    the two most recent distinct names on each side are enough to find one that is not its own)."""

    def nearest(order: range) -> dict[int, list[tuple[int, str]]]:
        recent: list[tuple[int, str]] = []  # (index, name), most recent first, distinct names, at most 2
        seen: dict[int, list[tuple[int, str]]] = {}
        for index in order:
            seen[index] = list(recent)
            if names[index]:
                recent = [(index, names[index])] + [item for item in recent if item[1] != names[index]][:1]
        return seen

    left, right = nearest(range(len(names))), nearest(range(len(names) - 1, -1, -1))
    result: list[str | None] = []
    for index, own in enumerate(names):
        found = [item for item in left[index] + right[index] if item[1] != own]
        result.append(min(found, key=lambda item: abs(item[0] - index))[1] if found else None)
    return result


def _vocative(content: str, own: str | None) -> str | None:
    """The person a message addresses by name ("Hey Mel!", "Thanks, Caroline!"): who "you" is."""
    for match in _VOCATIVE.finditer(content):
        name = match.group("name") or match.group("after_comma")
        if name.lower() not in _NOT_VOCATIVES and name != own:
            return name
    return None


def _addressees(messages: Sequence[Message], names: list[str | None]) -> list[str | None]:
    """The user each message would speak to: the name of the nearest named user message."""
    named = [
        index
        for index, message in enumerate(messages)
        if (message.role or "").strip().lower() == "user" and names[index]
    ]
    result: list[str | None] = []
    cursor = 0
    for position in range(len(messages)):
        while cursor + 1 < len(named) and abs(named[cursor + 1] - position) <= abs(named[cursor] - position):
            cursor += 1
        result.append(names[named[cursor]] if named else None)
    return result


def _restated(content: str) -> str:
    """An assistant message's restatements of the user ("You mentioned you're allergic to nuts",
    "Since you're vegan, ...") turned into first-person sentences; "" when there are none."""
    found = []
    text = _prepare(content)
    for sentence in _sentences(text):
        for pattern in _RESTATEMENTS:
            if m := pattern.search(sentence):
                found.append(_second_to_first(m.group("fact")).strip(" ,") + ".")
                break
    return " ".join(found)


def _second_to_first(text: str) -> str:
    return _SECOND_PERSON.sub(lambda m: _keep_case(m.group(), _SECOND_TO_FIRST[m.group().lower()]), text)


def _message_facts(content: str, speaker: _Speaker, today: date, earlier: list[Fact], role: str, context: _Context):
    text = _prepare(content)
    for sentence in _sentences(text):
        for m in _PLACE.finditer(sentence):
            if m.group("place").split()[0].lower() not in _NOT_PLACES:
                context.place = ("at " if m.group("prep") == "at" else "") + m.group("place")
        yield from _sentence_facts(sentence, speaker, today, earlier, role, context.place)


def _prepare(content: str) -> str:
    text = content.translate(_TRANSLATE).replace("\x00", "")
    text = _EMOJI.sub(" ", text)
    text = _LOWER_I.sub("I", text)
    text = _IM.sub("I'm", text)
    text = _I_CONTRACTION.sub(_expand_i, text)
    text = _YOU_CONTRACTION.sub(
        lambda m: f"{m.group(1)} " + {"re": "are", "ve": "have", "ll": "will", "d": "would"}[m.group(2).lower()],
        text,
    )
    text = _WE_CONTRACTION.sub(
        lambda m: f"{m.group(1)} " + {"re": "are", "ve": "have", "ll": "will", "d": "would"}[m.group(2).lower()],
        text,
    )
    text = _NEG_CONTRACTION.sub(_expand_negation, text)
    text = _SLANG_RE.sub(lambda m: _keep_case(m.group(1), _SLANG[m.group(1).lower()]), text)
    return "\n".join(_SPACES.sub(" ", line).strip() for line in text.split("\n"))


def _expand_i(match: re.Match[str]) -> str:
    suffix = match.group(1).lower()
    if suffix == "d":
        following = (match.group(2) or "").strip().lower()
        had = following in {"been", "already", "never", "just", "better", "gone", "done", "seen", "had"} or (
            following.endswith("ed") and following not in _ED_BASE
        )
        return "I had" if had else "I would"
    return "I " + {"m": "am", "ve": "have", "ll": "will"}[suffix]


def _expand_negation(match: re.Match[str]) -> str:
    word = match.group(1)
    lower = word.lower()
    special = {"ca": "cannot", "wo": "will not", "sha": "shall not", "ai": "is not"}
    expanded = special.get(lower, f"{lower} not")
    return _keep_case(word, expanded)


def _keep_case(original: str, replacement: str) -> str:
    return replacement[0].upper() + replacement[1:] if original[:1].isupper() else replacement


def _sentences(text: str) -> list[str]:
    out = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        if match.group() == ".":
            previous = _LAST_WORD.search(text, start, match.start())
            if previous:
                word = previous.group(1)
                if word.lower() in _ABBREVIATIONS or (len(word) == 1 and word.isupper() and word != "I"):
                    continue
        segment = text[start : match.end()].strip()
        if segment:
            out.append(segment)
        start = match.end()
    tail = text[start:].strip()
    if tail:
        out.append(tail)
    return out


def _sentence_facts(
    sentence: str, speaker: _Speaker, today: date, earlier: list[Fact], role: str, place: str | None = None
):
    sentence = _TRAILING_NOISE.sub(r"\1", sentence).strip()
    is_question = sentence.rstrip(" \"')]").endswith("?")
    sentence = _TRAILING_PUNCT.sub("", sentence)
    sentence, correction = _strip_markers(sentence)
    if not sentence or _THANKS.match(sentence):
        return
    if m := _SUBORDINATE.match(sentence):
        sentence = f"{m.group('main')} {m.group('conj').lower()} {m.group('sub')}"
    clauses = _split_clauses(sentence)
    found = False
    for index, clause in enumerate(clauses):
        if is_question and index == len(clauses) - 1:
            continue
        fact = _clause_fact(clause, speaker, today, correction, earlier, role, place)
        if fact is not None:
            found = True
            yield fact
    if not found and not is_question and speaker.name != "User" and not speaker.agent:
        if said := _said(sentence, speaker, today, place):
            yield said


def _said(sentence: str, speaker: _Speaker, today: date, place: str | None):
    """A named speaker's statement about their world that is not about them in the first person
    ("The transgender stories were so inspiring") kept as what they said, when it carries enough
    content on its own: no "you", no pointer at the start, no question, at least a few content words."""
    sentence = re.sub(r"^(?:and|but|so|also|plus)\s+", "", sentence, flags=re.IGNORECASE)
    if _QUESTION_START.match(sentence) or _THANKS.match(sentence):
        return None
    if speaker.other is None and _YOU.search(sentence):
        return None
    if _SPEAKER_IN_REST.search(sentence):
        return None  # first-person sentences were read (and kept or refused) as such
    words = _WORD.findall(sentence)
    first = words[0].lower().split("'")[0] if words else ""
    if not words or first in _POINTERS or first in _SAID_NOT_STARTS:
        return None
    if words[0].lower().endswith("ing"):
        return None  # "Taking care of ourselves is so important": a truism, not news
    content = [w for w in words if w.lower() not in _FUNCTION_WORDS and w.lower() not in _ADVERBS]
    if len(content) < _SAID_MIN_CONTENT_WORDS or len(words) > 60:
        return None
    if place:
        sentence = _THERE.sub(lambda m: _there(m, place), sentence)
    body, _ = _resolve_dates(sentence, today, past=_clause_is_past(sentence))
    text = _rewrite(body, speaker, lead_is_subject=False, subject_is_speaker=False, past_context=False)
    text = _finish(text)
    if not text or _dangling(text, speaker):
        return None
    return f"{speaker.name} said: {text}", "other", False


def _split_clauses(sentence: str) -> list[str]:
    parts = []
    start = 0
    for match in _SPLIT_CANDIDATE.finditer(sentence):
        if match.start() < start:
            continue
        right = sentence[match.end() :]
        conjunction = match.group().strip(" ,")
        ok = _starts_clause(right, bare_comma=not conjunction) or bool(
            _QUESTION_START.match(right) or right.lower().startswith("please ")
        )
        if not ok:
            continue
        left = sentence[start : match.start()].strip()
        if left.lower() in ("i", "me"):
            continue
        if conjunction == "and" and right.startswith("I ") and _COMPOUND_LEFT.match(left) and not left.startswith("I"):
            continue  # "My wife and I live in Porto": one compound subject
        parts.append(left)
        start = match.end()
    parts.append(sentence[start:])
    return [part.strip() for part in parts if part.strip()]


def _starts_clause(right: str, *, bare_comma: bool) -> bool:
    if m := _LEAD_TIME.match(right):
        right = right[m.end() :]
    if right.startswith("I ") or right == "I":
        return True
    if m := _POSSESSIVE_SUBJECT.match(right):
        if bare_comma and not right[:2].lower() == "my":
            return False
        words = m.group("words").split()
        return any(_is_verb_like(word) for word in words[1:4])
    if bare_comma:
        return False
    if _PRONOUN_SUBJECT.match(right):
        # "I love Python and it is my favourite language" stays whole: "it" needs the left part.
        return not _SPEAKER_IN_REST.search(right)
    if m := _NAME_SUBJECT.match(right):
        verb = m.group("verb").lower()
        return verb in _AUX_3SG.values() or verb in _MODALS or verb in _PAST or _is_third_person_verb(verb)
    return False


def _is_verb_like(word: str) -> bool:
    lower = word.lower()
    if lower in {"is", "was", "are", "were", "has", "have", "had", "will", "would", "can", "could", "does", "did"}:
        return True
    if lower in {"do", "should", "must", "may", "might", "cannot"} or lower in _PAST or lower in _VERB_BASE:
        return True
    if lower.endswith("ed") and lower not in _ED_BASE and lower not in {"named", "called"}:
        return True
    return _is_third_person_verb(lower)


def _is_third_person_verb(word: str) -> bool:
    if not word.endswith("s"):
        return False
    for base in (word[:-1], word[:-2], word[:-3] + "y" if word.endswith("ies") else ""):
        if base in _VERB_BASE:
            return True
    return word in {"has", "does", "goes"}
