"""OpenAPI examples more than one app's API shows: a memory, its id and path parameter, a user."""

from mem0g_site.openapi import CREATED, EXAMPLE_MEMORY_ID, path_param

MEMORY_ID = EXAMPLE_MEMORY_ID
OTHER_MEMORY_ID = "3c0d7a51-2b8e-4f6a-8d19-6e5b4a3c2d10"
HISTORY_ID = "e1a2b3c4-d5e6-4f70-8192-a3b4c5d6e7f8"

MEMORY = {
    "id": MEMORY_ID,
    "memory": "Prefers Python for scripting",
    "content": "Prefers Python for scripting",
    "hash": "5f0c6f1f0e4d5d2b9f6a2c7e8b1d3a4c",
    "user_id": "alice",
    "agent_id": None,
    "app_id": None,
    "run_id": None,
    "session_id": None,
    "metadata": {"category": "language_preference"},
    "categories": ["preferences"],
    "created_at": CREATED,
    "updated_at": CREATED,
    "valid_from": CREATED,
    "valid_to": None,
    "expiration_date": None,
    "immutable": False,
    "memory_type": None,
    "lifecycle_state": "active",
    "replaced_by": None,
}
MEMORY_ID_PARAM = path_param("memory_id", "The memory's id (a UUID; anything else is a 404).", MEMORY_ID)
USER_ID_PARAM = path_param("user_id", "The user id.", "alice")
