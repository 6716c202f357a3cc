"""What ``add`` does with each extracted fact: ADD, UPDATE, SUPERSEDE or NONE.

Mem0's add pipeline compares every new fact with the most similar memories the scope already
holds and decides whether it is new (ADD), the same fact said again (NONE), the same fact made
richer or more precise (UPDATE: same id, new text) or a changed fact (SUPERSEDE: the old memory is
closed at the observation time and stays stored, the new one is linked to it by a ``supersedes``
relationship). Mem0 deletes contradicted facts; we never do.

The built-in decision (no LLM) lives here as pure functions over plain data: no Django, no ORM.
The LLM path (``memories.llm``) returns the same :class:`Decision` objects.

The package: :mod:`~memories.decisions.outcomes` (candidates and decisions),
:mod:`~memories.decisions.slots` (the slot patterns: a rule table), :mod:`~memories.decisions.single`
(:func:`decide`, one fact) and :mod:`~memories.decisions.batch` (:func:`settle`, the facts of one add).
"""

from memories.decisions.batch import settle
from memories.decisions.outcomes import EVENTS, Candidate, Decision
from memories.decisions.single import decide
from memories.decisions.slots import Slot, fact_slots

__all__ = ["EVENTS", "Candidate", "Decision", "Slot", "decide", "fact_slots", "settle"]
