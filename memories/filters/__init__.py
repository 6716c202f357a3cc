"""Mem0's ``filters`` grammar, compiled to a Django ``Q`` over ``Memory``.

One grammar serves the Platform v2/v3 dialect and the OSS ``Memory``/REST-server dialect:

* The root is an object whose sibling keys are ANDed. ``AND``/``OR`` take a non-empty list of
  objects; ``NOT`` takes an object (negated as a whole: ``NOT {a, b}`` is ``~(a & b)``) or a list of
  objects. A ``NOT`` list follows Mem0 OSS's ``$not`` list (qdrant ``must_not``): *none* of the
  listed conditions may hold, i.e. ``NOT [a, b]`` is ``~a & ~b``.
* Field keys: the entity ids (``session_id`` is an alias of ``run_id``), the time fields
  (``timestamp`` is an alias of ``created_at``), ``categories``, ``metadata`` (and OSS-style
  ``metadata.<path>`` keys), ``memory_ids``, ``keywords``/``keywords_search``, ``text`` and
  ``memory_type`` (``procedural_memory``; an ordinary memory has none).
  Each field has a kind (a ``_Kind``: ``ENTITY``, ``TIME``, ``CATEGORIES``, ``METADATA``, ...)
  saying which operators it takes, what a bare value means and what ``"*"`` means; ``_FIELDS``
  maps keys to kinds. Inside ``metadata`` an object value is always an operator object; nested
  objects are addressed with dotted names (``{"metadata": {"a.b": 1}}``), and ``{}`` matches all.
* Negation is a true complement: ``ne``, ``nin`` and ``NOT`` also match rows where the field is
  NULL or the metadata key is absent (every condition compiles to a two-valued SQL predicate).
* ``allow_oss=False`` is the Platform dialect: it refuses the OSS-only parts (``nin``, ``eq`` on
  time fields, ``actor_id`` and dotted ``metadata.<path>`` keys).

Anything unsupported or malformed raises ``InvalidRequest`` naming the key in ``details["key"]``
(metadata keys as ``metadata.<path>``); nothing else escapes ``compile_filters``.

The package: :mod:`~memories.filters.values` (values and metadata paths),
:mod:`~memories.filters.grammar` (fields, operators, the tree) and :mod:`~memories.filters.entities`
(the entity ids a filter names).
"""

from memories.filters.entities import entity_ids, has_entity_id, names_entity
from memories.filters.grammar import check_filters_size, compile_filters
from memories.filters.values import ENTITY_ALIASES, MAX_DEPTH, WILDCARD

__all__ = [
    "ENTITY_ALIASES",
    "MAX_DEPTH",
    "WILDCARD",
    "check_filters_size",
    "compile_filters",
    "entity_ids",
    "has_entity_id",
    "names_entity",
]
