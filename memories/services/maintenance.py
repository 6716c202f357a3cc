"""Maintenance writes: purging expired short-term memories, re-embedding after a model change.

The periodic job that runs the purge is in ``memories.tasks``.
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from memories.embedding import embed_texts, get_embedder
from memories.inputs import clean_uuid
from memories.models import Memory
from memories.services.records import delete_with_history, memories_unshare_vectors


def memories_purge_expired(*, now: datetime | None = None) -> int:
    """Hard-delete the short-term memories (``metadata.memory_lifespan = "short_term"``) whose
    expiration date has passed, in every project, with a DELETE history row each; returns how many.

    Other expired memories are kept: they are hidden from reads but can still be asked for
    (``show_expired``), as Mem0 keeps them.
    """
    now = now or timezone.now()
    queryset = Memory.objects.expired(now).filter(
        # metadata @> '{"memory_lifespan": "short_term"}': the metadata GIN index serves it.
        metadata__contains={"memory_lifespan": "short_term"},
    )
    return delete_with_history(queryset, now=now)


def memories_reembed(*, project, memory_ids: Sequence[Any]) -> int:
    """Embed these memories' texts again with the current model (one batch), e.g. after a model change.
    The texts do not change, so no history rows; returns how many were embedded.

    Each one then names no canonical (``Memory.vector_memory``) and holds its own HNSW entry; the
    rows that named one of them are re-homed (``memories_unshare_vectors``). Repeats among the
    re-embedded rows are not linked to each other again (only an add looks for a canonical, and the
    next adds of those texts link to the oldest): each keeps its own entry. Correct, only more
    HNSW entries (a project re-embedded whole gets one per row, as before canonicals)."""
    pks = [pk for pk in (clean_uuid(memory_id) for memory_id in memory_ids) if pk is not None]
    with transaction.atomic():
        locked = Memory.objects.for_project(project).filter(pk__in=pks).select_for_update()
        memories = list(locked.only("id", "project_id", "memory"))
        if not memories:
            return 0
        vectors = embed_texts([memory.memory for memory in memories])
        model_name = get_embedder().model_name
        for memory, vector in zip(memories, vectors, strict=True):
            memory.embedding, memory.embedding_model = vector, model_name
        Memory.objects.bulk_update(memories, ["embedding", "embedding_model"], batch_size=500)
        memories_unshare_vectors(project_id=memories[0].project_id, memory_ids=[memory.pk for memory in memories])
    return len(memories)
