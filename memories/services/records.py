"""The low-level writers every room of the service layer shares: history rows (one writer a kind), the project fence,
row locks, the verbatim writer (``memories_add``) and deletion with history.

Callers outside ``memories.services`` use the package (``from memories.services import ...``).
"""

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from graph.services import relationships_autolink
from mem0g_site.bulk_insert import insert_rows
from mem0g_site.deferred import execute_later
from mem0g_site.exceptions import MemoryNotFound, ValidationFailed
from memories.embedding import BF16_BATCH_MIN_TEXTS, embed_later, embed_texts, get_embedder
from memories.inputs import NewMemory, Scope, clean_new_memory, clean_scope
from memories.models import DecisionTrace, Memory, MemoryHistory, MemorySource, MemorySourceLink, memory_hash
from memories.vectors import SqlVector, plain_vector, sql_vector


def _history_row(
    memory: Memory,
    *,
    event: str,
    now: datetime,
    old_memory: str | None = None,
    new_memory: str | None = None,
    old_metadata: dict | None = None,
    new_metadata: dict | None = None,
    actor_id: str | None = None,
    is_deleted: bool = False,
    trace: DecisionTrace | None = None,
) -> MemoryHistory:
    """One unsaved history row of ``memory`` (its scope, actor and role copied onto the row)."""
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
        trace=trace,
        created_at=now,
        updated_at=now,
    )


# The one writer of each kind of history row. Every write to a memory records its row through these.


def history_added(
    *, memories: Sequence[Memory], now: datetime, traces: Sequence[Any] | None = None
) -> list[MemoryHistory]:
    """ADD rows for new ``memories`` (one statement): their text and metadata as written. ``traces``:
    the id of the decision trace of each memory (or None), when the add knows them before writing
    them (the row's foreign key is checked at commit)."""
    rows = [
        _history_row(
            memory, event=MemoryHistory.Event.ADD, now=now, new_memory=memory.memory, new_metadata=memory.metadata
        )
        for memory in memories
    ]
    for row, trace_id in zip(rows, traces or (), strict=traces is not None):
        row.trace_id = trace_id
    insert_rows(MemoryHistory, rows)
    return rows


def history_updated(
    *,
    memory: Memory,
    old_text: str,
    old_metadata: dict | None,
    now: datetime,
    actor_id: str | None = None,
    trace: DecisionTrace | None = None,
) -> MemoryHistory:
    """An UPDATE row for ``memory`` as it is now, which read ``old_text`` / ``old_metadata`` before
    (the same values where only its time changed: restored, or un-superseded by a review)."""
    row = _history_row(
        memory,
        event=MemoryHistory.Event.UPDATE,
        now=now,
        old_memory=old_text,
        new_memory=memory.memory,
        old_metadata=old_metadata,
        new_metadata=memory.metadata,
        actor_id=actor_id,
        trace=trace,
    )
    row.save()
    return row


def history_superseded(*, old: Memory, new: Memory, now: datetime) -> MemoryHistory:
    """A SUPERSEDE row for ``old``, closed by ``new``: old_memory is its text, new_memory its successor's."""
    row = _history_row(
        old,
        event=MemoryHistory.Event.SUPERSEDE,
        now=now,
        old_memory=old.memory,
        new_memory=new.memory,
        old_metadata=old.metadata,
        new_metadata=new.metadata,
    )
    row.save()
    return row


def history_deleted(
    *,
    memories: Sequence[Memory],
    now: datetime,
    actor_id: str | None = None,
    trace: DecisionTrace | None = None,
) -> list[MemoryHistory]:
    """DELETE rows (``is_deleted``) for ``memories`` about to be deleted or retracted, in batches of 1000."""
    return MemoryHistory.objects.bulk_create(
        [
            _history_row(
                memory,
                event=MemoryHistory.Event.DELETE,
                now=now,
                old_memory=memory.memory,
                old_metadata=memory.metadata,
                actor_id=actor_id,
                is_deleted=True,
                trace=trace,
            )
            for memory in memories
        ],
        batch_size=1000,
    )


