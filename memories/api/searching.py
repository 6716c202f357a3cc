"""The search parameters every search route accepts (Platform v1/v2/v3, the memory layer, OSS
``POST /search``), read once here and passed to :func:`memories.search.memory_search`."""

from typing import Any

from mem0g_site.exceptions import ValidationFailed
from memories.api.common import as_bool, as_float, as_moment
from memories.api.serializers import memories_data

# Beside each route's own query, scope and paging fields.
SEARCH_OPTION_FIELDS = frozenset(
    {
        "threshold",
        "keyword_search",
        "rerank",
        "explain",
        "decay_half_life_days",
        "as_of",
        "show_expired",
        "include_superseded",
        "latest_only",
        "include_merged",
        "include_sources",
    }
)


def include_superseded(data: dict[str, Any], *, by_default: bool) -> bool:
    """Whether a read shows the facts a newer one superseded (marked ``lifecycle_state: superseded``,
    with ``replaced_by``). Mem0's read flags: ``latest_only: true`` shows current facts only; without
    it Mem0 Platform reads show superseded memories too (``by_default``), unless the read asks for
    another moment (``as_of``, ``reference_date``, ``known_at``: what held, or was on record, then).
    ``include_superseded`` (ours) says it outright. ``include_merged`` is checked and changes nothing:
    mem0g keeps no merged duplicates (a richer restatement updates the memory in place, its history
    keeps the earlier text)."""
    latest_only = as_bool(data.get("latest_only"), "latest_only")
    as_bool(data.get("include_merged"), "include_merged")
    if data.get("include_superseded") is not None:
        explicit = as_bool(data.get("include_superseded"), "include_superseded")
        if explicit and latest_only:
            raise ValidationFailed("latest_only and include_superseded contradict each other", field="latest_only")
        return explicit
    if latest_only:
        return False
    moments = ("as_of", "reference_date", "known_at")
    return by_default and all(data.get(name) in (None, "") for name in moments)


def search_options(
    data: dict[str, Any], *, default_threshold: float | None, superseded_by_default: bool = False
) -> dict[str, Any]:
    """``threshold``, ``keyword_search`` (default on), ``rerank``, ``explain``,
    ``decay_half_life_days``, ``as_of`` (or its Mem0 alias ``reference_date``), ``show_expired``
    and the read flags (:func:`include_superseded`), as memory_search's keyword arguments."""
    return {
        "threshold": as_float(data.get("threshold"), "threshold", default_threshold, minimum=0.0, maximum=1.0),
        "keyword_search": as_bool(data.get("keyword_search"), "keyword_search", default=True),
        "rerank": as_bool(data.get("rerank"), "rerank"),
        "explain": as_bool(data.get("explain"), "explain"),
        "decay_half_life_days": as_float(
            data.get("decay_half_life_days"), "decay_half_life_days", None, minimum=0.0, maximum=365_000.0
        ),
        "as_of": as_moment(data.get("as_of") or data.get("reference_date"), "as_of"),
        "include_expired": as_bool(data.get("show_expired"), "show_expired"),
        "include_superseded": include_superseded(data, by_default=superseded_by_default),
        "include_sources": as_bool(data.get("include_sources"), "include_sources"),
    }


def search_results(memories: list, *, explain: bool) -> list[dict]:
    """The scored memory shape; with ``explain``, each result's ``score_breakdown`` too."""
    items = memories_data(memories, scored=True)
    for item, memory in zip(items, memories, strict=True):
        if explain:
            item["score_breakdown"] = memory.score_breakdown
        if getattr(memory, "memory_type", None) == "source":
            # A message that gave no fact, found by ``include_sources``: our extension field.
            item["memory_type"] = "source"
    return items
