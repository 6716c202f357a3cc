"""Slots: what a fact says about its subject that can change over time (where they live, their job,
whether they like a thing...), read by a table of patterns (data: edit the table, not the code)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

# The subject a fact starts with: "User", "Assistant" or a speaker's name ("Caroline"), possibly
# with company ("User and family", "Caroline and their partner", "User and Sam"): the facts are the
# subject's own. "User's sister ..." is someone else: no slot of the user's matches it.
_SUBJECT = (
    r"(?P<subject>User|Assistant|[A-Z][\w'-]*(?: [A-Z][\w'-]*)?)"
    r"(?: and (?:family|their (?:partner|wife|husband|kids|family|children)|[A-Z][\w'-]*))?"
)
_TIME_WORDS = re.compile(
    r"\b(?:now|currently|still|just|recently|already|actually|these days|nowadays|at the moment|"
    r"any ?more|any longer|again)\b",
    re.IGNORECASE,
)
_TIME_TAIL = re.compile(
    r"\s+(?:in|on|since|from|as of|last|this|next)\s+(?:(?:early|late|mid)\s+)?"
    r"(?:January|February|March|April|May|June|July|August|September|October|November|December|"
    r"\d{4}|week|month|year|summer|winter|spring|autumn|fall)\b.*$",
    re.IGNORECASE,
)
# Where a value ends: a comma, a conjunction or a preposition that starts a new detail.
_VALUE_END = re.compile(
    r"\s*(?:,|;|\.|\s(?:and|but|because|since|for|with|as|who|which|where|when|while|so|after|before|"
    r"especially|named|called|near|at|in|on|from|every|each|daily|weekly|twice|once|regularly)\s).*$",
    re.IGNORECASE,
)
_ARTICLES = re.compile(r"^(?:a|an|the|their|its|his|her|some)\s+", re.IGNORECASE)
_NUMBER_WORDS = "one two three four five six seven eight nine ten eleven twelve no several many multiple a an".split()
_NOT = r"(?:does not|do not|doesn't|don't|did not|didn't|no longer|never|not)"
_PARTNERS = r"(?:wife|husband|partner|girlfriend|boyfriend|fianc[eé]e?|spouse)"
_PREFERENCE_VERBS = (
    r"(?:love|like|enjoy|adore|prefer|drink|eat|play|use|watch|read|listen to|practi[cs]e|go|do|"
    r"follow|support|collect|cook|bake|smoke|hate|dislike|detest|avoid)"
)
_NEGATIVE_VERBS = re.compile(r"^(?:hates?|dislikes?|detests?|avoids?|cannot stand|can't stand|can not stand)\b", re.I)
_STOPPED = r"(?:stopped|quit|gave up|has given up|has stopped|has quit|no longer)"
# Relationship status, one value at a time, in its usual order (data: extend freely).
_STATUS_WORDS = {
    "single": "single", "dating": "dating", "seeing someone": "dating", "in a relationship": "dating",
    "engaged": "engaged", "married": "married", "separated": "separated", "divorced": "divorced",
    "widowed": "widowed", "a widow": "widowed", "a widower": "widowed",
}  # fmt: skip
_STATUS = "|".join(sorted(map(re.escape, _STATUS_WORDS), key=len, reverse=True))
_STATUS_ENDED = r"(?:split up|broke up|separated|called off (?:the|their) engagement)"
_DIETS = r"(?:vegetarian|vegan|pescatarian|omnivore|carnivore|flexitarian|keto)"
_ACQUIRED = r"(?:got|adopted|bought|purchased|received|inherited|rescued|has gotten|just got)"
_LOST = r"(?:sold|gave away|lost|got rid of|no longer owns|no longer has|does not have|doesn't have)"
# Another person: "User's sister", "Caroline's husband" (their facts are never the subject's).
_OTHER_PERSON = re.compile(
    r"^\S+(?: and \S+)?'s (?:\w+ )?(?:mother|mom|mum|father|dad|parents?|sisters?|brothers?|siblings?|wife|husband|"
    r"partner|spouse|boyfriend|girlfriend|fianc[eé]e?|sons?|daughters?|kids?|children|child|bab(?:y|ies)|twins?|"
    r"grand\w+|aunts?|uncles?|cousins?|nieces?|nephews?|friends?|colleagues?|co-?workers?|boss|manager|"
    r"roommates?|neighbou?rs?|family|in-laws|step\w+)\b",
    re.IGNORECASE,
)
# How often: where an activity's object ends ("goes to the gym three times a week" -> "gym").
_FREQUENCY_TAIL = re.compile(
    r"\s+(?:(?:\d+|one|two|three|four|five|six|seven) (?:times?|days?|nights?|mornings?|evenings?|hours?|"
    r"minutes?|km|miles)|once|twice|every|each|on|at|in|daily|weekly|most|"
    r"regularly|anymore|any more|again|with|before|after|when|because|for|since|to|now|these|nowadays)\b.*$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Slot:
    key: tuple[str, ...]  # ("residence", "User"), ("likes", "User", "coffee"), ...
    value: str  # normalised value; "" when the key says it all
    positive: bool = True  # "no longer", "does not", "sold": False
    single: bool = True  # holds one value at a time (so a different value is a change)


def _clean_value(raw: str) -> str:
    value = _VALUE_END.sub("", " " + raw.strip() + " ").strip()
    value = _TIME_WORDS.sub("", value)
    value = _ARTICLES.sub("", value.strip())
    return re.sub(r"\s+", " ", value).strip(" .,'\"").lower()


def _singular(word: str) -> str:
    if len(word) > 3 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def _head(value: str) -> str:
    """The thing a value is about: its last word, singular ("two black cats" -> "cat")."""
    words = [w for w in value.split() if w not in _NUMBER_WORDS]
    return _singular(words[-1]) if words else value


def _quantity(value: str) -> str:
    first = value.split()[0] if value else ""
    return first if first.isdigit() or first in _NUMBER_WORDS else ""


def _pattern(regex: str) -> re.Pattern[str]:
    return re.compile("^" + _SUBJECT + regex, re.IGNORECASE)


# Each entry: a pattern over the fact (time words removed) and a function from its match to a Slot.
_SLOT_PATTERNS: list[tuple[re.Pattern[str], Callable[[re.Match[str]], Slot | None]]] = [
    (
        _pattern(
            r" (?:is|became|has become|is now) (?:(?:now|happily|recently|newly) )?(?P<v>" + _STATUS + r")\b(?!-)"
        ),
        lambda m: Slot(("status", m["subject"]), _STATUS_WORDS[m["v"].lower()]),
    ),
    (
        _pattern(r" (?:got|has gotten|have gotten|get|are getting|is getting) (?P<v>engaged|married|divorced)\b"),
        lambda m: Slot(("status", m["subject"]), m["v"].lower()),
    ),
    (
        _pattern(r" (?:married|wed|divorced|started dating|is seeing|proposed to) (?P<who>[A-Z]\w+|their \w+|someone)"),
        lambda m: Slot(("status", m["subject"]), _status_verb(m[0])),
    ),
    (
        _pattern(r" (?:" + _STATUS_ENDED + r"|(?:are|is) (?:no longer together|not together anymore))"),
        lambda m: Slot(("status", m["subject"]), "single"),
    ),
    (
        _pattern(r" (?:has|have) (?:a|an) (?:new )?(?:girlfriend|boyfriend|partner)\b"),
        lambda m: Slot(("status", m["subject"]), "dating"),
    ),
    (
        _pattern(r" (?:is|are|became|has become|went|is now|turned) (?:a |an |fully )?(?P<v>" + _DIETS + r")\b"),
        lambda m: Slot(("diet", m["subject"]), m["v"].lower()),
    ),
    (
        _pattern(r" (?:started|began|went back to) eating (?:meat|fish|chicken|animal products)"),
        lambda m: Slot(("diet", m["subject"]), "omnivore"),
    ),
    (
        _pattern(
            r" (?:quit|left|lost|was fired from|was laid off from|resigned from|retired from) "
            r"(?:(?:(?:their|the|a|his|her) )?(?:job|position|role|post) (?:at|with) (?P<v>.+)"
            r"|(?P<w>(?-i:[A-Z]).+))"
        ),
        lambda m: Slot(("workplace", m["subject"]), _clean_value(m["v"] or m["w"]), positive=False),
    ),
    (
        _pattern(
            r" (?P<not>no longer |does not |doesn't )?(?:lives?|is living|resides?|is based|has moved|moved|"
            r"relocated|has relocated|is moving|will move) (?:in|to|at) (?P<v>.+)"
        ),
        lambda m: Slot(("residence", m["subject"]), _clean_value(m["v"]), positive=not m["not"]),
    ),
    (
        _pattern(r" (?P<not>no longer |does not |doesn't )?(?:works?|is working|has worked) (?:at|for) (?P<v>.+)"),
        lambda m: Slot(("workplace", m["subject"]), _clean_value(m["v"]), positive=not m["not"]),
    ),
    (
        _pattern(
            r" (?:joined|started (?:working )?at|started a (?:new )?job at|got a job at|moved to work at) "
            r"(?P<v>.+)"
        ),
        lambda m: Slot(("workplace", m["subject"]), _clean_value(m["v"])),
    ),
    (
        _pattern(r" (?P<not>no longer |does not |doesn't )?works? as (?:a |an )?(?P<v>.+)"),
        lambda m: Slot(("job", m["subject"]), _clean_value(m["v"]), positive=not m["not"]),
    ),
    (
        _pattern(r"'s (?:job|profession|occupation|role|job title) is (?P<v>.+)"),
        lambda m: Slot(("job", m["subject"]), _clean_value(m["v"])),
    ),
    (
        _pattern(r" (?:is|became|has become) (?:a|an) (?P<v>[a-z]+(?: [a-z]+)?)$"),
        lambda m: _job(m),
    ),
    (
        _pattern(r"(?:'s name is| is called| goes by| prefers to be called| wants to be called) (?P<v>.+)"),
        lambda m: Slot(("name", m["subject"]), _clean_value(m["v"])),
    ),
    (
        _pattern(r" (?:is|turned|has turned|will turn) (?P<v>\d{1,3})(?: years? old)?\b"),
        lambda m: Slot(("age", m["subject"]), m["v"]),
    ),
    (
        _pattern(r"'s " + _PARTNERS + r"(?:'s name)? is (?P<v>.+)"),
        lambda m: Slot(("partner", m["subject"]), _clean_value(m["v"])),
    ),
    (
        _pattern(
            r" (?:is |has been )?(?P<not>no longer |not )?"
            r"(?:married to|dating|engaged to|in a relationship with) (?P<v>.+)"
        ),
        lambda m: Slot(("partner", m["subject"]), _clean_value(m["v"]), positive=not m["not"]),
    ),
    (
        _pattern(r"'s (?:favou?rite|preferred) (?P<what>[a-z ]+?) (?:is|are) (?P<v>.+)"),
        lambda m: Slot(("favourite", m["subject"], _favourite(m["what"])), _clean_value(m["v"])),
    ),
    (
        _pattern(r" is (?P<not>not |no longer )(?:a )?(?P<v>vegetarian|vegan|pescatarian|omnivore|carnivore)\b"),
        lambda m: Slot(("diet", m["subject"]), m["v"].lower(), positive=not m["not"]),
    ),
    (
        _pattern(r" (?:is |has been )?(?P<not>not |no longer )?allergic to (?P<v>.+)"),
        lambda m: Slot(("allergy", m["subject"], _head(_clean_value(m["v"]))), "", positive=not m["not"], single=False),
    ),
    (
        _pattern(
            r" (?P<not>no longer |does not |doesn't )?(?:has|have|owns|own|has got) (?P<v>(?:a|an|any|\d+|"
            + "|".join(_NUMBER_WORDS[:-3])
            + r"|several|many|multiple) .+)"
        ),
        lambda m: _possession(m, positive=not m["not"]),
    ),
    (
        _pattern(r" " + _LOST + r" (?:their|the|his|her|its|our) (?P<v>.+)"),
        lambda m: _possession(m, positive=False),
    ),
    (
        _pattern(r" (?:sold|gave away|lost|got rid of|no longer owns) (?P<v>.+)"),
        lambda m: _possession(m, positive=False),
    ),
    (
        _pattern(r"'s (?P<v>[a-z]+(?: [a-z]+)?) (?:was|got|has been) (?:stolen|sold|totaled|totalled|wrecked|lost)\b"),
        lambda m: _possession(m, positive=False),
    ),
    (
        _pattern(r" " + _ACQUIRED + r" (?P<v>(?:a|an|\d+|" + "|".join(_NUMBER_WORDS[:-3]) + r") .+)"),
        lambda m: _possession(m, positive=True),
    ),
    (
        _pattern(r" used to (?P<verb>[a-z]+)(?P<rest>(?: .+)?)$"),
        lambda m: _activity(m, positive=False, present=False),
    ),
    (
        _pattern(r" (?P<not>" + _NOT + r" )?(?P<verb>" + _PREFERENCE_VERBS + r")(?:s|es|d)? (?P<v>(?!not\b).+)"),
        lambda m: _preference(m, m["v"], positive=not m["not"] and not _NEGATIVE_VERBS.match(m["verb"])),
    ),
    (
        _pattern(r" (?P<not>" + _NOT + r" )?(?P<verb>cannot stand|can't stand|can not stand) (?P<v>.+)"),
        lambda m: _preference(m, m["v"], positive=not m["not"] and not _NEGATIVE_VERBS.match(m["verb"])),
    ),
    (
        _pattern(r" " + _STOPPED + r" (?P<v>.+)"),
        lambda m: _preference(m, _activity_object(m["v"]), positive=False),
    ),
    (
        _pattern(r" (?:started|began|took up|has started|has taken up) (?P<v>.+)"),
        lambda m: _preference(m, _ing_object(m["v"]), positive=True),
    ),
    (
        _pattern(r" (?P<not>does not |doesn't |no longer |never )?(?P<verb>[a-z]+)(?P<rest>(?: .+)?)$"),
        _ACTIVITY := (lambda m: _activity(m, positive=not m["not"])),
    ),
    (
        _pattern(
            r" (?P<not>is not |is no longer )?(?:a (?:big |huge )?fan of|into|passionate about|"
            r"interested in) (?P<v>.+)"
        ),
        lambda m: _preference(m, m["v"], positive=not m["not"]),
    ),
]

_NOT_JOBS = {
    "fan",
    "big fan",
    "huge fan",
    "lot",
    "bit",
    "little",
    "person",
    "morning person",
    "night owl",
    "member",
    "regular",
    "beginner",
    "vegetarian",
    "vegan",
    "parent",
    "father",
    "mother",
    "dad",
    "mom",
    "mum",
}


def _status_verb(text: str) -> str:
    lower = text.lower()
    for word, status in (("divorced", "divorced"), ("dating", "dating"), ("seeing", "dating"), ("proposed", "engaged")):
        if word in lower:
            return status
    return "married"


# Verbs that say nothing about an activity of the subject (or that other slots own).
_NOT_ACTIVITIES = frozenset(
    """is are was were has have had be been will would can could should may might must does do did am
    lives lived moved works worked got get gets become became turned wants want needs need thinks thought
    feels felt knows knew says said went goes believes hopes wishes seems looks sounds""".split()
)


def _stem(word: str) -> str:
    word = word.lower()
    for suffix in ("ing", "es", "ed", "s", "e"):
        if word.endswith(suffix) and len(word) > len(suffix) + 2:
            word = word[: -len(suffix)]
            break
    if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "aeiouls":
        word = word[:-1]
    return word


def _activity_object(raw: str) -> str:
    """'running every morning' -> 'run'; 'going to the gym' -> 'gym'; 'drinking coffee' -> 'coffee'."""
    words = raw.strip().split(maxsplit=1)
    if not words:
        return raw
    first = words[0].lower()
    if first.endswith("ing"):
        rest = re.sub(r"^(?:to|at|in|on|for|with)\s+", "", words[1]) if len(words) > 1 else ""
        rest = _FREQUENCY_TAIL.sub("", " " + rest).strip()
        return rest or _stem(first)
    if len(words) == 1 and first.endswith("s") and not first.endswith("ss"):
        return _stem(first)  # "no longer meditates" -> "meditat", as "meditates every morning"
    return raw


def _activity(match: re.Match[str], *, positive: bool, present: bool = True) -> Slot | None:
    """Something the subject does ("runs every morning", "goes to the gym", "volunteers at the shelter"):
    per item, keyed by the object's head or, without one, by the verb."""
    verb = match["verb"].lower()
    if verb in _NOT_ACTIVITIES or present and not (match["not"] or verb.endswith("s")):
        return None  # habits are told in the present: "runs", "does not run", "no longer runs"
    rest = re.sub(r"^(?:to|at|in|on|for|with)\s+", "", (match["rest"] or "").strip())
    rest = _FREQUENCY_TAIL.sub("", " " + rest).strip()
    value = _clean_value(rest) if rest else ""
    item = _head(value) if value else _stem(verb)
    return Slot(("likes", match["subject"], item), "", positive=positive, single=False)


