"""What a decision is about and what it says: :class:`Candidate` (an existing memory) and
:class:`Decision` (ADD, UPDATE, SUPERSEDE or NONE). The LLM path returns the same objects."""

from __future__ import annotations

from dataclasses import dataclass, field

EVENTS = ("ADD", "UPDATE", "SUPERSEDE", "NONE")


@dataclass(frozen=True)
class Candidate:
    """An existing, current memory of the same scope, as the decision sees it."""

    id: str
    text: str
    score: float  # cosine similarity to the new fact, 0..1
    immutable: bool = False


@dataclass(frozen=True)
class Decision:
    """The outcome for one fact.

    ``text`` is what to store (ADD/UPDATE/SUPERSEDE; for NONE the fact's own text). ``target_id`` is
    the candidate updated, superseded or duplicated (None for ADD).
    """

    event: str  # one of EVENTS
    text: str
    target_id: str | None = None
    # Why (for the add's trace): ``rule`` (a short name: "slot-change", "duplicate", "llm", ...),
    # ``detail`` (one sentence), and where they apply ``slot`` and ``similarity`` (to the target).
    reason: dict = field(default_factory=dict, compare=False, hash=False)
