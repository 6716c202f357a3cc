"""The built-in decision for one fact against its candidates: by slot first, then by similarity."""

from __future__ import annotations

import re
from collections.abc import Sequence

from memories.decisions.outcomes import Candidate, Decision
from memories.decisions.slots import _OTHER_PERSON, _TIME_WORDS, Slot, _singular, fact_slots

# --------------------------------------------------------------------------------------------------
# The built-in decision: slots plus similarity
#
# A *slot* is something a fact says about its subject that can change over time: where they live,
# where they work, their job, name, age, partner, diet, a favourite thing, whether they like (or
# have, or are allergic to) a given thing. Two facts about the same slot with different values are
# a change (SUPERSEDE) when the slot holds one value at a time; the same value said again is NONE,
# or UPDATE when the new fact says more. Facts no slot pattern recognises fall back on similarity.

# Thresholds on cosine similarity (all-MiniLM-L6-v2), chosen on the decision table in
# tests/test_decisions.py: near-identical wording scores above 0.95, a restatement with more
# detail above 0.75, unrelated facts of the same user usually below 0.6.
DUPLICATE_SCORE = 0.95
RICHER_SCORE = 0.75


_WORD = re.compile(r"[a-z0-9]+")
_FILLER = {"user", "assistant", "the", "a", "an", "their", "its", "is", "are", "was", "to", "of", "and", "in", "on"}


# Words that change the tone of a preference but not the fact ("loves coffee" = "likes coffee").
_SOFT = {
    "like",
    "love",
    "enjoy",
    "adore",
    "prefer",
    "really",
    "very",
    "much",
    "lot",
    "truly",
    "definitely",
    "also",
    "always",
    "absolutely",
    "quite",
}


def _words(text: str) -> set[str]:
    plain = _TIME_WORDS.sub("", text.lower())
    return {
        word
        for word in (_singular(raw) for raw in _WORD.findall(plain) if raw not in _FILLER)
        if word not in _SOFT and _singular(word) not in _SOFT
    }


def decide(fact_text: str, candidates: Sequence[Candidate]) -> Decision:
    """The built-in decision for one fact against the scope's most similar current memories."""
    new_slots = fact_slots(fact_text)
    new_words = _words(fact_text)
    ranked = sorted(candidates, key=lambda candidate: -candidate.score)
    # A candidate about the same slot decides first, whatever its rank (slot keys hold the subject).
    for candidate in ranked:
        outcome = _by_slot(fact_text, new_slots, new_words, candidate)
        if outcome is not None:
            return _respect_immutable(outcome, candidate)
    # Similar wording about someone else ("User's sister has a dog") is never the same fact.
    for candidate in (candidate for candidate in ranked if _same_subject(fact_text, candidate.text)):
        outcome = _by_similarity(fact_text, new_words, candidate)
        if outcome is not None:
            return _respect_immutable(outcome, candidate)
    best = ranked[0].score if ranked else None
    return Decision(
        "ADD",
        fact_text,
        reason=_reason(
            "new",
            "no candidate holds the same slot or says the same thing"
            if ranked
            else "the scope holds no similar current memory",
            similarity=best,
        ),
    )


def _reason(rule: str, detail: str, *, similarity: float | None = None, slot: Slot | None = None) -> dict:
    reason: dict = {"rule": rule, "detail": detail}
    if slot is not None:
        reason["slot"] = "/".join(slot.key)
    if similarity is not None:
        reason["similarity"] = round(float(similarity), 4)
    return reason


def _same_subject(a: str, b: str) -> bool:
    """False when the two facts are about different people: "User has a dog" and "User's sister has
    a dog", or "Caroline lives in Boston" and "Melanie moved to Denver"."""
    other_a, other_b = _OTHER_PERSON.match(a), _OTHER_PERSON.match(b)
    if (other_a is None) != (other_b is None):
        return False
    if other_a is not None and other_a[0].lower() != other_b[0].lower():
        return False
    first_a, first_b = a.split(" ", 1)[0].split("'")[0], b.split(" ", 1)[0].split("'")[0]
    if first_a.lower() == first_b.lower() or not (first_a[:1].isupper() and first_b[:1].isupper()):
        return True
    return first_a.lower() in b.lower() or first_b.lower() in a.lower()


def _by_slot(text: str, new_slots: list[Slot], new_words: set[str], candidate: Candidate) -> Decision | None:
    old_slots = {slot.key: slot for slot in fact_slots(candidate.text)}
    old_words = _words(candidate.text)
    for new in new_slots:
        old = old_slots.get(new.key)
        if old is None:
            continue
        if new.positive != old.positive and (not new.single or new.value == old.value):
            # "sold the car" closes "has two cars"
            why = f"the same slot turned {'positive' if new.positive else 'negative'}"
            return Decision(
                "SUPERSEDE", text, candidate.id, _reason("slot-polarity", why, similarity=candidate.score, slot=new)
            )
        if new.value != old.value and not (new.positive and old.positive):
            continue  # "no longer lives in Rome" says nothing about living in Paris
        if new.value != old.value and (new.single or new.key[0] == "has"):
            why = f"the slot holds one value: {old.value!r} became {new.value!r}"
            return Decision(
                "SUPERSEDE", text, candidate.id, _reason("slot-change", why, similarity=candidate.score, slot=new)
            )
        return _same_fact(text, new_words, old_words, candidate, slot=new)
    return None


def _by_similarity(text: str, new_words: set[str], candidate: Candidate) -> Decision | None:
    old_words = _words(candidate.text)
    if candidate.score >= RICHER_SCORE and new_words == old_words:
        why = f"the same words, similarity at least {RICHER_SCORE}"
        return Decision("NONE", text, candidate.id, _reason("same-words", why, similarity=candidate.score))
    # Near-identical meaning and nothing new said. (Two facts that each say something the other
    # does not — "number 12" and "number 21" — stay two facts however close their vectors are.)
    if candidate.score >= DUPLICATE_SCORE and new_words <= old_words:
        why = f"nothing new said, similarity at least {DUPLICATE_SCORE}"
        return Decision("NONE", text, candidate.id, _reason("duplicate", why, similarity=candidate.score))
    if candidate.score >= RICHER_SCORE and old_words < new_words:
        why = f"says more than the candidate, similarity at least {RICHER_SCORE}"
        return Decision("UPDATE", text, candidate.id, _reason("richer", why, similarity=candidate.score))
    return None


def _same_fact(text: str, new_words: set[str], old_words: set[str], candidate: Candidate, *, slot: Slot) -> Decision:
    """The same fact again: richer (UPDATE to the new text) or not (NONE)."""
    if old_words < new_words:
        why = "the same slot and value, said with more detail"
        return Decision(
            "UPDATE", text, candidate.id, _reason("slot-richer", why, similarity=candidate.score, slot=slot)
        )
    why = "the same slot and value"
    return Decision("NONE", text, candidate.id, _reason("slot-same", why, similarity=candidate.score, slot=slot))


def _respect_immutable(decision: Decision, candidate: Candidate) -> Decision:
    if candidate.immutable and decision.event in ("UPDATE", "SUPERSEDE"):
        why = f"would {decision.event} an immutable memory ({decision.reason.get('rule')}): added beside it"
        return Decision("ADD", decision.text, reason=_reason("immutable", why, similarity=candidate.score))
    return decision
