"""Entity relations from memory texts: ``(source, relationship, destination)`` triples (no ORM here).

The built-in extractor is rule-based and deliberately conservative: it reads the third-person facts
the add pipeline stores ("User lives in Berlin", "User's sister Anna is a doctor") and would rather
miss a relation than invent one. Questions, negations and hedged or wished-for statements give
nothing. Entities are lower_snake_case ("New York" -> ``new_york``; the user is ``user``) and
relationships are lower_snake_case verb phrases (``lives_in``, ``works_at``, ``sister_of``).

An LLM extractor with the same signature (``memories.llm.llm_extract_relations``) can replace it;
``graph.services`` picks one.
"""

import re

Triple = tuple[str, str, str]

# "User", "I", "The user" (what the fact extractor writes, and what people type).
_USER = r"(?:the\s+user|user|i)"
_POSSESSIVE = r"(?:the\s+user's|user's|my)"
_NAME = r"(?-i:[A-Z][\w\-]*(?:\s+[A-Z][\w\-]*){0,2})"  # capitalised, even inside re.I patterns
_KIN = (
    r"(?:sister|brother|mother|father|mom|dad|mum|son|daughter|wife|husband|partner|girlfriend|boyfriend|"
    r"fiancee|fiance|cousin|aunt|uncle|niece|nephew|grandmother|grandfather|grandma|grandpa|friend|best\s+friend|"
    r"colleague|coworker|boss|manager|roommate|neighbor|neighbour|stepbrother|stepsister|godmother|godfather|"
    r"dog|cat|pet|horse|rabbit|parrot|hamster)"
)
# Verb phrases after a subject, in the order they are tried, and the relationship each gives.
_VERBS: list[tuple[str, str | None]] = [
    (r"(?:currently\s+)?(?:lives?|is\s+living|resides?|stays?)\s+in", "lives_in"),
    (r"(?:used\s+to\s+live|lived)\s+in", "lived_in"),
    (r"(?:moved|relocated)\s+to", "moved_to"),
    (r"(?:works?|is\s+working|is\s+employed)\s+as(?:\s+an?)?", "works_as"),
    (r"(?:works?|is\s+working)\s+(?:at|for)|is\s+employed\s+(?:at|by)", "works_at"),
    (r"used\s+to\s+work\s+(?:at|for)|worked\s+(?:at|for)", "worked_at"),
    (r"was\s+born\s+in", "born_in"),
    (r"was\s+born\s+on", "born_on"),
    (r"(?:is|comes?)\s+from", "from"),
    (r"is\s+married\s+to", "married_to"),
    (r"is\s+engaged\s+to", "engaged_to"),
    (r"is\s+allergic\s+to", "allergic_to"),
    (r"is\s+a\s+member\s+of|belongs?\s+to", "member_of"),
    (r"(?:studies|study|is\s+studying|studied|majors?\s+in|majored\s+in)", "studies"),
    (r"graduated\s+from", "graduated_from"),
    (r"speaks?", "speaks"),
    (r"plays?", "plays"),
    (r"owns?", "owns"),
    (r"drives?", "drives"),
    (r"visited", "visited"),
    (r"(?:is\s+(?:traveling|travelling|going|flying)\s+to|plans\s+to\s+visit|will\s+visit)", "traveling_to"),
    (r"(?:likes?|loves?|enjoys?|prefers?|hates?|dislikes?|adores?)(?:\s+to)?", None),  # the verb itself
    (r"is\s+(?:called|named)", "has_name"),
    (r"is\s+an?", "is_a"),
]
_VERB_RES = [
    (re.compile(rf"^(?:also\s+|now\s+|still\s+|really\s+)?({pattern})\s+", re.I), rel) for pattern, rel in _VERBS
]
_ANY_VERB = re.compile(
    r"^(?:also\s+|now\s+|still\s+|really\s+)?(?:" + "|".join(pattern for pattern, _ in _VERBS) + r")\s+", re.I
)
# Where an object ends: a subordinate clause, a preposition that starts an adjunct, a date.
_OBJECT_END = re.compile(
    r"\s+(?:because|since|when|while|but|so|which|who|whom|whose|that|although|though|until|after|before|during|"
    r"every|each|on|at|with|for|in|near|as|by|from|about|if|unless|than|over|to|instead|this|last|next|"
    r"today|tomorrow|yesterday)\b.*$",
    re.I,
)
_SKIP_CLAUSE = re.compile(
    r"\b(?:not|n't|never|no\s+longer|might|may\s+[a-z]|maybe|perhaps|would|could|should|wants?\s+to|wishes|hopes?\s+to|"
    r"plans?\s+to\s+(?!visit)|thinks|believes|if|whether)\b",
    re.I,
)
_QUESTION = re.compile(r"^(?:who|what|where|when|why|how|which|does|do|did|is|are|can|could|would|should)\b", re.I)
_NOT_AN_ENTITY = {
    "it", "this", "that", "these", "those", "them", "him", "her", "something", "anything", "everything",
    "nothing", "someone", "anyone", "everyone", "one", "lot", "bit", "some", "things", "stuff",
}  # fmt: skip
_ARTICLES = re.compile(r"^(?:a|an|the|his|her|their|its|my|our|some)\s+", re.I)
_MAX_OBJECT_WORDS = 4


def entity(text: str) -> str:
    """An entity's name: lower_snake_case, articles and punctuation dropped ("the Old Town" -> ``old_town``)."""
    text = _ARTICLES.sub("", text.strip())
    text = re.sub(r"'s\b", "", text)
    words = re.findall(r"[\w\-]+", text.lower())
    return "_".join(word.strip("-") for word in words if word.strip("-"))