def fenced(project, within: Scope | None):
    """The project's memories, inside ``within`` (an API key's user) when given."""
    queryset = Memory.objects.for_project(project)
    return queryset if within is None else queryset.filter(**clean_scope(within, required=False).as_filter())


def locked(project, pk, within: Scope | None, *, memory_id: Any, embedding: bool = True) -> Memory:
    """The memory ``pk`` locked FOR UPDATE (call inside a transaction), or :class:`MemoryNotFound`
    naming ``memory_id`` as given, exactly as for a missing id when it is outside ``within``."""
    queryset = fenced(project, within).select_for_update()
    memory = (queryset if embedding else queryset.defer("embedding")).filter(pk=pk).first()
    if memory is None:
        raise MemoryNotFound(memory_id)
    return memory


def held_vectors(project, texts: Sequence[str]) -> dict[str, Any]:
    """The vectors ``project`` already holds for these texts, by text: each its oldest memory's that
    names no canonical (``Memory.vector_memory``), made by today's model. One read, served by
    memory_canonical_hash. A batch embeds what is not held: a batch's vectors may differ from
    another batch's in the last bits (bfloat16 runs are shaped by what else the batch holds, see
    ``memories.embedding_onnx.OpenVinoSentenceEncoder``), and a text said again must get the very
    vector it got before, to share its HNSW entry; it also costs no model time."""
    if not texts:
        return {}
    rows = (
        Memory.objects.filter(
            project=project,
            hash__in={memory_hash(text) for text in texts},
            vector_memory__isnull=True,
            embedding_model=get_embedder().model_name,
            embedding__isnull=False,
        )
        .order_by("hash", "created_at", "id")
        .distinct("hash")
        .values_list("memory", "embedding")
    )
    wanted = set(texts)
    return {text: vector for text, vector in rows if text in wanted}


def memories_prepare(
    items: Sequence[NewMemory], *, project=None, later: bool = False
) -> list[tuple[NewMemory, list[float]]]:
    """Check verbatim memories and embed those without a vector (one batch, each text once): the
    slow part of a verbatim add, done before anything is locked or written. Given the ``project``,
    a batch (two texts or more to embed) takes the vectors the project holds for its texts
    (:func:`held_vectors`) and embeds the rest; one text is embedded (one round trip fewer, and a
    lone text's vector is the same every time).

    ``later``: return at once, the model still running on a thread of its own
    (:func:`~memories.embedding.embed_later`); the vectors to embed come as pending
    :class:`~memories.vectors.SqlVector` (one per text), waited for when their statements go out."""
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
    # A text said twice in one call (a chat's "ok", "thanks") is embedded once.
    missing = list(dict.fromkeys(item.text for item in cleaned if item.embedding is None))
    # A call the embedder runs as a batch (in bfloat16 where it can) first takes what is held.
    fresh = held_vectors(project, missing) if project is not None and len(missing) >= BF16_BATCH_MIN_TEXTS else {}
    missing = [text for text in missing if text not in fresh]
    if later and missing:
        wait = embed_later(missing)
        fresh.update((text, SqlVector(later=lambda i=i: wait()[i])) for i, text in enumerate(missing))
    else:
        fresh.update(zip(missing, embed_texts(missing) if missing else [], strict=True))
    return [(item, item.embedding if item.embedding is not None else fresh[item.text]) for item in cleaned]


