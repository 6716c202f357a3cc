"""How an add infers: messages -> facts, facts -> decisions, texts -> entity triples.

Two strategies, chosen in one place (:func:`get_inference`, as :func:`memories.embedding.get_embedder`
chooses the embedder): the built-in rules (``memories.extraction``, ``memories.decisions``,
``graph.extraction``), or an OpenAI-compatible LLM when ``LLM_BASE_URL`` is set (``memories.llm``).
The add pipeline (``memories.services.add_ingest``) only talks to :class:`Inference`.

Pure: no ORM, no writes. Extraction and settling run before the add takes its scope's lock;
``decide`` runs under it, against the candidates read under it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from django.conf import settings

from graph.extraction import extract_relations
from mem0g_site.exceptions import ValidationFailed
from memories import decisions
from memories.extraction import TooManyFacts, extract_facts
from memories.llm import llm_decide, llm_extract_facts, llm_extract_relations

__all__ = ["Inference", "LlmInference", "RulesInference", "get_inference", "limit_failed", "too_many_facts"]


def limit_failed(message: str, *, limit: str, field: str) -> ValidationFailed:
    """A 422 naming the setting whose limit the input passed."""
    value = getattr(settings, limit)
    return ValidationFailed(
        f"{message}; the limit is {value} ({limit})", details={"field": field, "limit": limit, "value": value}
    )


def too_many_facts() -> ValidationFailed:
    return limit_failed(
        f"The messages hold more than {settings.MAX_FACTS_PER_ADD} facts: split them over several adds",
        limit="MAX_FACTS_PER_ADD",
        field="messages",
    )


class Inference(Protocol):
    """One inference strategy. ``name`` says which (``rules`` or ``llm:<model>``)."""

    name: str
    # Whether extraction is cheap enough to run when a queued add is accepted (to refuse an add with
    # too many facts at once rather than failing it in the worker).
    extracts_cheaply: bool

    def extract(
        self,
        messages: Sequence,
        *,
        observed_at: datetime,
        agent_scoped: bool,
        includes: str | None = None,
        excludes: str | None = None,
        prompt: str | None = None,
        custom_instructions: str | None = None,
    ) -> list:
        """The facts (``memories.extraction.Fact``) in the messages, each text once, at most
        ``MAX_FACTS_PER_ADD`` (else :func:`too_many_facts`)."""

    def settle(self, facts: Sequence, vectors: Sequence[Sequence[float]]) -> list[int]:
        """Which of one add's facts to keep, in order, once they are settled among themselves."""

    def decide(self, facts: Sequence, candidates: Sequence[Sequence]) -> list:
        """One ``memories.decisions.Decision`` per fact, given its candidates (``Candidate``s)."""

    def relations(self, texts: list[str]) -> list[list[tuple[str, str, str]]]:
        """Per text, its (source, relationship, destination) triples."""


def _unique(facts: list) -> list:
    """Each text once (its first fact), with the message positions of every fact of that text."""
    from dataclasses import replace

    by_text: dict = {}
    for fact in facts:
        first = by_text.get(fact.text)
        if first is None:
            by_text[fact.text] = fact
        else:
            by_text[fact.text] = replace(first, sources=tuple(sorted({*first.sources, *fact.sources})))
    return list(by_text.values())


_WORDS = re.compile(r"[^\W\d_]{4,}")


def attribute_sources(facts: list, messages: Sequence) -> list:
    """Best effort for an extractor that does not say where a fact came from (the LLM): the
    messages of the roles it reads that share the most words (of four letters or more) with the
    fact; all of them when none shares any."""
    from dataclasses import replace

    spoken = [
        (position, {word.lower() for word in _WORDS.findall(message.content)})
        for position, message in enumerate(messages)
        if message.role in ("user", "assistant") and message.content.strip()
    ]
    attributed = []
    for fact in facts:
        if fact.sources:
            attributed.append(fact)
            continue
        words = {word.lower() for word in _WORDS.findall(fact.text)}
        overlap = {position: len(words & said) for position, said in spoken}
        best = max(overlap.values(), default=0)
        sources = tuple(p for p, n in overlap.items() if n == best) if best else tuple(p for p, _ in spoken)
        attributed.append(replace(fact, sources=sources))
    return attributed


class RulesInference:
    """The built-in rules: no network, deterministic."""

    name = "rules"
    extracts_cheaply = True

    def extract(self, messages, *, observed_at, agent_scoped, includes=None, excludes=None, **_llm_only) -> list:
        try:
            facts = extract_facts(
                messages,
                observed_at=observed_at,
                agent_scoped=agent_scoped,
                includes=includes,
                excludes=excludes,
                max_facts=settings.MAX_FACTS_PER_ADD,
            )
        except TooManyFacts:
            raise too_many_facts() from None
        return _unique(facts)

    def settle(self, facts, vectors) -> list[int]:
        norms = [math.sqrt(sum(x * x for x in vector)) for vector in vectors]

        def similarity(i: int, j: int) -> float:
            norm = norms[i] * norms[j]
            return sum(x * y for x, y in zip(vectors[i], vectors[j], strict=True)) / norm if norm else 0.0

        return decisions.settle([fact.text for fact in facts], similarity)

    def decide(self, facts, candidates) -> list:
        return [decisions.decide(fact.text, found) for fact, found in zip(facts, candidates, strict=True)]

    @property
    def relations(self):
        return extract_relations


class LlmInference:
    """An OpenAI-compatible model (``LLM_BASE_URL``, ``LLM_MODEL``). It sees all of an add's facts
    at once, so it settles them itself."""

    extracts_cheaply = False

    def __init__(self, model: str) -> None:
        self.name = f"llm:{model}"

    def extract(
        self,
        messages,
        *,
        observed_at,
        agent_scoped,
        includes=None,
        excludes=None,
        prompt=None,
        custom_instructions=None,
    ) -> list:
        facts = _unique(
            attribute_sources(
                llm_extract_facts(
                    messages,
                    observed_at=observed_at,
                    agent_scoped=agent_scoped,
                    prompt=prompt,
                    custom_instructions=custom_instructions,
                    includes=includes,
                    excludes=excludes,
                ),
                messages,
            )
        )
        if len(facts) > settings.MAX_FACTS_PER_ADD:
            raise too_many_facts()
        return facts

    def settle(self, facts, vectors) -> list[int]:
        return list(range(len(facts)))

    def decide(self, facts, candidates) -> list:
        return llm_decide(list(facts), list(candidates))

    @property
    def relations(self):
        return llm_extract_relations


def get_inference() -> Inference:
    """The strategy the settings choose now: the LLM when ``LLM_BASE_URL`` is set, else the rules.
    Cheap to call (the LLM client is cached by ``memories.llm``), so a settings change (tests)
    takes effect at the next add."""
    if settings.LLM_BASE_URL:
        return LlmInference(settings.LLM_MODEL)
    return RulesInference()
