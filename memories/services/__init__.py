"""Every write to memories goes through these functions (API dialects, UI, admin, commands).

Import them from here (``from memories.services import memory_update``); the modules are the rooms:

- ``writes``: plain writes (update, delete one, a scope or a batch, reset, supersede, exports, feedback) and
  curation (expire, restore);
- ``add``, ``add_plan``, ``add_apply``: the add pipeline (``add_ingest``), planned with no lock held,
  applied under the scope's locks;
- ``maintenance``: purging expired short-term memories, re-embedding;
- ``records``: the low-level writers they share (history rows, locks, the verbatim writer).

Queued adds and the periodic maintenance job are in ``memories.tasks`` (the job queue).
"""

from memories.services.add import AddOutcome, add_ingest, memories_ingest, scope_lock_key
from memories.services.add_plan import add_messages
from memories.services.maintenance import memories_purge_expired, memories_reembed
from memories.services.records import memories_add
from memories.services.writes import (
    memories_delete,
    memories_delete_batch,
    memories_reset,
    memories_update_batch,
    memory_delete,
    memory_expire,
    memory_export_create,
    memory_feedback_create,
    memory_restore,
    memory_supersede,
    memory_update,
)

__all__ = [
    "AddOutcome",
    "add_ingest",
    "add_messages",
    "memories_add",
    "memories_delete",
    "memories_delete_batch",
    "memories_ingest",
    "memories_purge_expired",
    "memories_reembed",
    "memories_reset",
    "memories_update_batch",
    "memory_delete",
    "memory_expire",
    "memory_export_create",
    "memory_feedback_create",
    "memory_restore",
    "memory_supersede",
    "memory_update",
    "scope_lock_key",
]
