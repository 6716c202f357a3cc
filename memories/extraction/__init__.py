"""Built-in, rule-based fact extraction for ``add(messages, infer=True)`` (no LLM).

Mem0 turns a conversation into a handful of clean, self-contained facts with an LLM. This module is
the deterministic fallback: it splits user messages into sentences and clauses, keeps the clauses
that state something about the user (preferences, plans, relations, biography, possessions, habits,
corrections, health), rewrites them in the third person ("I love X" -> "User loves X"), resolves
simple relative dates against the observation time and drops everything else (greetings, questions,
requests to the assistant, filler, statements about the world).

Pure functions over plain data: no Django, no ORM, stdlib only. Every regex is compiled at import.

The package: :mod:`~memories.extraction.messages` (the conversation in, the facts out),
:mod:`~memories.extraction.pipeline` (the entry point, messages to sentences to clauses),
:mod:`~memories.extraction.clauses` (one clause to one fact), :mod:`~memories.extraction.speakers`
(the third-person rewrite), :mod:`~memories.extraction.dates` and :mod:`~memories.extraction.rules`
(the word lists and patterns: the rule tables).
"""

from memories.extraction.messages import KINDS, Fact, Message, normalize_messages
from memories.extraction.pipeline import TooManyFacts, extract_facts

__all__ = ["KINDS", "Fact", "Message", "TooManyFacts", "extract_facts", "normalize_messages"]
