"""The public LLM calls: facts from a conversation, update decisions, relations, procedures.

Each is one chat completion (:func:`memories.llm.client.chat`) with our prompts; what the model says
is checked in code (:mod:`memories.llm.answers`), not only asked for in the prompt.
"""

from __future__ import annotations

import json
from datetime import datetime

from memories.decisions import Candidate, Decision
from memories.extraction import Fact, Message
from memories.llm.answers import (
    collapse_spaces,
    decision_of,
    fact_of,
    int_of,
    list_field,
    log_malformed,
    same_text,
    snake_case,
)
from memories.llm.client import chat
from memories.llm.prompts import (
    AGENT_RULE,
    DECISION_FORMAT,
    DECISION_TASK,
    DECISIONS_SCHEMA,
    EXTRACTION_FORMAT,
    EXTRACTION_TASK,
    FACTS_SCHEMA,
    PROCEDURE_FORMAT,
    PROCEDURE_SCHEMA,
    PROCEDURE_TASK,
    RELATIONS_SCHEMA,
    RELATIONS_TASK,
)
from memories.procedural import message_text

# --------------------------------------------------------------------------------------------------
# Public calls


def llm_extract_facts(
    messages: list[Message],
    *,
    observed_at: datetime,
    agent_scoped: bool,
    prompt: str | None = None,
    custom_instructions: str | None = None,
    includes: str | None = None,
    excludes: str | None = None,
) -> list[Fact]:
    """The facts the model finds in ``messages``, in its order, each text once.

    ``prompt`` replaces our description of the task (Mem0's custom fact-extraction prompt; our
    answer format is still appended); ``custom_instructions``, ``includes`` and ``excludes`` are
    added to it. A conversation with nothing the user (or, agent-scoped, the assistant) said makes
    no call.
    """
    conversation = [
        message for message in messages if message.role in ("user", "assistant") and message.content.strip()
    ]
    sources = {"user", "assistant"} if agent_scoped else {"user"}
    if not any(message.role in sources for message in conversation):
        return []

    system = [prompt.strip() if prompt and prompt.strip() else EXTRACTION_TASK]
    if agent_scoped:
        system.append(AGENT_RULE)
    if custom_instructions and custom_instructions.strip():
        system.append("Instructions from the application (follow them):\n" + custom_instructions.strip())
    if includes and includes.strip():
        system.append(f"Only keep facts about: {includes.strip()}.")
    if excludes and excludes.strip():
        system.append(f"Never keep facts about: {excludes.strip()}.")
    system.append(EXTRACTION_FORMAT)

    lines = [f"Observation date: {observed_at.date().isoformat()} ({observed_at.strftime('%A')})", "", "Conversation:"]
    for message in conversation:
        speaker = message.role if not message.name else f"{message.role} ({message.name})"
        lines.append(f"{speaker}: {message.content.strip()}")

    answer = chat("extraction", "\n\n".join(system), "\n".join(lines), schema=FACTS_SCHEMA)
    items = list_field(answer, "facts", "extraction")
    facts: list[Fact] = []
    seen: set[str] = set()
    for item in items:
        fact = fact_of(item, sources)
        if fact is None:
            continue
        if fact.text in seen:
            continue
        seen.add(fact.text)
        facts.append(fact)
    return facts


def llm_procedure(messages: list[Message], *, prompt: str | None = None) -> str | None:
    """The model's summary of how the agent carried out the task of ``messages`` (a procedural
    memory), or None when it gave none (the caller falls back to the conversation's own words).
    ``prompt`` replaces our description of the task; our answer format is still appended."""
    conversation = [(message, message_text(message)) for message in messages if message.role != "system"]
    conversation = [(message, text) for message, text in conversation if text]
    if not conversation:
        return None
    system = [prompt.strip() if prompt and prompt.strip() else PROCEDURE_TASK, PROCEDURE_FORMAT]
    lines = ["Conversation:"]
    for message, text in conversation:
        speaker = message.role if not message.name else f"{message.role} ({message.name})"
        lines.append(f"{speaker}: {text}")
    answer = chat("procedure", "\n\n".join(system), "\n".join(lines), schema=PROCEDURE_SCHEMA)
    procedure = answer.get("procedure") if isinstance(answer, dict) else None
    if not isinstance(procedure, str) or not procedure.strip():
        log_malformed("procedure", json.dumps(answer)[:200], "no 'procedure' text")
        return None
    return procedure.strip()


