"""The add pipeline's first phase, with no lock held and nothing written: check the input, extract
the facts, embed them and settle them among themselves (the slow part of an add).
"""

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.utils import timezone

from mem0g_site.exceptions import ValidationFailed
from memories.attachments import attachment_text
from memories.embedding import embed_texts
from memories.extraction import normalize_messages
from memories.inference import get_inference, limit_failed
from memories.inputs import (
    NewMemory,
    Scope,
    clean_memory_type,
    clean_metadata,
    clean_moment,
    clean_new_memory,
    clean_scope,
    is_encodable,
)
from memories.llm import llm_enabled, llm_procedure
from memories.models import PROCEDURAL, Memory
from memories.procedural import procedure_summary
from memories.services.records import memories_prepare, sql_vector


@dataclass
class AddPlan:
    """An add worked out before its scope is locked."""

    scopes: list[Scope]
    observed_at: datetime | None  # None: the moment the add is applied
    common: dict = field(default_factory=dict)
    messages: list = field(default_factory=list)  # parsed (memories.extraction.Message)
    # Verbatim adds (infer false, or items): checked memories and their vectors (pending ones being
    # made meanwhile: ``memories_prepare(later=True)``); retries skipped when ``retry_check``.
    verbatim: list[tuple[NewMemory, list[float]]] | None = None
    retry_check: bool = False
    verbatim_positions: list = field(default_factory=list)  # each verbatim item's message position(s)
    # Inferred adds: the strategy, the settled facts and their vectors.
    inference: Any = None
    facts: list = field(default_factory=list)
    vectors: list = field(default_factory=list)
    # References to the messages' images and documents: checked, embedded memories, each with the
    # position of the message it came from.
    attachments: list[tuple[NewMemory, list[float], int]] = field(default_factory=list)
    # The messages (or items) as received, to keep as sources.
    sources: list["SourcePlan"] = field(default_factory=list)


@dataclass
class SourcePlan:
    """One message of an add, checked and embedded, to be kept as a :class:`MemorySource`."""

    position: int
    role: str
    name: str | None
    content: str
    scope: Scope
    metadata: dict
    observed_at: datetime | None  # None: the moment the add is applied
    vector: list[float]


@dataclass
class FactOutcome:
    """What an add did with one fact (or verbatim message): the trace to record and the links."""

    position: int
    fact: str
    extractor: str
    sources: tuple[int, ...]  # message positions
    decision: str
    reason: dict
    candidates: list = field(default_factory=list)
    target_id: str | None = None
    memory: Memory | None = None
    entry: dict | None = None  # the add's result row, when something was written
    # Ids of the memories whose history rows it wrote without its trace (pointed to it once the trace
    # is written); the rows of new memories carry it from their INSERT and are not listed.
    changed: set = field(default_factory=set)
    trace_id: uuid.UUID = field(default_factory=uuid.uuid4)  # its DecisionTrace's id, known before it is written
    held: dict | None = None  # review_mode kept the change from taking effect: what accepting it writes


def plan_add(*, project, messages, items, scope, infer, observed_at, **options) -> AddPlan:
    """Check an add and do its slow part, writing nothing: extraction, embedding (verbatim texts the
    ``project`` holds already keep their vectors: :func:`~memories.services.records.held_vectors`),
    settling."""
    if items is not None:
        if messages is not None:
            raise ValidationFailed("give messages or items, not both")
        prepared = _for_writing(memories_prepare(items, project=project, later=True))
        plan = AddPlan(scopes=list({item.scope: None for item, _ in prepared}), observed_at=None, verbatim=prepared)
        plan.verbatim_positions = list(range(len(prepared)))
        plan.sources = [
            SourcePlan(
                position=position,
                role=item.role or "user",
                name=item.actor_id,
                content=item.text,
                scope=item.scope,
                metadata=item.metadata,
                observed_at=item.valid_from,
                vector=vector,
            )
            for position, (item, vector) in enumerate(prepared)
        ]
        return plan
    scope = clean_scope(scope, required=True, write=True)
    parsed = add_messages(messages)
    observed_at = clean_moment(observed_at, field_name="observed_at")
    common = {
        "scope": scope,
        "metadata": options["metadata"],
        "categories": options["categories"],
        "immutable": options["immutable"],
        "expiration_date": options["expiration_date"],
        "valid_from": observed_at,
    }
    plan = AddPlan(scopes=[scope], observed_at=observed_at, common=common, messages=parsed)
    # Validate the options before any extraction cost or LLM call.
    clean_new_memory(NewMemory(text="-", **common))
    source_metadata = clean_metadata(options["metadata"])
    if clean_memory_type(options["memory_type"]) == PROCEDURAL:
        plan.verbatim = _for_writing(
            memories_prepare(
                [NewMemory(text=_procedure_text(parsed, scope, options), **common, memory_type=PROCEDURAL)]
            )
        )
        # One memory from the whole conversation: its sources are every message with words.
        plan.verbatim_positions = [tuple(p for p, message in enumerate(parsed) if message.content.strip())]
        plan.sources = _sources_plan(parsed, scope=scope, metadata=source_metadata, observed_at=observed_at, known={})
        return plan
    plan.attachments = _attachments_prepare(parsed, common)
    if not infer:
        kept = [p for p, message in enumerate(parsed) if message.role != "system" and message.content.strip()]
        verbatim = [
            NewMemory(text=parsed[p].content, role=parsed[p].role, actor_id=parsed[p].name, **common) for p in kept
        ]
        plan.verbatim = _for_writing(memories_prepare(verbatim, project=project, later=True)) if verbatim else []
        plan.verbatim_positions = kept
        plan.retry_check = observed_at is not None
        known = {item.text: vector for item, vector in plan.verbatim}
        plan.sources = _sources_plan(
            parsed, scope=scope, metadata=source_metadata, observed_at=observed_at, known=known
        )
        return plan

    plan.inference = get_inference()
    facts = plan.inference.extract(
        parsed,
        observed_at=observed_at or timezone.now(),
        agent_scoped=scope.agent_id is not None,
        includes=options["includes"],
        excludes=options["excludes"],
        prompt=options["prompt"],
        custom_instructions=options["custom_instructions"],
    )
    # The facts and the messages (for their sources) are embedded in one batch.
    texts = list(dict.fromkeys([fact.text for fact in facts] + [m.content for m in parsed if m.content.strip()]))
    known = dict(zip(texts, embed_texts(texts) if texts else [], strict=True))
    if facts:
        vectors = [known[fact.text] for fact in facts]
        kept = plan.inference.settle(facts, vectors)
        plan.facts, plan.vectors = [facts[i] for i in kept], [vectors[i] for i in kept]
    plan.sources = _sources_plan(parsed, scope=scope, metadata=source_metadata, observed_at=observed_at, known=known)
    return plan


