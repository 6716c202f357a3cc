"""One clause -> one fact: what is kept, its subject, corrections of earlier facts, its kind."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date

from memories.extraction.dates import _clause_is_past, _resolve_dates
from memories.extraction.messages import Fact
from memories.extraction.rules import (
    _ADVERBS,
    _AGENT_PHATIC,
    _ANTECEDENT,
    _AUX_3SG,
    _CALL_ME,
    _CAUSAL_LEAD,
    _COMPOUND,
    _CORRECTION_FILLER,
    _CORRECTION_PAIR,
    _COUPLE,
    _COUPLE_SUBJECT,
    _DEMONYMS,
    _ED_ADJECTIVES,
    _ED_BASE,
    _ELIDED_BASE,
    _ELIDED_PREFIX,
    _EXISTENTIAL_THERE,
    _FUNCTION_WORDS,
    _GERUND_SUBJECT_NEXT,
    _HABIT_VERBS,
    _HEDGE,
    _I_AM_NAME,
    _I_MEANT,
    _IMPERATIVES,
    _INSTRUCTION,
    _IS_PROPER,
    _KEYWORD_STOP,
    _KIND_PATTERNS,
    _LEAD_FREQUENCY,
    _LEAD_IN,
    _LEAD_MARKER,
    _LEAD_TIME,
    _LEADING_PUNCT,
    _ME_MENTION,
    _MODALS,
    _MOTION_VERBS,
    _MY_PHATIC,
    _NEGATION,
    _NON_SUBJECT_STARTS,
    _NOT_TAIL,
    _OWNED_SUBJECT,
    _PAST,
    _PAST_HINT,
    _PHATIC_I,
    _POINTER_TAIL,
    _POINTERS,
    _POSSESSIVE_START,
    _QUESTION_START,
    _REQUEST_THING,
    _REQUEST_TO_KNOW,
    _SPEAKER_IN_REST,
    _STANDING,
    _THANKS,
    _THERE,
    _TRAILING_PUNCT,
    _TRANSIENT_RE,
    _VERB_BASE,
    _WEEKDAYS,
    _WORD,
    _WRAPPER,
    _YOU,
    _is_ly_adverb,
)
from memories.extraction.speakers import _finish, _rewrite, _Speaker


def _strip_markers(text: str) -> tuple[str, bool]:
    correction = False
    while True:
        text = _LEADING_PUNCT.sub("", text)
        if m := _LEAD_MARKER.match(text):
            correction = correction or bool(m.group("corr"))
            text = text[m.end() :]
            continue
        if m := _I_MEANT.match(text):
            correction = True
            text = text[m.end() :]
            continue
        if m := _WRAPPER.match(text):
            text = text[m.end() :]
            continue
        if m := _LEAD_IN.match(text):
            text = text[m.end() :]
            continue
        return text.strip(), correction


# --------------------------------------------------------------------------------------------------
# One clause -> one fact


def _clause_fact(
    clause: str,
    speaker: _Speaker,
    today: date,
    correction: bool,
    earlier: list[Fact],
    role: str,
    place: str | None = None,
):
    clause, more_correction = _strip_markers(_TRAILING_PUNCT.sub("", clause))
    correction = correction or more_correction
    if not clause or _QUESTION_START.match(clause) or _THANKS.match(clause):
        return None
    if m := _LEAD_FREQUENCY.match(clause):
        clause = f"I {m.group('adv').lower()} {clause[m.end() :]}"
    elif m := _LEAD_TIME.match(clause):
        adverbial = m.group("adv")
        if adverbial.split()[0].lower() not in _WEEKDAYS:
            adverbial = adverbial[0].lower() + adverbial[1:]
        clause = f"{clause[m.end() :]} {adverbial}"

    clause = _CAUSAL_LEAD.sub("", clause)
    clause = _elided_subject(clause)
    if place:
        clause = _THERE.sub(lambda m: _there(m, place), clause)
    if not speaker.agent:
        if m := _CALL_ME.match(clause):
            return f"{speaker.name} prefers to be called {m.group('name')}", "preference", False
        if (m := _I_AM_NAME.match(clause)) and not _is_demonym(m.group("name")):
            return f"{speaker.name}'s name is {m.group('name')}", "biography", False
    if not speaker.agent and (m := _INSTRUCTION.match(clause)) and _STANDING.search(clause):
        rest = m.group("rest")
        if not _YOU.search(rest):
            return f"{speaker.name}'s standing instruction: {rest}", "preference", False
    if speaker.other is None and _YOU.search(clause):
        return None  # "you" is nobody we can name: never "the assistant"
    group = None
    if not speaker.agent and re.match(r"^(?:We|we) ", clause):
        couple = _COUPLE.match(clause[3:])
        group = (_COUPLE_SUBJECT if couple else speaker.group).format(name=speaker.name)
        clause = "\x01" + clause[2:]
    elif not speaker.agent and re.match(r"^(?:Our|our) ", clause):
        clause = "My" + clause[3:]

    mode = "group" if group else _subject_mode(clause, speaker)
    if mode is None:
        if correction:
            return _correct_earlier(clause, earlier, role)
        return None
    if mode == "speaker" and not _worth_keeping(clause, speaker):
        return None

    if mode == "group" and not _has_content("We" + clause[1:]):
        return None
    past_context = bool(_PAST_HINT.search(clause))
    compound = None
    body = clause
    if mode == "compound":
        m = _COMPOUND.match(clause)
        partner = re.sub(r"\b[Mm]y\b", speaker.possessive, m.group("a") or m.group("b"))
        compound = f"{speaker.name} and {partner}"
        body = "\x00" + clause[m.end() :]
    body, future = _resolve_dates(body, today, past=_clause_is_past(clause))
    text = _rewrite(
        body,
        speaker,
        lead_is_subject=mode == "speaker",
        subject_is_speaker=mode in ("speaker", "compound", "group"),
        past_context=past_context,
        group=compound is not None or group is not None,
    )
    if compound is not None:
        text = text.replace("\x00", compound)
    if group is not None:
        text = text.replace("\x01", group)
    text = _finish(text)
    if not text or _dangling(text, speaker):
        return None
    if correction or re.match(r"^I actually\b", clause):
        text = _finish(_apply_not_tail(text, earlier)) or text
        kind = "correction"
    else:
        kind = _classify(_as_user(text, speaker), future)
    return text, kind, _is_negated(text)


def _as_user(text: str, speaker: _Speaker) -> str:
    """The fact with its named subject read as "User" (the kind patterns speak of "User")."""
    if speaker.agent or speaker.name == "User" or not text.startswith(speaker.name):
        return text
    return "User" + text[len(speaker.name) :]


def _elided_subject(clause: str) -> str:
    """ "Can't stand cilantro" -> "I cannot stand cilantro"; "Worked on the engine" -> "I worked ..."."""
    words = clause.split()
    if not words or not words[0][:1].isupper() or words[0] == "I":
        return clause
    index = 0
    while index < len(words) - 1 and (words[index].lower() in _ADVERBS or _is_ly_adverb(words[index].lower())):
        index += 1
    first = words[index].lower().strip(",")
    following = words[index + 1].lower() if index + 1 < len(words) else ""
    if first in _ED_ADJECTIVES or first in _NON_SUBJECT_STARTS or first in _IMPERATIVES - {"made", "took", "got"}:
        return clause
    if first == "been":
        kind = "been"
    elif first in _PAST or (first.endswith("ed") and len(first) > 4 and first not in _ED_BASE):
        if following in ("by", "to") and first.endswith("ed"):
            return clause  # "Inspired by ...", "Supposed to ..."
        kind = "past"
    elif first in _ELIDED_BASE:
        kind = "base"
    elif first.endswith("ing") and len(first) >= 5 and first not in ("thing", "nothing", "something", "everything"):
        ahead = [word.lower().strip(",") for word in words[index + 1 : index + 9]]
        if following.endswith("s") and following not in ("us", "this") or _GERUND_SUBJECT_NEXT.intersection(ahead):
            return clause  # "Painting is my passion", "Running helps me relax", "Relaxing and ... is key"
        kind = "ing"
    else:
        return clause
    lead = " ".join(words[:index])
    rest = " ".join([words[index][0].lower() + words[index][1:], *words[index + 1 :]])
    return _ELIDED_PREFIX[kind] + (lead.lower() + " " if lead else "") + rest


def _dangling(text: str, speaker: _Speaker) -> bool:
    """True when a pointer ("there", "those", "it") has nothing in the fact to point at."""
    words = _WORD.findall(text)
    lowered = [word.lower() for word in words]
    if "there" in lowered and not _EXISTENTIAL_THERE.search(text):
        return True
    for index in range(len(lowered) - 1, 0, -1):
        if lowered[index] not in _POINTERS:
            continue
        tail = lowered[index + 1 :]
        if all(word in _POINTER_TAIL or word.isdigit() or "-" in word and word[:4].isdigit() for word in tail):
            before = text.split(words[index], 1)[0]
            before = before[len(speaker.name) :] if before.startswith(speaker.name) else before
            return not _ANTECEDENT.search(before)
        return False
    return False


def _there(match: re.Match[str], place: str) -> str:
    """'going there' -> 'going to Japan', 'love it there' -> 'love it in Japan', 'been there' -> 'been at Acme'."""
    if place.startswith("at "):
        return f"{match.group('verb')}{match.group('gap')}{place}"
    preposition = "to" if match.group("verb").lower() in _MOTION_VERBS else "in"
    return f"{match.group('verb')}{match.group('gap')}{preposition} {place}"


def _is_demonym(name: str) -> bool:
    lower = name.lower()
    return lower in _DEMONYMS or lower.endswith(("ese", "ish")) or " " in name and lower.split()[0] in _DEMONYMS


def _subject_mode(clause: str, speaker: _Speaker) -> str | None:
    """How the clause is about the speaker: "speaker" (I ...), "compound" (My wife and I ...),
    "possessive" (My sister ...), "mention" (Sushi is my favourite food), or None (not about them)."""
    if clause.startswith("I ") or clause == "I":
        return "speaker"
    if not speaker.agent and _COMPOUND.match(clause):
        return "compound"
    if _POSSESSIVE_START.match(clause):
        return None if _MY_PHATIC.match(clause) else "possessive"
    if speaker.agent:
        return None
    first = clause.split(" ", 1)[0].lower().strip("\"'")
    if first in _NON_SUBJECT_STARTS and not re.match(r"^it (?:is|was) my\b", clause, re.IGNORECASE):
        return None
    if first in _IMPERATIVES or first == "let's" or first in ("i", "me", "mine", "myself"):
        return None
    if re.search(r"\b(?:my|mine)\b", clause):
        return "mention"
    if _ME_MENTION.match(clause) and len(clause.split()) >= 5:
        return "mention"  # "The support group has made me feel accepted"
    return None


def _worth_keeping(clause: str, speaker: _Speaker) -> bool:
    if speaker.agent:
        return not _AGENT_PHATIC.match(clause) and _has_content(clause)
    if _PHATIC_I.match(clause) or _TRANSIENT_RE.match(clause) or _REQUEST_THING.match(clause):
        return False
    if _REQUEST_TO_KNOW.match(clause) and not _STANDING.search(clause):
        return False
    if m := _HEDGE.match(clause):
        if not _SPEAKER_IN_REST.search(m.group("rest")):
            return False
    return _has_content(clause)


def _has_content(clause: str) -> bool:
    """False for clauses with nothing self-contained after the verb: "I love it", "I'll try that"."""
    words = _WORD.findall(clause)[1:]
    index = 0
    chain: list[str] = []
    while index < len(words):
        lower = words[index].lower()
        if lower in _ADVERBS or lower == "not" or _is_ly_adverb(lower):
            index += 1
        elif lower in _AUX_3SG or lower in _MODALS or lower in {"be", "been", "does", "did", "had", "has"}:
            chain.append(lower)
            index += 1
        else:
            break
    rest = words[index:]
    if rest and (rest[0].lower() in _HABIT_VERBS or rest[0].lower().removesuffix("s") in _HABIT_VERBS):
        return True  # "I smoke", "I no longer meditate": the activity is the fact
    if chain == ["do"] and rest and rest[0].lower() not in _VERB_BASE:
        return True  # "I do yoga"
    if not any(word in {"am", "is", "are", "was", "were", "be", "been", "have", "has", "had"} for word in chain):
        rest = rest[1:]  # the lexical verb itself
    return any(word.lower() not in _FUNCTION_WORDS for word in rest)


# --------------------------------------------------------------------------------------------------
# Corrections


def _correct_earlier(clause: str, earlier: list[Fact], role: str):
    """'No, I meant Lisbon, not Porto' rewrites the earlier fact of this call that mentions Porto."""
    clause = _CORRECTION_FILLER.sub("", clause)
    m = _CORRECTION_PAIR.match(clause)
    if not m:
        return None
    new, old = m.group("new").strip(), m.group("old").strip()
    pattern = re.compile(r"\b" + re.escape(old) + r"\b", re.IGNORECASE)
    for position in range(len(earlier) - 1, -1, -1):
        fact = earlier[position]
        if fact.role == role and pattern.search(fact.text):
            del earlier[position]
            return pattern.sub(new, fact.text), "correction", fact.negated
    return None


def _apply_not_tail(text: str, earlier: list[Fact]) -> str:
    """'User is 35, not 34': drop the earlier fact about 34 and keep 'User is 35'."""
    m = _NOT_TAIL.search(text)
    if not m:
        return text
    pattern = re.compile(r"\b" + re.escape(m.group("old").strip()) + r"\b", re.IGNORECASE)
    replaced = False
    for position in range(len(earlier) - 1, -1, -1):
        if pattern.search(earlier[position].text):
            del earlier[position]
            replaced = True
    return text[: m.start()] if replaced else text


# --------------------------------------------------------------------------------------------------
# Classification and filtering


def _classify(text: str, future: bool) -> str:
    lower = text.lower()
    if m := _OWNED_SUBJECT.match(lower):
        return "relation" if m.group("relation") else "possession"
    for kind, pattern in _KIND_PATTERNS:
        if kind == "relation" and future:
            return "plan"
        if kind == "biography" and _IS_PROPER.match(text):
            return kind  # "User is Italian", "User is Muslim"
        if pattern.search(lower):
            return kind
    return "plan" if future else "other"


def _is_negated(text: str) -> bool:
    head = " ".join(text.split()[:8])
    return bool(_NEGATION.search(head))


def _keywords(spec: str | Iterable[str] | None) -> list[re.Pattern[str]] | None:
    """Topic words -> prefix patterns; None when no topics were given (a blank string counts as none)."""
    if spec is None or (isinstance(spec, str) and not spec.strip()):
        return None
    items = re.split(r"[,;\n]", spec) if isinstance(spec, str) else list(spec)
    patterns = []
    for item in items:
        for word in _WORD.findall(str(item).lower()):
            word = word.strip("'-")
            if len(word) < 2 or word in _KEYWORD_STOP:
                continue
            patterns.append(re.compile(r"\b" + re.escape(_stem(word)), re.IGNORECASE))
    return patterns


def _stem(word: str) -> str:
    if word.endswith("ies") and len(word) > 4:
        return word[:-3]
    if word.endswith("ing") and len(word) > 5:
        return word[:-3]
    if word.endswith("ed") and len(word) > 4:
        return word[:-2]
    if word.endswith("es") and len(word) > 4:
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


_SUBJECT_PREFIX = re.compile(r"^(?:User|Assistant)(?:'s)?\s+")


def _mentions(text: str, patterns: list[re.Pattern[str]]) -> bool:
    body = _SUBJECT_PREFIX.sub("", text)
    return any(pattern.search(body) for pattern in patterns)