def llm_decide(facts: list[Fact], candidates: list[list[Candidate]]) -> list[Decision]:
    """One decision per fact (same order), given each fact's most similar current memories.

    Facts without candidates are ADD, and facts a candidate states in the same words NONE, without
    asking. Checked in code, whatever the model says: an UPDATE, SUPERSEDE or NONE must name one of
    that fact's candidates, UPDATE/SUPERSEDE never an immutable one, and no memory is changed by two
    facts of the same call (the earlier fact keeps it); otherwise the fact is ADDed (a fact is never
    dropped on the model's unverifiable word).
    """
    if len(facts) != len(candidates):
        raise ValueError("llm_decide needs one candidate list per fact")
    decisions = [
        Decision(event="ADD", text=fact.text, reason={"rule": "new", "detail": "no similar current memory"})
        for fact in facts
    ]
    asked = []
    for index, (new, options) in enumerate(zip(facts, candidates, strict=True)):
        same = next((option for option in options if same_text(option.text, new.text)), None)
        if same is not None:  # said before in the same words: no need to ask
            reason = {"rule": "same-words", "detail": "a candidate says it in the same words"}
            decisions[index] = Decision(
                event="NONE", text=new.text, target_id=same.id, reason={**reason, "similarity": round(same.score, 4)}
            )
        elif options:
            asked.append(index)
    if not asked:
        return decisions

    # Short integer aliases instead of UUIDs: fewer tokens, nothing for the model to mistype.
    alias_of: dict[str, int] = {}
    by_alias: dict[int, Candidate] = {}
    payload = []
    for number, index in enumerate(asked):
        existing = []
        for candidate in candidates[index]:
            alias = alias_of.setdefault(candidate.id, len(alias_of) + 1)
            by_alias[alias] = candidate
            shown = {"id": alias, "text": candidate.text}
            if candidate.immutable:
                shown["immutable"] = True
            existing.append(shown)
        payload.append({"fact": number, "text": facts[index].text, "existing": existing})

    answer = chat(
        "decision",
        f"{DECISION_TASK}\n\n{DECISION_FORMAT}",
        json.dumps({"new_facts": payload}, ensure_ascii=False, indent=1),
        schema=DECISIONS_SCHEMA,
    )
    answered: dict[int, dict] = {}
    for item in list_field(answer, "decisions", "decision"):
        if not isinstance(item, dict):
            continue
        number = int_of(item.get("fact"))
        if number is not None and 0 <= number < len(asked):
            answered.setdefault(number, item)  # answered twice for one fact: the first word counts
    changed: set[str] = set()
    for number, index in enumerate(asked):
        if number not in answered:
            continue
        decision = decision_of(answered[number], facts[index], candidates[index], by_alias)
        if decision.event in ("UPDATE", "SUPERSEDE"):
            if decision.target_id in changed:
                why = "the model aimed a second change at a memory changed by an earlier fact: added"
                decision = Decision(event="ADD", text=facts[index].text, reason={"rule": "llm-repeat", "detail": why})
            else:
                changed.add(decision.target_id)
        decisions[index] = decision
    return decisions


def llm_extract_relations(texts: list[str]) -> list[list[tuple[str, str, str]]]:
    """Per text, the (source, relationship, destination) triples the model finds; relationship in
    lower_snake_case. Blank texts make no call."""
    relations: list[list[tuple[str, str, str]]] = [[] for _ in texts]
    asked = [index for index, text in enumerate(texts) if isinstance(text, str) and text.strip()]
    if not asked:
        return relations
    payload = [{"text": number, "content": texts[index].strip()} for number, index in enumerate(asked)]
    answer = chat(
        "relations",
        RELATIONS_TASK,
        json.dumps({"texts": payload}, ensure_ascii=False, indent=1),
        schema=RELATIONS_SCHEMA,
    )
    for item in list_field(answer, "relations", "relations"):
        if not isinstance(item, dict):
            continue
        number = int_of(item.get("text"))
        source, destination = collapse_spaces(item.get("source")), collapse_spaces(item.get("destination"))
        relationship = snake_case(item.get("relationship"))
        if number is None or not 0 <= number < len(asked) or not (source and relationship and destination):
            continue
        triple = (source, relationship, destination)
        bucket = relations[asked[number]]
        if triple not in bucket:
            bucket.append(triple)
    return relations
