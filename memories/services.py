"""Every write to memories goes through these functions (API dialects, UI, admin, commands).

Each one validates all of its input before it embeds or writes anything, writes in one
transaction, and records a history row for every ADD/UPDATE/DELETE. ``now=`` fixes the clock
in tests.
"""

import math
import time
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from mem0g_site.exceptions import Conflict, MemoryNotFound, ValidationFailed
from memories.embedding import embed_texts, get_embedder
from memories.inputs import (
    NewMemory,
    Scope,
    clean_categories,
    clean_expiration,
    clean_id,
    clean_metadata,
    clean_moment,
    clean_new_memory,
    clean_scope,
    clean_text,
    clean_uuid,
    is_encodable,
)
from memories.models import SCOPE_FIELDS, AddEvent, Memory, MemoryExport, MemoryHistory, memory_hash

UNSET: Any = object()


def _history(
    memory: Memory,
    *,
    event: str,
    now: datetime,
    old_memory=None,
    new_memory=None,
    old_metadata=None,
    new_metadata=None,
    actor_id=None,
    is_deleted=False,
) -> MemoryHistory:
    return MemoryHistory(
        project_id=memory.project_id,
        memory_id=memory.id,
        event=event,
        old_memory=old_memory,
        new_memory=new_memory,
        old_metadata=old_metadata,
        new_metadata=new_metadata,
        user_id=memory.user_id,
        agent_id=memory.agent_id,
        app_id=memory.app_id,
        run_id=memory.run_id,
        actor_id=actor_id if actor_id is not None else memory.actor_id,
        role=memory.role,
        is_deleted=is_deleted,
        created_at=now,
        updated_at=now,
    )


def _fenced(project, within: Scope | None):
    """The project's memories, inside ``within`` (an API key's user) when given."""
    queryset = Memory.objects.for_project(project)
    return queryset if within is None else queryset.filter(**clean_scope(within, required=False).as_filter())


def _locked(project, pk, within: Scope | None, *, memory_id: Any, embedding: bool = True) -> Memory:
    """The memory ``pk`` locked FOR UPDATE (call inside a transaction), or :class:`MemoryNotFound`
    naming ``memory_id`` as given, exactly as for a missing id when it is outside ``within``."""
    queryset = _fenced(project, within).select_for_update()
    memory = (queryset if embedding else queryset.defer("embedding")).filter(pk=pk).first()
    if memory is None:
        raise MemoryNotFound(memory_id)
    return memory


def memories_add(*, project, items: Sequence[NewMemory], now: datetime | None = None) -> list[Memory]:
    """Store memories verbatim (one or many), embedded in one batch, with an ADD history row each."""
    if not isinstance(items, Sequence) or isinstance(items, (str, bytes)) or not items:
        raise ValidationFailed("at least one memory is required", field="memories")
    if len(items) > settings.MEMORY_BATCH_MAX:
        raise ValidationFailed(
            f"{len(items)} memories in one call; the limit is {settings.MEMORY_BATCH_MAX}", field="memories"
        )
    single = len(items) == 1
    cleaned = [
        clean_new_memory(item, prefix="" if single else f"memories[{index}].") for index, item in enumerate(items)
    ]
    missing = [item.text for item in cleaned if item.embedding is None]
    fresh = iter(embed_texts(missing) if missing else [])
    vectors = [item.embedding if item.embedding is not None else next(fresh) for item in cleaned]
    model_name = get_embedder().model_name
    now = now or timezone.now()
    short_term_ttl = timedelta(seconds=settings.MEM0_DEFAULT_SHORT_TERM_TTL_SECONDS)

    memories = [
        Memory(
            project=project,
            memory=item.text,
            hash=memory_hash(item.text),
            metadata=item.metadata,
            categories=item.categories,
            embedding=vector,
            embedding_model=model_name,
            actor_id=item.actor_id,
            role=item.role,
            immutable=item.immutable,
            # metadata.memory_lifespan = "short_term" (the OSS server's convention) expires by itself.
            expiration_date=item.expiration_date
            or (now + short_term_ttl if item.metadata.get("memory_lifespan") == "short_term" else None),
            valid_from=item.valid_from or now,
            valid_to=item.valid_to,
            created_at=now,
            updated_at=now,
            **item.scope.as_filter(),
        )
        for item, vector in zip(cleaned, vectors, strict=True)
    ]
    with transaction.atomic():
        Memory.objects.bulk_create(memories)
        MemoryHistory.objects.bulk_create(
            [
                _history(
                    memory,
                    event=MemoryHistory.Event.ADD,
                    now=now,
                    new_memory=memory.memory,
                    new_metadata=memory.metadata,
                )
                for memory in memories
            ]
        )
        if settings.GRAPH_AUTO_LINK_THRESHOLD > 0:
            from graph.services import relationships_autolink

            relationships_autolink(
                project=project, memories=memories, threshold=settings.GRAPH_AUTO_LINK_THRESHOLD, now=now
            )
    return memories


