"""A graph's nodes and edges as GraphML or Cytoscape.js elements (no queries here).

The API passes its memory and relationship shapes; the web UI passes :func:`memory_node` and
:func:`relationship_edge`, the fields a graph shows.
"""

import json
import re
import xml.etree.ElementTree as ET

GRAPHML_NS = "http://graphml.graphdrawing.org/xmlns"
# Characters XML 1.0 cannot carry, even escaped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

NODE_KEYS = [
    ("memory", "string"),
    ("user_id", "string"),
    ("agent_id", "string"),
    ("app_id", "string"),
    ("run_id", "string"),
    ("categories", "string"),
    ("metadata", "string"),
    ("created_at", "string"),
    ("valid_from", "string"),
    ("valid_to", "string"),
]
EDGE_KEYS = [
    ("relation", "string"),
    ("weight", "double"),
    ("origin", "string"),
    ("metadata", "string"),
    ("created_at", "string"),
    ("valid_from", "string"),
    ("valid_to", "string"),
]


def memory_node(memory) -> dict:
    """A memory as a graph node: its id and the fields of ``NODE_KEYS``."""
    return {"id": str(memory.pk), **{name: getattr(memory, name) for name, _ in NODE_KEYS}}


def relationship_edge(relationship) -> dict:
    """A relationship as a graph edge: its id, its ends and the fields of ``EDGE_KEYS``."""
    return {
        "id": str(relationship.pk),
        "source": str(relationship.source_id),
        "target": str(relationship.target_id),
        **{name: getattr(relationship, name) for name, _ in EDGE_KEYS},
    }


def _text(value) -> str:
    if isinstance(value, (dict, list)):
        value = json.dumps(value, ensure_ascii=False)
    return _NOT_XML.sub("\ufffd", str(value))


def to_graphml(*, nodes: list[dict], edges: list[dict], truncated: bool) -> bytes:
    """GraphML: one ``node`` per memory and one directed ``edge`` per relationship, their fields as
    ``data`` (JSON text for ``metadata`` and ``categories``; absent when null)."""
    ET.register_namespace("", GRAPHML_NS)
    root = ET.Element(f"{{{GRAPHML_NS}}}graphml")
    ET.SubElement(
        root,
        f"{{{GRAPHML_NS}}}key",
        attrib={"id": "truncated", "for": "graph", "attr.name": "truncated", "attr.type": "boolean"},
    )
    for scope, keys, prefix in (("node", NODE_KEYS, "n_"), ("edge", EDGE_KEYS, "e_")):
        for name, kind in keys:
            ET.SubElement(
                root,
                f"{{{GRAPHML_NS}}}key",
                attrib={"id": prefix + name, "for": scope, "attr.name": name, "attr.type": kind},
            )
    graph = ET.SubElement(root, f"{{{GRAPHML_NS}}}graph", id="memories", edgedefault="directed")
    ET.SubElement(graph, f"{{{GRAPHML_NS}}}data", key="truncated").text = "true" if truncated else "false"
    for element, items, keys, prefix in (("node", nodes, NODE_KEYS, "n_"), ("edge", edges, EDGE_KEYS, "e_")):
        for item in items:
            attrib = {"id": str(item["id"])}
            if element == "edge":
                attrib.update(source=str(item["source"]), target=str(item["target"]))
            tag = ET.SubElement(graph, f"{{{GRAPHML_NS}}}{element}", attrib=attrib)
            for name, _ in keys:
                if item.get(name) is not None:
                    ET.SubElement(tag, f"{{{GRAPHML_NS}}}data", key=prefix + name).text = _text(item[name])
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def to_cytoscape(*, nodes: list[dict], edges: list[dict], truncated: bool) -> dict:
    """Cytoscape.js elements: ``cy.add(response.elements)``. Nodes are labelled with their text and
    edges with their relation; every field of the memory or relationship is in ``data``."""
    return {
        "elements": {
            "nodes": [{"data": {**node, "label": node["memory"]}} for node in nodes],
            "edges": [{"data": {**edge, "label": edge["relation"]}} for edge in edges],
        },
        "truncated": truncated,
    }


def entity_node_id(name: str) -> str:
    return f"entity:{name}"


def to_cytoscape_hubs(*, entities: list[dict], mentions: list[dict]) -> dict:
    """Entity hubs as Cytoscape.js elements beside the memories of :func:`to_cytoscape`: one node per
    entity (``kind: "entity"``, its ``entity_kind`` and how many memories name it) and one
    ``mentions`` edge from each memory to each entity it names (labelled with the triple's verb)."""
    return {
        "nodes": [
            {
                "data": {
                    "id": entity_node_id(hub["name"]),
                    "kind": "entity",
                    "name": hub["name"],
                    "entity_kind": hub["kind"],
                    "label": hub["name"].replace("_", " "),
                    "mentions": len(hub["memory_ids"]),
                }
            }
            for hub in entities
        ],
        "edges": [
            {
                "data": {
                    "id": f"mentions:{mention['memory_id']}:{mention['entity']}",
                    "source": str(mention["memory_id"]),
                    "target": entity_node_id(mention["entity"]),
                    "relation": "mentions",
                    "label": mention["relationship"],
                }
            }
            for mention in mentions
        ],
    }
