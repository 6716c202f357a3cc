"""What ``add`` does with each extracted fact: ADD, UPDATE, SUPERSEDE or NONE.

Mem0's add pipeline compares every new fact with the most similar memories the scope already
holds and decides whether it is new (ADD), the same fact said again (NONE), the same fact made
richer or more precise (UPDATE: same id, new text) or a changed fact (SUPERSEDE: the old memory is
closed at the observation time and stays stored, the new one is linked to it by a ``supersedes``
relationship). Mem0 deletes contradicted facts; we never do.

The built-in decision (no LLM) lives here as pure functions over plain data: no Django, no ORM.
The LLM path (``memories/llm.py``) returns the same :class:`Decision` objects.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["EVENTS", "Candidate", "Decision"]

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