def memory_update(
    *,
    project,
    memory_id: Any,
    text: Any = UNSET,
    metadata: Any = UNSET,
    categories: Any = UNSET,
    expiration_date: date | datetime | None = UNSET,
    valid_from: datetime = UNSET,
    actor_id: str | None = None,
    embedding: list[float] | None = None,
    within: Scope | None = None,
    now: datetime | None = None,
) -> Memory:
    """Change a memory in place: it keeps its id, is re-embedded if its text changed, and gains
    an UPDATE history row with the old and new text. ``valid_from`` moves the time the fact
    started to hold (Mem0's ``timestamp``); it must stay before ``valid_to``. ``embedding``: the new
    text's vector when the caller has it. The returned memory carries ``previous_memory``, its text
    before."""
    pk = clean_uuid(memory_id)
    if pk is None:
        raise MemoryNotFound(memory_id)
    changes: dict[str, Any] = {}
    if text is not UNSET:
        changes["memory"] = clean_text(text)
    if metadata is not UNSET:
        changes["metadata"] = clean_metadata(metadata)
    if categories is not UNSET:
        changes["categories"] = clean_categories(categories)
    if expiration_date is not UNSET:
        changes["expiration_date"] = clean_expiration(expiration_date)
    if valid_from is not UNSET:
        if valid_from is None:
            raise ValidationFailed("timestamp must be a time", field="timestamp")
        changes["valid_from"] = clean_moment(valid_from, field_name="timestamp")
    actor_id = clean_id(actor_id, field_name="actor_id")
    if not changes:
        raise ValidationFailed("nothing to update: give text, metadata, categories, expiration_date or timestamp")
    now = now or timezone.now()

    with transaction.atomic():
        memory = _locked(project, pk, within, memory_id=memory_id)
        text_changed = "memory" in changes and changes["memory"] != memory.memory
        if memory.immutable and text_changed:
            raise Conflict("This memory is immutable; its text cannot be changed", details={"memory_id": str(pk)})
        if "valid_from" in changes and memory.valid_to is not None and changes["valid_from"] >= memory.valid_to:
            raise ValidationFailed("timestamp must be before the time the memory stopped holding", field="timestamp")
        if text_changed:
            # Embedding under the row lock keeps the text and its vector consistent (``embedding``:
            # the caller embedded this very text already).
            changes["embedding"] = embedding if embedding is not None else embed_texts([changes["memory"]])[0]
            changes["embedding_model"] = get_embedder().model_name
            changes["hash"] = memory_hash(changes["memory"])
        old_text, old_metadata = memory.memory, memory.metadata
        memory.previous_memory = old_text
        for name, value in changes.items():
            setattr(memory, name, value)
        memory.updated_at = now
        memory.save(update_fields=[*changes, "updated_at"])
        _history(
            memory,
            event=MemoryHistory.Event.UPDATE,
            now=now,
            old_memory=old_text,
            new_memory=memory.memory,
            old_metadata=old_metadata,
            new_metadata=memory.metadata,
            actor_id=actor_id,
        ).save()
    return memory


def memory_delete(
    *, project, memory_id: Any, actor_id: str | None = None, within: Scope | None = None, now: datetime | None = None
) -> None:
    """Delete one memory; its history stays, ending with a DELETE row."""
    pk = clean_uuid(memory_id)
    if pk is None:
        raise MemoryNotFound(memory_id)
    actor_id = clean_id(actor_id, field_name="actor_id")
    now = now or timezone.now()
    with transaction.atomic():
        memory = _locked(project, pk, within, memory_id=memory_id, embedding=False)
        _history(
            memory,
            event=MemoryHistory.Event.DELETE,
            now=now,
            old_memory=memory.memory,
            old_metadata=memory.metadata,
            actor_id=actor_id,
            is_deleted=True,
        ).save()
        memory.delete()


def memories_delete(
    *,
    project,
    scope: Scope,
    any_of: Iterable[str] = (),
    filters: dict | None = None,
    allow_oss: bool = True,
    now: datetime | None = None,
) -> int:
    """Delete every memory of a scope (all states); returns how many. ``any_of`` names entity
    fields that must merely be set (Mem0's ``user_id=*``); ``filters`` (Mem0's grammar) narrows
    further. Some entity must be named, by ``scope``, ``any_of`` or a positive equality or ``in`` in
    ``filters`` (:func:`memories.filters.names_entity`), so neither a typo nor a negation
    (``{"user_id": {"ne": "nobody"}}``) can wipe a project."""
    from memories.filters import compile_filters, names_entity

    any_of = sorted(set(any_of))
    if any(field not in SCOPE_FIELDS for field in any_of):
        raise ValidationFailed("only user_id, agent_id, app_id and run_id can be '*'", field="filters")
    scope = clean_scope(scope, required=False)
    where = compile_filters(filters, allow_oss=allow_oss)
    if scope.is_empty and not any_of and not names_entity(filters):
        raise ValidationFailed(
            "at least one of user_id, agent_id, app_id or run_id is required (an id, a list of ids with 'in', "
            "or '*'); negations do not name an entity",
            field="user_id",
        )
    queryset = (
        Memory.objects.for_project(project)
        .filter(**scope.as_filter(), **{f"{field}__isnull": False for field in any_of})
        .filter(where)
    )
    return _delete_with_history(queryset, now=now or timezone.now())


