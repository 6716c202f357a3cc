"""Every read of the graph goes through these functions. Import them from here
(``from graph.selectors import related_memories``); the modules are the rooms: ``traversal`` (a
memory's relationships, related memories, a user's graph, timelines), ``relations`` (Mem0's entity
relations) and ``hubs`` (the web UI's graph: entity hubs, facets, changes over time).
"""

from graph.selectors.hubs import (
    ENTITY_KIND_NAMES,
    HUB_MIN_MENTIONS,
    MENTIONS,
    Change,
    EntityHub,
    GraphFacets,
    GraphView,
    Mention,
    entity_kind,
    graph_changes,
    graph_facets,
    graph_view,
)
from graph.selectors.relations import relations_list, relations_search
from graph.selectors.traversal import (
    CHAIN_DEPTH_MAX,
    LIMIT_MAX,
    Graph,
    Timeline,
    Version,
    graph_at,
    memories_visible,
    memory_timeline,
    related_memories,
    relationship_list,
    relationships_visible,
)

__all__ = [
    "CHAIN_DEPTH_MAX",
    "ENTITY_KIND_NAMES",
    "HUB_MIN_MENTIONS",
    "LIMIT_MAX",
    "MENTIONS",
    "Change",
    "EntityHub",
    "Graph",
    "GraphFacets",
    "GraphView",
    "Mention",
    "Timeline",
    "Version",
    "entity_kind",
    "graph_at",
    "graph_changes",
    "graph_facets",
    "graph_view",
    "memories_visible",
    "memory_timeline",
    "related_memories",
    "relations_list",
    "relations_search",
    "relationship_list",
    "relationships_visible",
]
