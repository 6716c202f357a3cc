"""Mem0's graph memory in the add and search answers of the memory dialects (``relations``), read
from the graph's public selectors."""

from accounts.access import key_scope
from graph.selectors import relations_search
from memories.api.common import merged_scope
from memories.filters import has_entity_id


def with_relations(body: dict, relations: dict | None) -> dict:
    """An add answer with Mem0's ``relations`` (``{"deleted_entities", "added_entities"}``, recorded
    by the add itself: ``AddOutcome.relations``) when the request set ``enable_graph`` or an added
    memory's ``metadata.memory_category`` is one of ``MEM0_USE_GRAPH_FOR_CATEGORIES``; otherwise
    ``body`` unchanged."""
    return body if relations is None else {**body, "relations": relations}


def search_relations(request, data: dict) -> list[dict]:
    """Mem0's ``relations`` of a search with ``enable_graph``: ``[{"source", "relationship", "destination"}]``
    of the scope the search names (top-level ids and plain ids in ``filters``, as Mem0's graph reads
    ``filters.user_id``; a restricted key: its user's), at most 5."""
    scope = key_scope(request.auth, merged_scope(data))
    if scope.is_empty and has_entity_id(data.get("filters") or {}):
        return []  # ids only inside AND/OR/NOT conditions: no one scope to read the graph of
    return relations_search(project=request.auth.project, scope=scope, query=data.get("query"))