def memories_update_batch(*, project, items: Sequence[dict], within: Scope | None = None) -> int:
    """Mem0's batch update: ``[{"memory_id", "text"?, "metadata"?}]``, all or nothing."""
    with transaction.atomic():
        for item in items:
            memory_update(
                project=project,
                memory_id=item.get("memory_id"),
                text=item["text"] if item.get("text") is not None else UNSET,
                metadata=item["metadata"] if item.get("metadata") is not None else UNSET,
                within=within,
            )
    return len(items)


def memories_delete_batch(*, project, memory_ids: Sequence[Any], within: Scope | None = None) -> int:
    """Mem0's batch delete: every id must be a memory of the project (inside ``within``), else
    nothing is deleted; one bulk delete with history, not a query per id."""
    pks = [clean_uuid(memory_id) for memory_id in memory_ids]
    for memory_id, pk in zip(memory_ids, pks, strict=True):
        if pk is None:
            raise MemoryNotFound(memory_id)
    queryset = _fenced(project, within).filter(pk__in=pks)
    with transaction.atomic():
        found = set(queryset.select_for_update().values_list("pk", flat=True))
        missing = next((memory_id for memory_id, pk in zip(memory_ids, pks, strict=True) if pk not in found), None)
        if missing is not None:
            raise MemoryNotFound(missing)
        return _delete_with_history(queryset, now=timezone.now())


def memories_reset(*, project, within: Scope | None = None, now: datetime | None = None) -> int:
    """Delete every memory of the project (or, for a user-restricted key, of its user)."""
    return _delete_with_history(_fenced(project, within), now=now or timezone.now())


def _delete_with_history(queryset, *, now: datetime) -> int:
    with transaction.atomic():
        doomed = list(queryset.select_for_update().defer("embedding"))
        MemoryHistory.objects.bulk_create(
            [
                _history(
                    memory,
                    event=MemoryHistory.Event.DELETE,
                    now=now,
                    old_memory=memory.memory,
                    old_metadata=memory.metadata,
                    is_deleted=True,
                )
                for memory in doomed
            ],
            batch_size=1000,
        )
        ids = [memory.pk for memory in doomed]
        for start in range(0, len(ids), 5000):
            # The delete cascades to the memories' relationships (graph.models), so Django loads the
            # rows first: only their ids, not 5000 embeddings.
            Memory.objects.filter(pk__in=ids[start : start + 5000]).only("pk").delete()
    return len(doomed)


def _closing_time(memory: Memory, observed_at: datetime) -> datetime:
    # valid_to must come after valid_from (a check constraint): a change observed at the very moment
    # the old fact began (same clock in one test, two adds in one second) closes it a microsecond on.
    return max(observed_at, memory.valid_from + timedelta(microseconds=1))


def memory_supersede(
    *,
    project,
    memory_id: Any,
    text: Any,
    observed_at: datetime | None = None,
    metadata: Any = UNSET,
    categories: Any = UNSET,
    origin: str = "inference",
    embedding: list[float] | None = None,
    within: Scope | None = None,
    now: datetime | None = None,
) -> Memory:
    """A changed fact: the old memory is closed at ``observed_at`` (``valid_to``; it stays stored and
    answers ``as_of`` queries for the time it held) and a new memory with ``text`` holds from then,
    in the same scope, linked ``new supersedes old``. Metadata and categories carry over unless given.

    Returns the new memory, with ``superseded`` set to the old one. Immutable memories are never
    superseded (409); a memory already closed cannot be superseded again (409: supersede its
    successor instead).
    """
    from graph.services import relationship_create

    pk = clean_uuid(memory_id)
    if pk is None:
        raise MemoryNotFound(memory_id)
    text = clean_text(text)
    now = now or timezone.now()
    observed_at = clean_moment(observed_at, field_name="observed_at") or now
    with transaction.atomic():
        old = _locked(project, pk, within, memory_id=memory_id)
        if old.immutable:
            raise Conflict("This memory is immutable; it cannot be superseded", details={"memory_id": str(pk)})
        if not old.is_current:
            raise Conflict(
                "This memory no longer holds; supersede the memory that replaced it", details={"memory_id": str(pk)}
            )
        closed_at = _closing_time(old, observed_at)
        [new] = memories_add(
            project=project,
            items=[
                NewMemory(
                    text=text,
                    scope=Scope(**{field: getattr(old, field) for field in SCOPE_FIELDS}),
                    metadata=old.metadata if metadata is UNSET else metadata,
                    categories=old.categories if categories is UNSET else categories,
                    actor_id=old.actor_id,
                    role=old.role,
                    expiration_date=old.expiration_date,
                    valid_from=closed_at,
                    embedding=embedding,
                )
            ],
            now=now,
        )
        old.valid_to = closed_at
        old.updated_at = now
        old.save(update_fields=["valid_to", "updated_at"])
        _history(
            old,
            event=MemoryHistory.Event.SUPERSEDE,
            now=now,
            old_memory=old.memory,
            new_memory=new.memory,
            old_metadata=old.metadata,
            new_metadata=new.metadata,
        ).save()
        relationship_create(
            project=project,
            source_id=new.pk,
            target_id=old.pk,
            relation="supersedes",
            origin=origin,
            valid_from=closed_at,
            now=now,
        )
    new.superseded = old
    return new


