"""Settling the facts of one add among themselves (:func:`settle`), without comparing every pair."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import combinations

from memories.decisions.outcomes import Candidate
from memories.decisions.single import _words, decide
from memories.decisions.slots import Slot, fact_slots

# --------------------------------------------------------------------------------------------------
# Settling the facts of one add among themselves, without comparing every pair
#
# ``settle`` gives exactly what deciding each fact against *all* the facts kept before it would
# give (the earlier, pairwise way), but it only hands ``decide`` the earlier facts that could change
# the outcome: a candidate that ``decide`` would pass over in both of its loops changes nothing.
# Those are found through indexes, so N facts cost about N lookups, not N * N comparisons:
#
# - by slot: an earlier fact is a slot candidate when it holds the same slot key with the same
#   value, or when both are positive (``_by_slot`` skips every other pair of a shared key);
# - by words: a similarity candidate needs (score permitting) the same words, a superset of the
#   new fact's words, or a strict subset of them. Equal sets and subsets are looked up by their
#   word set; supersets through the postings of the new fact's rarest word.

# Subsets of a word set are enumerated up to this size; larger sets count postings instead.
_SUBSET_ENUMERATION_MAX = 10


class _Kept:
    """The facts kept so far, indexed by slot and by words; removal is O(size of one fact)."""

    def __init__(self) -> None:
        self.order: dict[int, None] = {}  # kept indices in order (a dict: ordered, O(1) removal)
        self.slots: dict[int, dict[tuple[str, ...], Slot]] = {}
        self.words: dict[int, frozenset[str]] = {}
        self.by_value: dict[tuple[tuple[str, ...], str], set[int]] = {}
        self.positive: dict[tuple[str, ...], set[int]] = {}
        self.by_words: dict[frozenset[str], set[int]] = {}
        self.postings: dict[str, set[int]] = {}

    def add(self, index: int, slots: dict[tuple[str, ...], Slot], words: frozenset[str]) -> None:
        self.order[index] = None
        self.slots[index], self.words[index] = slots, words
        for key, slot in slots.items():
            self.by_value.setdefault((key, slot.value), set()).add(index)
            if slot.positive:
                self.positive.setdefault(key, set()).add(index)
        self.by_words.setdefault(words, set()).add(index)
        for word in words:
            self.postings.setdefault(word, set()).add(index)

    def remove(self, index: int) -> None:
        del self.order[index]
        for key, slot in self.slots.pop(index).items():
            self.by_value[(key, slot.value)].discard(index)
            if slot.positive:
                self.positive[key].discard(index)
        words = self.words.pop(index)
        self.by_words[words].discard(index)
        for word in words:
            self.postings[word].discard(index)

    def candidates(self, slots: dict[tuple[str, ...], Slot], words: frozenset[str]) -> set[int]:
        found: set[int] = set()
        for key, slot in slots.items():
            found |= self.by_value.get((key, slot.value), set())
            if slot.positive:
                found |= self.positive.get(key, set())
        # The same words, or a strict subset of them (old < new: UPDATE).
        if len(words) <= _SUBSET_ENUMERATION_MAX:
            for size in range(len(words) + 1):
                for subset in combinations(sorted(words), size):
                    found |= self.by_words.get(frozenset(subset), set())
        else:
            counts: dict[int, int] = {}
            for word in words:
                for index in self.postings.get(word, ()):
                    counts[index] = counts.get(index, 0) + 1
            found |= {index for index, count in counts.items() if count == len(self.words[index])}
            found |= self.by_words.get(frozenset(), set())
        # A superset of them (new <= old: NONE when near-identical): every one is in the postings of
        # each new word, so the shortest list holds them all.
        if words:
            rarest = min((self.postings.get(word, set()) for word in words), key=len)
            found |= {index for index in rarest if words <= self.words[index]}
        else:
            found |= set(self.order)
        return found


def settle(texts: Sequence[str], similarity: Callable[[int, int], float]) -> list[int]:
    """Which of one add's facts to keep, in order, when they speak of each other: a fact said again
    later in the same add is dropped (NONE), and one corrected or made more precise later ("My
    favourite colour is blue. Actually, it's green.") gives way to the later one (UPDATE or
    SUPERSEDE). ``similarity(i, j)`` is the cosine similarity of facts ``i`` and ``j``.

    Each fact is decided against the earlier facts still kept, as :func:`decide` would against all
    of them, but only the ones that can matter are scored (see above): near-linear in N.
    """
    kept = _Kept()
    for index, text in enumerate(texts):
        slots = {slot.key: slot for slot in fact_slots(text)}
        words = frozenset(_words(text))
        earlier = [
            Candidate(id=str(j), text=texts[j], score=similarity(index, j))
            for j in sorted(kept.candidates(slots, words))
        ]
        decision = decide(text, earlier)
        if decision.event == "NONE":
            continue
        if decision.event in ("UPDATE", "SUPERSEDE"):
            kept.remove(int(decision.target_id))
        kept.add(index, slots, words)
    return list(kept.order)