def _job(match: re.Match[str]) -> Slot | None:
    value = _clean_value(match["v"])
    return None if value in _NOT_JOBS else Slot(("job", match["subject"]), value)


def _favourite(what: str) -> str:
    word = what.strip().lower()
    return {"color": "colour", "colors": "colour", "colours": "colour"}.get(word, word)


def _possession(match: re.Match[str], *, positive: bool) -> Slot:
    # "dog Max", "a cat called Tom": the item is the dog, not its name.
    value = _clean_value(re.sub(r"(?<=[a-z]) [A-Z][\w'-]+\b.*$", "", match["v"].strip()))
    return Slot(
        ("has", match["subject"], _head(value)), _quantity(value) if positive else "", positive=positive, single=False
    )


_CONSUMING = {"drinking", "eating", "smoking", "playing", "using", "watching", "reading", "cooking", "buying"}


def _ing_object(value: str) -> str:
    # "drinking coffee" -> "coffee" (what is consumed is the thing liked); "running daily" stays.
    words = value.split()
    if len(words) > 1 and words[0].lower() in _CONSUMING:
        return " ".join(words[1:])
    return value


def _preference(match: re.Match[str], raw: str, *, positive: bool) -> Slot | None:
    raw = re.sub(r"^(?:to|at|in|on|for|with)\s+", "", raw.strip())
    value = _clean_value(_FREQUENCY_TAIL.sub("", " " + _ing_object(raw)).strip() or _ing_object(raw))
    if value.endswith("ing") and " " not in value:
        value = _stem(value)  # "goes climbing" -> "climb", as "gave up climbing"
    if not value and raw.strip():
        value = _stem(raw.split()[0])  # "stopped running" -> "run"
    value = re.sub(r"^(?:the idea of )", "", value)
    if not value or value.startswith("to be "):
        return None
    return Slot(("likes", match["subject"], _head(value)), "", positive=positive, single=False)


def fact_slots(text: str) -> list[Slot]:
    """The slots a fact speaks about (usually one; "works at X as a Y" gives workplace and job)."""
    plain = _TIME_TAIL.sub("", _TIME_WORDS.sub("", text))
    plain = re.sub(r"\s+", " ", plain).strip(" .")
    slots: list[Slot] = []
    for pattern, make in _SLOT_PATTERNS:
        if make is _ACTIVITY and slots:
            continue  # the catch-all, only for facts no other pattern understood
        match = pattern.match(plain)
        if match is None:
            continue
        slot = make(match)
        if slot is not None and all(existing.key != slot.key for existing in slots):
            slots.append(slot)
    role = re.match(r"^(?:User|Assistant) works (?:at|for) .+? as (?:a |an )?(?P<v>.+)$", plain, re.IGNORECASE)
    if role is not None:
        subject = plain.split()[0]
        slots.append(Slot(("job", subject), _clean_value(role["v"])))
    return slots