def memory_export_create(
    *, project, schema: Any, filters: Any, results: list[dict], user_id: str | None, next_cursor: str | None
) -> MemoryExport:
    """Record an export (``POST /v1/exports/``): the rows already read and shaped by the caller (at
    most ``EXPORT_MAX_ROWS``, see ``memories.selectors.memories_export_slice``), the user a restricted
    key made it for, and where the next export of the same filters starts."""
    if len(results) > settings.EXPORT_MAX_ROWS:
        raise ValidationFailed(f"an export holds at most {settings.EXPORT_MAX_ROWS} rows (EXPORT_MAX_ROWS)")
    return MemoryExport.objects.create(
        project=project,
        schema=schema,
        filters=filters,
        results=results,
        user_id=clean_id(user_id, field_name="user_id"),
        next_cursor=next_cursor,
    )


# How many of the scope's most similar memories each new fact is compared with.
DECISION_CANDIDATES = 8


def memories_ingest(
    *,
    project,
    messages: Any,
    scope: Scope,
    infer: bool = True,
    metadata: dict | None = None,
    categories: list[str] | None = None,
    immutable: bool = False,
    expiration_date: date | datetime | None = None,
    observed_at: datetime | None = None,
    includes: str | None = None,
    excludes: str | None = None,
    prompt: str | None = None,
    custom_instructions: str | None = None,
    now: datetime | None = None,
) -> list[dict]:
    """Mem0's ``add``: turn messages into memories and say what happened to each.

    ``infer=False`` stores every non-system message verbatim (its role, and its ``name`` as the
    actor). Otherwise the messages become facts (the built-in extractor, or the LLM when one is
    configured) and each fact is compared with the scope's most similar current memories:

    - ``NONE``: it is already known (same or near-identical text): nothing written, not returned;
    - ``UPDATE``: the same fact said with more detail: the memory keeps its id and takes the new
      text (history row; ``previous_memory`` in the result);
    - ``SUPERSEDE``: the fact changed: the old memory is closed at ``observed_at`` and kept, the new
      one holds from then and is linked to it (``supersedes`` in the result);
    - ``ADD`` otherwise.

    Everything is extracted and decided before anything is written (an LLM failure writes
    nothing), and written in one transaction. Returns ``[{"id", "memory", "event", ...}]``.
    """
    from memories.decisions import Candidate, decide
    from memories.llm import llm_decide, llm_enabled, llm_extract_facts
    from memories.selectors import memory_neighbours

    scope = clean_scope(scope, required=True, write=True)
    parsed = add_messages(messages)
    now = now or timezone.now()
    observed_at = clean_moment(observed_at, field_name="observed_at") or now
    common = {
        "scope": scope,
        "metadata": metadata,
        "categories": categories,
        "immutable": immutable,
        "expiration_date": expiration_date,
        "valid_from": observed_at,
    }
    if not infer:
        items = [
            NewMemory(text=message.content, role=message.role, actor_id=message.name, **common)
            for message in parsed
            if message.role != "system" and message.content.strip()
        ]
        if not items:
            return []
        created = memories_add(project=project, items=items, now=now)
        return [{"id": str(memory.id), "memory": memory.memory, "event": "ADD"} for memory in created]

    # Validate the options before any extraction cost or LLM call.
    clean_new_memory(NewMemory(text="-", **common))
    agent_scoped = scope.agent_id is not None
    if llm_enabled():
        facts = llm_extract_facts(
            parsed,
            observed_at=observed_at,
            agent_scoped=agent_scoped,
            prompt=prompt,
            custom_instructions=custom_instructions,
            includes=includes,
            excludes=excludes,
        )
    else:
        facts = _extract_within_limit(
            parsed, observed_at=observed_at, agent_scoped=agent_scoped, includes=includes, excludes=excludes
        )
    facts = list({fact.text: fact for fact in facts}.values())
    if len(facts) > settings.MAX_FACTS_PER_ADD:  # the LLM's facts (the built-in extractor stops itself)
        raise _too_many_facts()
    if not facts:
        return []
    vectors = embed_texts([fact.text for fact in facts])
    if not llm_enabled():  # the model sees all the facts at once and settles them itself
        kept = _settled_within(facts, vectors)
        facts, vectors = [facts[i] for i in kept], [vectors[i] for i in kept]
    neighbours = memory_neighbours(project=project, scope=scope, vectors=vectors, k=DECISION_CANDIDATES, now=now)
    candidates = [
        [Candidate(id=str(m.pk), text=m.memory, score=m.score, immutable=m.immutable) for m in found]
        for found in neighbours
    ]
    if llm_enabled():
        decisions = llm_decide(facts, candidates)
    else:
        decisions = [decide(fact.text, found) for fact, found in zip(facts, candidates, strict=True)]
    return _apply_decisions(project=project, facts=facts, vectors=vectors, decisions=decisions, common=common, now=now)