def _for_writing(prepared: list[tuple[NewMemory, Any]]) -> list[tuple[NewMemory, Any]]:
    """Verbatim memories' vectors with their SQL text made now, before the scope is locked, once for
    the memory and its message's source (:func:`~memories.services.records.sql_vector`)."""
    made: dict[int, Any] = {}  # by the array's id (the arrays are alive): a text given twice shares one
    for _, vector in prepared:
        if id(vector) not in made:
            made[id(vector)] = sql_vector(vector)
    return [(item, made[id(vector)]) for item, vector in prepared]


def _procedure_text(messages: list, scope: Scope, options: dict) -> str:
    """A procedural memory's text: the LLM's summary of the conversation when one is configured,
    else the conversation's own words (``memories.procedural``); within ``MEMORY_MAX_CHARS``."""

    if scope.agent_id is None:
        raise ValidationFailed("memory_type procedural_memory needs an agent_id", field="agent_id")
    text = (llm_procedure(messages, prompt=options["prompt"]) if llm_enabled() else None) or procedure_summary(messages)
    if not text.strip():
        raise ValidationFailed("the messages have no text to make a procedural memory of", field="messages")
    if len(text) > settings.MEMORY_MAX_CHARS:
        raise ValidationFailed(
            f"the procedural memory of these messages is {len(text)} characters long; the limit is "
            f"{settings.MEMORY_MAX_CHARS} (MEMORY_MAX_CHARS): add the conversation in parts",
            field="messages",
        )
    return text


def _attachments_prepare(messages: list, common: dict) -> list[tuple[NewMemory, list[float], int]]:
    """One checked, embedded reference memory per image or document part of ``messages``, with the
    position of its message."""

    items, positions = [], []
    for position, message in enumerate(messages):
        for attachment in message.attachments:
            metadata = {**(common["metadata"] or {}), "attachment": attachment.as_metadata()}
            text = attachment_text(attachment, message.role)
            items.append(
                NewMemory(text=text, role=message.role, actor_id=message.name, **{**common, "metadata": metadata})
            )
            positions.append(position)
    if not items:
        return []
    return [
        (item, vector, p) for (item, vector), p in zip(_for_writing(memories_prepare(items)), positions, strict=True)
    ]


def _sources_plan(parsed, *, scope: Scope, metadata: dict, observed_at, known: dict) -> list[SourcePlan]:
    """Every message of an add with words in it (system messages too), embedded (``known``: the
    vectors already computed, by text)."""
    missing = list(dict.fromkeys(m.content for m in parsed if m.content.strip() and m.content not in known))
    known = {**known, **dict(zip(missing, embed_texts(missing) if missing else [], strict=True))}
    return [
        SourcePlan(
            position=position,
            role=message.role,
            name=message.name,
            content=message.content,
            scope=scope,
            metadata=metadata,
            observed_at=observed_at,
            vector=known[message.content],
        )
        for position, message in enumerate(parsed)
        if message.content.strip()
    ]


def add_messages(messages: Any) -> list:
    """An add's ``messages`` parsed (``memories.extraction.Message``s) and within the add limits
    (``MAX_MESSAGES_PER_ADD``, ``MAX_MESSAGE_CHARS``), or :class:`ValidationFailed` naming the limit.
    Every add checks this first, before any extraction, embedding or decision."""

    count = len(messages) if isinstance(messages, (list, tuple)) else 1
    if count > settings.MAX_MESSAGES_PER_ADD:
        raise limit_failed(f"{count} messages in one add", limit="MAX_MESSAGES_PER_ADD", field="messages")
    try:
        parsed = normalize_messages(messages)
    except ValueError as exc:
        raise ValidationFailed(str(exc), field="messages") from None
    for index, message in enumerate(parsed):
        where = "messages" if count == 1 and not isinstance(messages, (list, tuple)) else f"messages[{index}]"
        if len(message.content) > settings.MAX_MESSAGE_CHARS:
            raise limit_failed(
                f"{where} is {len(message.content)} characters long",
                limit="MAX_MESSAGE_CHARS",
                field=f"{where}.content",
            )
        for text, part in ((message.content, "content"), (message.role, "role"), (message.name or "", "name")):
            if "\x00" in text or not is_encodable(text):
                raise ValidationFailed(
                    f"{where}.{part} must not contain NUL characters or lone surrogates", field=f"{where}.{part}"
                )
    return parsed
