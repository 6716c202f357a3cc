"""Examples and parameters of the memory routes' OpenAPI description."""

# The memory examples the graph and accounts APIs show too (the memory routes read them here as well).
from mem0g_site.api_kit.examples import (  # noqa: F401
    HISTORY_ID,
    MEMORY,
    MEMORY_ID,
    MEMORY_ID_PARAM,
    OTHER_MEMORY_ID,
    USER_ID_PARAM,
)
from mem0g_site.openapi import CREATED, UPDATED, path_param, query

EVENT_ID = "5d0c1b8e-2f4a-4e3b-8c6d-7a9e0f1b2c3d"

SCORED_MEMORY = {**MEMORY, "score": 0.83}
ADD_EVENT = {"id": MEMORY_ID, "memory": "Prefers Python for scripting", "event": "ADD"}
MESSAGES = [
    {"role": "user", "content": "Hi, I'm Alice. I prefer Python for scripting."},
    {"role": "assistant", "content": "Noted, Alice!"},
]
HISTORY_ROW = {
    "id": HISTORY_ID,
    "memory_id": MEMORY_ID,
    "old_memory": None,
    "new_memory": "Prefers Python for scripting",
    "event": "ADD",
    "old_metadata": None,
    "new_metadata": {"category": "language_preference"},
    "user_id": "alice",
    "agent_id": None,
    "app_id": None,
    "run_id": None,
    "session_id": None,
    "actor_id": None,
    "role": "user",
    "is_deleted": False,
    "created_at": CREATED,
    "updated_at": CREATED,
    "trace": "91c2d3e4-f5a6-4b7c-8d9e-0f1a2b3c4d5e",
}

SOURCE = {
    "id": "0b7f9a52-3c1e-4d8a-9f60-2a4b5c6d7e8f",
    "role": "user",
    "name": "Alice",
    "content": "I'm a vegetarian and I love Python.",
    "observed_at": CREATED,
}
ADD_EVENT_RECORD = {
    "id": "4e5f6a7b-8c9d-4e0f-a1b2-c3d4e5f6a7b8",
    "event_id": "4e5f6a7b-8c9d-4e0f-a1b2-c3d4e5f6a7b8",
    "status": "SUCCEEDED",
    "results": [ADD_EVENT],
    "payload": {"messages": MESSAGES, "user_id": "alice"},
    "error": None,
    "latency": 42.5,
    "created_at": CREATED,
    "updated_at": CREATED,
}
ENTITY = {
    "id": "alice",
    "type": "user",
    "name": "alice",
    "total_memories": 12,
    "created_at": CREATED,
    "updated_at": UPDATED,
}

ENTITY_TYPE_PARAM = path_param(
    "entity_type",
    "`user`, `agent`, `app` or `run` (anything else is a 400).",
    "user",
    enum=["user", "agent", "app", "run"],
)
ENTITY_QUERY = [
    query("user_id", description="Only this user's memories."),
    query("agent_id", description="Only this agent's memories."),
    query("app_id", description="Only this application's memories."),
    query("run_id", description="Only this run's memories."),
    query("session_id", description="An alias of `run_id`."),
]

PAGE_QUERY = [
    query("page", int, "Page number, from 1 (overrides the body's `page`)."),
    query("page_size", int, "Memories per page, 1 to 200 (overrides the body's `page_size`)."),
]

# --- Mem0 Platform requests ----------------------------------------------------------------