def memories_write(
    *,
    project,
    prepared: list[tuple[NewMemory, list[float]]],
    now: datetime,
    traces: Sequence[Any] | None = None,
) -> list[Memory]:
    """Write checked, embedded memories with an ADD history row each (and auto-links), in one
    transaction (the caller's, when it has one: no savepoint). ``traces``: the decision trace id of
    each memory's history row (see :func:`history_added`). A memory whose vector is still pending
    (``memories_prepare(later=True)``) keeps its :class:`~memories.vectors.SqlVector` as its
    ``embedding``: the caller waits for it and hands the arrays over (``add_ingest``)."""
    model_name = get_embedder().model_name
    short_term_ttl = timedelta(seconds=settings.MEM0_DEFAULT_SHORT_TERM_TTL_SECONDS)
    memories = [
        Memory(
            project=project,
            memory=item.text,
            hash=memory_hash(item.text),
            metadata=item.metadata,
            categories=item.categories,
            embedding=sql_vector(vector),
            embedding_model=model_name,
            actor_id=item.actor_id,
            role=item.role,
            immutable=item.immutable,
            memory_type=item.memory_type,
            # metadata.memory_lifespan = "short_term" (the OSS server's convention) expires by itself.
            expiration_date=item.expiration_date
            or (now + short_term_ttl if item.metadata.get("memory_lifespan") == "short_term" else None),
            valid_from=item.valid_from or now,
            valid_to=item.valid_to,
            created_at=now,
            updated_at=now,
            **item.scope.as_filter(),
        )
        for item, vector in prepared
    ]
    # savepoint=False: inside an add's transaction a failure here fails the whole add anyway.
    with transaction.atomic(savepoint=False):
        insert_rows(Memory, memories, computed={"vector_memory_id": CANONICAL_SQL})
        for memory in memories:
            # Found by the INSERT itself: not known here. Left deferred (a read, if anything asks),
            # so that no later save writes the look-up again.
            memory.__dict__.pop("vector_memory_id")
        history_added(memories=memories, now=now, traces=traces)
        if settings.GRAPH_AUTO_LINK_THRESHOLD > 0:
            relationships_autolink(
                project=project, memories=memories, threshold=settings.GRAPH_AUTO_LINK_THRESHOLD, now=now
            )
    for memory in memories:  # the rows in hand hold the arrays their callers gave (once made)
        if not (isinstance(memory.embedding, SqlVector) and memory.embedding.pending):
            memory.embedding = plain_vector(memory.embedding)
    return memories


# The value of a new memory's ``vector_memory``, computed by its INSERT (``insert_rows``) from the
# row's own project, hash and vector: the oldest memory of its project that holds the same text with
# the same vector and names no canonical itself (``Memory.vector_memory``), or NULL. In the INSERT,
# so the add stays one round trip; served by memory_canonical_hash (one probe, which finds nothing
# for a text the project has not seen). Two adds of one new text at the same moment may both find
# none, and both keep their own HNSW entry: correct, and not worth a lock. Rows inserted by one
# statement do not see each other. The canonical found is locked ``FOR KEY SHARE`` until the add
# commits: a delete of it waits for the add (then its ON DELETE SET NULL reaches the new row too),
# and an add that finds it being deleted waits, then passes over it (none, or the next): without the
# lock the add named a row that another transaction had just deleted, and failed on the key at its
# commit (seen under 32 clients adding and deleting).
CANONICAL_SQL = (
    '(SELECT c.id FROM memories_memory c WHERE c.project_id = u."project_id" AND c.hash = u."hash" '
    'AND c.vector_memory_id IS NULL AND c.embedding = u."embedding" ORDER BY c.created_at, c.id LIMIT 1 '
    "FOR KEY SHARE)"
)


def memories_add(*, project, items: Sequence[NewMemory], now: datetime | None = None) -> list[Memory]:
    """Store memories verbatim (one or many), embedded in one batch, with an ADD history row each.

    The low-level writer under :func:`add_ingest` (and the tests' fixtures): it records no add
    event and takes no scope lock. Callers outside ``memories.services`` add through :func:`add_ingest`."""
    prepared = memories_prepare(items, project=project)
    return memories_write(project=project, prepared=prepared, now=now or timezone.now())