def _limit_failed(message: str, *, limit: str, field: str) -> ValidationFailed:
    value = getattr(settings, limit)
    return ValidationFailed(
        f"{message}; the limit is {value} ({limit})", details={"field": field, "limit": limit, "value": value}
    )


def _too_many_facts() -> ValidationFailed:
    return _limit_failed(
        f"The messages hold more than {settings.MAX_FACTS_PER_ADD} facts: split them over several adds",
        limit="MAX_FACTS_PER_ADD",
        field="messages",
    )


def add_messages(messages: Any) -> list:
    """An add's ``messages`` parsed (``memories.extraction.Message``s) and within the add limits
    (``MAX_MESSAGES_PER_ADD``, ``MAX_MESSAGE_CHARS``), or :class:`ValidationFailed` naming the limit.
    Every add checks this first, before any extraction, embedding or decision."""
    from memories.extraction import normalize_messages

    count = len(messages) if isinstance(messages, (list, tuple)) else 1
    if count > settings.MAX_MESSAGES_PER_ADD:
        raise _limit_failed(f"{count} messages in one add", limit="MAX_MESSAGES_PER_ADD", field="messages")
    try:
        parsed = normalize_messages(messages)
    except ValueError as exc:
        raise ValidationFailed(str(exc), field="messages") from None
    for index, message in enumerate(parsed):
        where = "messages" if count == 1 and not isinstance(messages, (list, tuple)) else f"messages[{index}]"
        if len(message.content) > settings.MAX_MESSAGE_CHARS:
            raise _limit_failed(
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


def _extract_within_limit(parsed, **options) -> list:
    """The built-in extractor's facts, stopped (422) as soon as there are more than MAX_FACTS_PER_ADD."""
    from memories.extraction import TooManyFacts, extract_facts

    try:
        return extract_facts(parsed, max_facts=settings.MAX_FACTS_PER_ADD, **options)
    except TooManyFacts:
        raise _too_many_facts() from None


def _settled_within(facts, vectors) -> list[int]:
    """Which of one add's facts to keep, in order (:func:`memories.decisions.settle`)."""
    from memories.decisions import settle

    norms = [math.sqrt(sum(x * x for x in vector)) for vector in vectors]

    def similarity(i: int, j: int) -> float:
        norm = norms[i] * norms[j]
        return sum(x * y for x, y in zip(vectors[i], vectors[j], strict=True)) / norm if norm else 0.0

    return settle([fact.text for fact in facts], similarity)


def _apply_decisions(*, project, facts, vectors, decisions, common: dict, now: datetime) -> list[dict]:
    """Write what the decisions say, in one transaction; a memory is changed by one fact at most
    (a second fact aimed at a memory already updated or superseded in this add is added instead)."""
    observed_at = common["valid_from"]
    events: list[dict] = []
    adds: list[tuple[int, NewMemory]] = []
    touched: set[str] = set()
    with transaction.atomic():
        for fact, vector, decision in zip(facts, vectors, decisions, strict=True):
            event, target = decision.event, decision.target_id
            if event == "NONE":
                continue
            if event in ("UPDATE", "SUPERSEDE") and (target is None or target in touched):
                event = "ADD"
            if event == "UPDATE":
                touched.add(target)
                memory = memory_update(
                    project=project,
                    memory_id=target,
                    text=decision.text,
                    embedding=vector if decision.text == fact.text else None,
                    now=now,
                )
                events.append(
                    {
                        "id": str(memory.id),
                        "memory": memory.memory,
                        "event": "UPDATE",
                        "previous_memory": memory.previous_memory,
                    }
                )
            elif event == "SUPERSEDE":
                touched.add(target)
                memory = memory_supersede(
                    project=project,
                    memory_id=target,
                    text=decision.text,
                    observed_at=observed_at,
                    embedding=vector if decision.text == fact.text else None,
                    now=now,
                )
                events.append(
                    {
                        "id": str(memory.id),
                        "memory": memory.memory,
                        "event": "SUPERSEDE",
                        "previous_memory": memory.superseded.memory,
                        "supersedes": str(memory.superseded.id),
                    }
                )
            else:
                adds.append(
                    (
                        len(events),
                        NewMemory(
                            text=decision.text,
                            role=fact.role,
                            embedding=vector if decision.text == fact.text else None,
                            **common,
                        ),
                    )
                )
                events.append({})
        if adds:
            created = memories_add(project=project, items=[item for _, item in adds], now=now)
            for (position, _), memory in zip(adds, created, strict=True):
                events[position] = {"id": str(memory.id), "memory": memory.memory, "event": "ADD"}
    return events


def memories_ingest_recorded(*, project, payload: dict, **ingest) -> AddEvent:
    """:func:`memories_ingest`, with the request and its outcome kept as an :class:`AddEvent`
    (written in the same transaction as the memories)."""
    started = time.perf_counter()
    with transaction.atomic():
        results = memories_ingest(project=project, **ingest)
        scope = ingest.get("scope")
        return AddEvent.objects.create(
            project=project,
            user_id=getattr(scope, "user_id", None),
            status=AddEvent.Status.SUCCEEDED,
            payload=payload,
            results=results,
            latency_ms=round((time.perf_counter() - started) * 1000, 1),
        )


# --- Queued adds (async_mode) and the periodic maintenance job --------------------------------
#
# ``add_event_enqueue`` answers an add at once: it checks the request, then writes a PENDING
# AddEvent and the job that will run it (django-tasks' database backend) in one transaction. A
# worker runs the job through ``add_event_run``: the event goes RUNNING (committed, so it can be
# seen), then the ingestion and the SUCCEEDED update commit together while the event row is
# locked. A worker that dies mid-job leaves nothing behind but a RUNNING job whose event no one
# holds; ``add_events_recover`` (the periodic job) queues it again. A run that finds its event
# already finished, or taken over by a newer run, does nothing, so a job is applied exactly once.


class WorkerLost(Exception):
    """Recorded on a job whose worker stopped before finishing it (the job is queued again)."""


def _job_encode(ingest: dict[str, Any]) -> dict[str, Any]:
    """``memories_ingest`` keyword arguments -> JSON for the job (values typed at the top level only,
    so a caller's metadata is never reinterpreted)."""
    encoded = {}
    for name, value in ingest.items():
        if isinstance(value, Scope):
            encoded[name] = {"type": "scope", "value": value.as_filter()}
        elif isinstance(value, datetime):
            encoded[name] = {"type": "datetime", "value": value.isoformat()}
        elif isinstance(value, date):
            encoded[name] = {"type": "date", "value": value.isoformat()}
        else:
            encoded[name] = {"type": "json", "value": value}
    return encoded


def _job_decode(encoded: dict[str, Any]) -> dict[str, Any]:
    decoders = {
        "scope": lambda value: Scope(**value),
        "datetime": datetime.fromisoformat,
        "date": date.fromisoformat,
        "json": lambda value: value,
    }
    return {name: decoders[item["type"]](item["value"]) for name, item in encoded.items()}


def add_event_enqueue(*, project, payload: dict, now: datetime | None = None, **ingest) -> AddEvent:
    """:func:`memories_ingest_recorded`, queued: the same arguments, checked now (bad input is
    refused before anything is written), run later by a worker. Returns the PENDING event.

    The observation time defaults to now, the moment of the request, not of the run.
    """
    from memories.llm import llm_enabled
    from memories.tasks import add_event_run_task

    scope = clean_scope(ingest.get("scope"), required=True, write=True)
    parsed = add_messages(ingest.get("messages"))
    for name, clean in (("metadata", clean_metadata), ("categories", clean_categories)):
        if ingest.get(name) is not None:
            clean(ingest[name])
    now = now or timezone.now()
    if ingest.get("infer", True) and not llm_enabled():
        # The built-in extractor is cheap next to embedding and deciding: count the facts now, so an
        # add over MAX_FACTS_PER_ADD is refused here rather than failing in the worker.
        _extract_within_limit(
            parsed, observed_at=ingest.get("observed_at") or now, agent_scoped=scope.agent_id is not None
        )
    ingest = {**ingest, "scope": scope, "observed_at": ingest.get("observed_at") or now}
    job = _job_encode(ingest)
    with transaction.atomic():
        event = AddEvent.objects.create(
            project=project,
            user_id=scope.user_id,
            status=AddEvent.Status.PENDING,
            payload=payload,
            created_at=now,
            updated_at=now,
        )
        add_event_run_task.enqueue(event_id=str(event.id), ingest=job)
    return event


def add_event_run(*, event_id: str, ingest: dict[str, Any]) -> str:
    """Run one queued add (the worker's job) and return the event's final status.

    Safe to run again: a finished event is left alone, and so is one a newer run has claimed. An
    :class:`~mem0g_site.exceptions.ApplicationError` (bad input, LLM unavailable) fails the event
    with its message; any other exception fails it too and is raised again for the job's record.
    """
    from mem0g_site.exceptions import ApplicationError

    finished = (AddEvent.Status.SUCCEEDED, AddEvent.Status.FAILED)
    with transaction.atomic():
        event = AddEvent.objects.select_for_update().filter(pk=event_id).first()
        if event is None:
            return "MISSING"  # its project was deleted meanwhile
        if event.status in finished:
            return event.status
        claimed = timezone.now()
        event.status = AddEvent.Status.RUNNING
        event.updated_at = claimed
        event.save(update_fields=["status", "updated_at"])

    def owned():
        """The event, locked, if this run still owns it."""
        event = AddEvent.objects.select_for_update().select_related("project").filter(pk=event_id).first()
        if event is None or event.status != AddEvent.Status.RUNNING or event.updated_at != claimed:
            return None
        return event

    started = time.perf_counter()
    try:
        with transaction.atomic():
            event = owned()
            if event is None:
                return "SUPERSEDED"
            results = memories_ingest(project=event.project, **_job_decode(ingest))
            # Entity relations, as the synchronous add records them (the request's enable_graph was
            # checked before it was queued; categories in MEM0_USE_GRAPH_FOR_CATEGORIES count too).
            from graph.services import relations_record_for_events

            relations_record_for_events(
                project=event.project,
                events=results,
                enable_graph=str(event.payload.get("enable_graph")).lower() in ("true", "1", "yes"),
            )
            event.status = AddEvent.Status.SUCCEEDED
            event.results = results
            event.latency_ms = round((time.perf_counter() - started) * 1000, 1)
            event.updated_at = timezone.now()
            event.save(update_fields=["status", "results", "latency_ms", "updated_at"])
        return event.status
    except ApplicationError as exc:
        error, unexpected = exc.message, None
    except Exception as exc:
        error, unexpected = f"{type(exc).__name__}: {exc}", exc
    with transaction.atomic():
        event = owned()
        if event is not None:
            event.status = AddEvent.Status.FAILED
            event.error = error
            event.latency_ms = round((time.perf_counter() - started) * 1000, 1)
            event.updated_at = timezone.now()
            event.save(update_fields=["status", "error", "latency_ms", "updated_at"])
    if unexpected is not None:
        raise unexpected
    return AddEvent.Status.FAILED


def add_events_recover(*, now: datetime | None = None, stale_after: timedelta | None = None) -> int:
    """Queue again the add jobs of dead workers; returns how many were queued.

    The rule: a job RUNNING for longer than ``stale_after`` (``TASK_STALE_SECONDS``) whose add event
    no transaction holds (a live worker keeps its event's row locked while it ingests; a dead
    worker's lock went with its connection) is marked failed (:class:`WorkerLost`), and its event,
    unless finished, is set back to PENDING with a new job, in one transaction. An event whose job
    was lost ``TASK_MAX_ATTEMPTS`` times fails instead. Stale jobs of other tasks are only marked.
    """
    from django_tasks_db.models import DBTaskResult

    from memories.tasks import add_event_run_task

    now = now or timezone.now()
    stale_after = stale_after if stale_after is not None else timedelta(seconds=settings.TASK_STALE_SECONDS)
    stale = DBTaskResult.objects.running().filter(started_at__lt=now - stale_after).values_list("pk", flat=True)
    requeued = 0
    for pk in list(stale):
        with transaction.atomic():
            job = DBTaskResult.objects.select_for_update(skip_locked=True).filter(pk=pk).running().first()
            if job is None:
                continue
            if job.task_path != add_event_run_task.module_path:
                job.set_failed(WorkerLost(f"worker {job.worker_ids[-1:]} stopped during the job"))
                continue
            kwargs = job.args_kwargs["kwargs"]
            events = AddEvent.objects.filter(pk=kwargs["event_id"])
            event = events.select_for_update(skip_locked=True).first()
            if event is None and events.exists():
                continue  # a live worker holds it
            job.set_failed(WorkerLost(f"worker {job.worker_ids[-1:]} stopped during the job"))
            if event is None or event.status in (AddEvent.Status.SUCCEEDED, AddEvent.Status.FAILED):
                continue
            attempts = DBTaskResult.objects.filter(
                task_path=job.task_path, args_kwargs__kwargs__event_id=kwargs["event_id"]
            ).count()
            event.updated_at = now
            if attempts >= settings.TASK_MAX_ATTEMPTS:
                event.status = AddEvent.Status.FAILED
                event.error = f"the worker running this add stopped {attempts} times; giving up"
                event.save(update_fields=["status", "error", "updated_at"])
                continue
            event.status = AddEvent.Status.PENDING
            event.save(update_fields=["status", "updated_at"])
            add_event_run_task.enqueue(**kwargs)
            requeued += 1
    return requeued


def memories_purge_expired(*, now: datetime | None = None) -> int:
    """Hard-delete the short-term memories (``metadata.memory_lifespan = "short_term"``) whose
    expiration date has passed, in every project, with a DELETE history row each; returns how many.

    Other expired memories are kept: they are hidden from reads but can still be asked for
    (``show_expired``), as Mem0 keeps them.
    """
    now = now or timezone.now()
    queryset = Memory.objects.filter(
        expiration_date__lte=now,
        # metadata @> '{"memory_lifespan": "short_term"}': the metadata GIN index serves it.
        metadata__contains={"memory_lifespan": "short_term"},
    )
    return _delete_with_history(queryset, now=now)


def maintenance_schedule(*, delay: timedelta = timedelta(0), now: datetime | None = None) -> bool:
    """Make sure the periodic maintenance job is queued (to run after ``delay``); returns whether
    one was queued. Serialised by an advisory lock, so workers starting together queue one job."""
    from django.db import connection
    from django_tasks_db.models import DBTaskResult

    from memories.tasks import maintenance_task

    now = now or timezone.now()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext('mem0g.maintenance_schedule'))")
        if DBTaskResult.objects.filter(task_path=maintenance_task.module_path, status="READY").exists():
            return False
        maintenance_task.using(run_after=now + delay).enqueue()
    return True