def _objects(region: str) -> list[str]:
    """The entities named in an object region: "jazz, blues and techno" -> three."""
    region = _OBJECT_END.sub("", region.strip().rstrip(".!;:"))
    names = []
    for part in re.split(r"\s*,\s*(?:and\s+|or\s+)?|\s+and\s+|\s+or\s+|\s*&\s*", region):
        part = part.strip()
        if not part or len(part.split()) > _MAX_OBJECT_WORDS:
            continue
        name = entity(part)
        if name and name not in _NOT_AN_ENTITY and not name.startswith("to_"):
            names.append(name)
    return names


def _predicates(subject: str, rest: str) -> list[Triple]:
    """What ``rest`` says about ``subject``: one or more verb phrases joined by "and"."""
    triples: list[Triple] = []
    while rest:
        match, relationship = next(((m, rel) for verb_re, rel in _VERB_RES if (m := verb_re.match(rest))), (None, None))
        if match is None:
            return triples
        rel = relationship or _third_person_verb(entity(re.sub(r"\s+to$", "", match.group(1))))
        rest = rest[match.end() :]
        # "... and works at Acme": a second verb phrase with the same subject.
        split = re.search(r",?\s+and\s+(?=" + _ANY_VERB.pattern[1:] + ")", rest, re.I)
        region, rest = (rest[: split.start()], rest[split.end() :]) if split else (rest, "")
        if rel == "is_a" and re.match(r"^\d+\s+years?\s+old\b", region):
            continue
        triples += [(subject, rel, name) for name in _objects(region) if name != subject]
    return triples


def _third_person_verb(verb: str) -> str:
    if verb in ("am", "have"):
        return {"am": "is", "have": "has"}[verb]
    if verb in ("was", "had", "used", "also", "now", "still", "really", "currently") or verb.endswith(("ed", "s")):
        return verb
    if re.search(r"(?:sh|ch|x|z|o)$", verb):
        return verb + "es"
    if re.search(r"[^aeiou]y$", verb):
        return verb[:-1] + "ies"
    return verb + "s"


def _third_person(match: re.Match) -> str:
    return f"User {_third_person_verb(match.group(1))} "


def _first_person(clause: str) -> str:
    """ "I live in Paris" -> "User lives in Paris"; "I'm a nurse" -> "User is a nurse"."""
    clause = re.sub(r"^I'm\s+", "User is ", clause)
    clause = re.sub(r"^I've\s+", "User has ", clause)
    return re.sub(r"^I\s+([a-z]+)\s+", _third_person, clause)


def _clause_relations(clause: str) -> list[Triple]:
    clause = _first_person(clause.strip().strip("\"'").strip())
    if not clause or clause.endswith("?") or _QUESTION.match(clause) or _SKIP_CLAUSE.search(clause):
        return []
    clause = clause.rstrip(".!")
    # "User's favorite color is blue", "User's name is Sam"
    match = re.match(rf"^{_POSSESSIVE}\s+(?:favou?rite)\s+([\w\s]+?)\s+(?:is|are)\s+(.+)$", clause, re.I)
    if match:
        rel = "favorite_" + entity(match.group(1))
        return [("user", rel, name) for name in _objects(match.group(2))]
    match = re.match(rf"^{_POSSESSIVE}\s+name\s+is\s+(.+)$", clause, re.I)
    if match:
        return [("user", "has_name", name) for name in _objects(match.group(1))[:1]]
    # "User is 34 years old"
    match = re.match(rf"^{_USER}\s+is\s+(\d{{1,3}})\s+years?\s+old\b", clause, re.I)
    if match:
        return [("user", "has_age", match.group(1))]
    # "User's sister Anna is a doctor", "My friend Tom, who ..., lives in Oslo"
    match = re.match(rf"^{_POSSESSIVE}\s+({_KIN})\s*,?\s+({_NAME})\s*,?\s*(.*)$", clause, re.I)
    if match and match.group(2)[0].isupper():
        person = entity(match.group(2))
        return [(person, entity(match.group(1)) + "_of", "user"), *_predicates(person, match.group(3))]
    # "User has a sister named Anna", "User has a dog called Rex"
    match = re.match(rf"^{_USER}\s+has\s+an?\s+({_KIN})\s+(?:named|called)\s+({_NAME})\b\s*(.*)$", clause, re.I)
    if match:
        person = entity(match.group(2))
        return [(person, entity(match.group(1)) + "_of", "user"), *_predicates(person, match.group(3))]
    # "Anna is User's sister"
    match = re.match(rf"^({_NAME})\s+is\s+{_POSSESSIVE}\s+({_KIN})$", clause, re.I)
    if match and match.group(1)[0].isupper():
        return [(entity(match.group(1)), entity(match.group(2)) + "_of", "user")]
    # "User lives in Berlin", "Anna works at Acme"
    match = re.match(rf"^{_USER}\s+(.*)$", clause, re.I)
    if match:
        return _predicates("user", match.group(1))
    match = re.match(rf"^({_NAME})\s+(.*)$", clause)
    return _predicates(entity(match.group(1)), match.group(2)) if match else []


def extract_relations(texts: list[str]) -> list[list[Triple]]:
    """For each text, the ``(source, relationship, destination)`` triples it states, in order, each once.

    "User lives in Berlin" -> ``[("user", "lives_in", "berlin")]``; "User's sister Anna is a doctor"
    -> ``[("anna", "sister_of", "user"), ("anna", "is_a", "doctor")]``.
    """
    found = []
    for text in texts:
        triples: list[Triple] = []
        for sentence in re.split(r"(?<=[.!?;])\s+|\n+", text or ""):
            for triple in _clause_relations(sentence):
                if triple not in triples:
                    triples.append(triple)
        found.append(triples)
    return found