def memories_unshare_vectors(*, project_id: Any, memory_ids: Sequence[Any]) -> None:
    """These memories' embeddings change (new words, another model): each stops naming a canonical
    (``Memory.vector_memory``) and holds its own HNSW entry, of its new vector. The rows that named
    one of them keep their vector, so they are re-homed without entering memory_embedding_hnsw by
    the thousand: the oldest becomes their canonical (one HNSW insert) and the others name it (a
    row whose new version names a canonical gets no HNSW entry). The messages that named one of
    them (``MemorySource.vector_memory``, equal vectors) name that new canonical, or nothing when
    none is left (each then enters source_embedding_hnsw). One statement, sent with the caller's
    queued rows inside an add (``execute_later``); call it in the transaction that changes the
    embeddings."""
    changed, project = [str(pk) for pk in memory_ids], str(project_id)
    execute_later(
        """
        WITH promoted AS (
            SELECT DISTINCT ON (d.vector_memory_id) d.vector_memory_id AS old, d.id AS new
            FROM memories_memory d
            WHERE d.project_id = %s AND d.vector_memory_id = ANY(%s::uuid[]) AND d.id <> ALL(%s::uuid[])
            ORDER BY d.vector_memory_id, d.created_at, d.id
        ),
        targets AS (
            SELECT id, NULL::uuid AS canonical FROM memories_memory
            WHERE project_id = %s AND id = ANY(%s::uuid[]) AND vector_memory_id IS NOT NULL
            UNION ALL
            SELECT d.id, CASE WHEN d.id = p.new THEN NULL ELSE p.new END
            FROM promoted p JOIN memories_memory d ON d.vector_memory_id = p.old
            WHERE d.project_id = %s AND d.id <> ALL(%s::uuid[])
        ),
        rehomed AS (
            UPDATE memories_memory m SET vector_memory_id = t.canonical
            FROM targets t WHERE m.project_id = %s AND m.id = t.id
        )
        UPDATE memories_memorysource s
        SET vector_memory_id = (SELECT p.new FROM promoted p WHERE p.old = s.vector_memory_id)
        WHERE s.project_id = %s AND s.vector_memory_id = ANY(%s::uuid[])
        """,
        [project, changed, changed, project, changed, project, changed, project, project, changed],
    )


def sources_of_delete(memory_ids: Sequence[Any]) -> None:
    """Deleting memories deletes the messages they came from (their words are what is deleted),
    even when another memory also came from one of them: that memory stays, without the link.
    Their traces go with them (``DecisionTrace.memory`` cascades)."""
    for start in range(0, len(memory_ids), 5000):
        chunk = memory_ids[start : start + 5000]
        MemorySource.objects.filter(
            pk__in=MemorySourceLink.objects.filter(memory_id__in=chunk).values("source_id")
        ).delete()


def provenance_delete(*, project, entities: dict) -> None:
    """Delete a scope's sources and decision traces (``entities``: scope filters; empty: the
    whole project's)."""
    MemorySource.objects.filter(project=project, **entities).delete()
    DecisionTrace.objects.filter(project=project, **entities).delete()


def delete_with_history(queryset, *, now: datetime) -> int:
    with transaction.atomic():
        doomed = list(queryset.select_for_update().defer("embedding"))
        history_deleted(memories=doomed, now=now)
        ids = [memory.pk for memory in doomed]
        sources_of_delete(ids)
        # A deleted canonical (Memory.vector_memory) leaves the rows naming it canonical each (the
        # database's ON DELETE SET NULL): each then enters memory_embedding_hnsw, one graph insert
        # per row (thousands for a fact said by thousands of users), a clump of equal vectors in
        # the graph again. Correct; the cost is the delete's, and not optimised.
        for start in range(0, len(ids), 5000):
            # The delete cascades to the memories' relationships (graph.models), so Django loads the
            # rows first: only their ids, not 5000 embeddings.
            Memory.objects.filter(pk__in=ids[start : start + 5000]).only("pk").delete()
    return len(doomed)


def closing_time(memory: Memory, observed_at: datetime) -> datetime:
    # valid_to must come after valid_from (a check constraint): a change observed at the very moment
    # the old fact began (same clock in one test, two adds in one second) closes it a microsecond on.
    return max(observed_at, memory.valid_from + timedelta(microseconds=1))