def maintenance_run(*, now: datetime | None = None) -> dict[str, int]:
    """The periodic job: queue the next run first (so a worker dying here does not end the chain),
    then re-queue the adds of dead workers and purge expired short-term memories."""
    now = now or timezone.now()
    maintenance_schedule(delay=timedelta(seconds=settings.TASK_MAINTENANCE_INTERVAL_SECONDS), now=now)
    return {"requeued": add_events_recover(now=now), "purged": memories_purge_expired(now=now)}


# --- Curation (admin actions, web UI) ----------------------------------------------------------


def memory_expire(
    *, project, memory_id: Any, actor_id: str | None = None, within: Scope | None = None, now: datetime | None = None
) -> Memory:
    """Stop serving a memory from now on (its expiration date becomes now); an UPDATE history row."""
    now = now or timezone.now()
    return memory_update(
        project=project, memory_id=memory_id, expiration_date=now, actor_id=actor_id, within=within, now=now
    )


def memory_restore(
    *, project, memory_id: Any, actor_id: str | None = None, within: Scope | None = None, now: datetime | None = None
) -> Memory:
    """Serve a memory again: its expiration date, ``valid_to`` and retraction are cleared, with an UPDATE
    history row. A memory that a current memory supersedes cannot be restored (409: both would hold)."""
    from graph.models import SUPERSEDES, Relationship

    pk = clean_uuid(memory_id)
    if pk is None:
        raise MemoryNotFound(memory_id)
    actor_id = clean_id(actor_id, field_name="actor_id")
    now = now or timezone.now()
    with transaction.atomic():
        memory = _locked(project, pk, within, memory_id=memory_id, embedding=False)
        successor = (
            Relationship.objects.not_retracted()
            .filter(
                target_id=pk, relation=SUPERSEDES, source__valid_to__isnull=True, source__invalidated_at__isnull=True
            )
            .values_list("source_id", flat=True)
            .first()
        )
        if successor is not None:
            raise Conflict(
                "A current memory supersedes this one; restore would make both hold",
                details={"memory_id": str(pk), "superseded_by": str(successor)},
            )
        memory.expiration_date = memory.valid_to = memory.invalidated_at = None
        memory.updated_at = now
        memory.save(update_fields=["expiration_date", "valid_to", "invalidated_at", "updated_at"])
        _history(
            memory,
            event=MemoryHistory.Event.UPDATE,
            now=now,
            old_memory=memory.memory,
            new_memory=memory.memory,
            old_metadata=memory.metadata,
            new_metadata=memory.metadata,
            actor_id=actor_id,
        ).save()
    return memory


def memories_reembed(*, project, memory_ids: Sequence[Any]) -> int:
    """Embed these memories' texts again with the current model (one batch), e.g. after a model change.
    The texts do not change, so no history rows; returns how many were embedded."""
    pks = [pk for pk in (clean_uuid(memory_id) for memory_id in memory_ids) if pk is not None]
    with transaction.atomic():
        memories = list(Memory.objects.for_project(project).filter(pk__in=pks).select_for_update().only("id", "memory"))
        if not memories:
            return 0
        vectors = embed_texts([memory.memory for memory in memories])
        model_name = get_embedder().model_name
        for memory, vector in zip(memories, vectors, strict=True):
            memory.embedding, memory.embedding_model = vector, model_name
        Memory.objects.bulk_update(memories, ["embedding", "embedding_model"], batch_size=500)
    return len(memories)
