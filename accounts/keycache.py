"""API keys found recently, kept per process so most requests authenticate without SQL.

An entry maps the SHA-256 of a raw key to the key's row (with its project and organisation) as
read from the database, for at most ``API_KEY_CACHE_SECONDS``. Each request gets its own copies of
the three objects, so nothing a view does to them reaches another request.

Revocation stays prompt:

- in the process that revokes, deletes or changes a key, project or organisation, the cache is
  emptied at once (model signals), and again when the transaction commits;
- every other process (gunicorn workers, other machines) learns of it through a shared
  *generation* counter (``accounts/counters.py``: PostgreSQL, or Redis with ``REDIS_URL``) that
  each commit of such a change raises by one. A process reads it at most every
  ``GENERATION_CHECK_SECONDS`` while it serves keys from its cache, and empties its cache when it
  changed (or could not be read). So a revoked key is refused everywhere within about one second.

A key that is not found (wrong, revoked) is never cached: each such request asks the database.
"""

import copy
import hashlib
import logging
import threading
import time

from django.conf import settings
from django.db import transaction
from django.db.models.base import ModelState

from accounts import counters

logger = logging.getLogger("mem0g.keycache")

GENERATION = "keys:generation"
GENERATION_CHECK_SECONDS = 1.0

_lock = threading.Lock()
_entries: dict[str, tuple[object, float]] = {}
_state = {"generation": None, "checked_at": float("-inf"), "cleared_at": float("-inf")}
stats = {"hits": 0, "misses": 0, "generation_checks": 0, "flushes": 0}


def _digest(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


def clear() -> None:
    """Forget every key (this process only)."""
    with _lock:
        _forget_locked()


def _forget_locked() -> None:
    _entries.clear()
    _state["cleared_at"] = time.monotonic()
    stats["flushes"] += 1


def _read_generation() -> int | None:
    try:
        return counters.value(GENERATION)
    except counters.StoreError:
        logger.warning("could not read the API-key generation; not trusting the key cache", exc_info=True)
        return None


def _check_generation(now: float) -> None:
    """Empty the cache if another process changed a key since we last looked (at most every
    ``GENERATION_CHECK_SECONDS``)."""
    if now - _state["checked_at"] < GENERATION_CHECK_SECONDS:
        return
    generation = _read_generation()
    stats["generation_checks"] += 1
    with _lock:
        if generation is None or generation != _state["generation"]:
            _forget_locked()
        _state["generation"] = generation
        _state["checked_at"] = now if generation is not None else float("-inf")


def _clone(instance):
    """A copy of a model instance and of its mutable field values (lists, dicts), without its
    cached relations; several times cheaper than ``copy.deepcopy``."""
    clone = instance.__class__.__new__(instance.__class__)
    values = instance.__dict__.copy()
    for name, value in values.items():
        if isinstance(value, (list, dict)):
            values[name] = copy.deepcopy(value)
    values["_state"] = ModelState()
    values["_state"].db = instance._state.db
    values["_state"].adding = False
    clone.__dict__ = values
    return clone


def _private_copy(api_key):
    """The key, its project and organisation as objects of this request's own."""
    key = _clone(api_key)
    project = _clone(api_key.project)
    project.organization = _clone(api_key.project.organization)
    key.project = project
    return key


def get(raw_key: str):
    """The cached key for ``raw_key`` (a private copy), or None (then look it up and :func:`put` it)."""
    seconds = settings.API_KEY_CACHE_SECONDS
    if not seconds:
        return None
    now = time.monotonic()
    _check_generation(now)
    with _lock:
        entry = _entries.get(_digest(raw_key))
        if entry is None or now - entry[1] > seconds:
            stats["misses"] += 1
            return None
        stats["hits"] += 1
        api_key = entry[0]
    return _private_copy(api_key)


def put(raw_key: str, api_key, *, read_at: float) -> None:
    """Remember ``api_key`` (as read from the database at ``read_at``, monotonic) for ``raw_key``.
    Dropped if the cache was emptied since the read began (a change may have raced it)."""
    if not settings.API_KEY_CACHE_SECONDS:
        return
    with _lock:
        if _state["cleared_at"] >= read_at or _state["generation"] is None:
            return
        _entries[_digest(raw_key)] = (_private_copy(api_key), read_at)


def note_used(raw_key: str, last_used_at) -> None:
    """The key's ``last_used_at`` was just recorded: keep the cached row in step, so the next
    requests do not record it again (``accounts.services.apikey_touch`` writes once a minute)."""
    with _lock:
        entry = _entries.get(_digest(raw_key))
        if entry is not None:
            entry[0].last_used_at = last_used_at


def changed() -> None:
    """A key, project or organisation was saved or deleted: forget every key here now and, once
    the change is committed, raise the shared generation so the other processes do too."""
    clear()
    transaction.on_commit(_committed)


def _committed() -> None:
    clear()
    try:
        counters.add({GENERATION: 1})
    except counters.StoreError:
        logger.warning(
            "could not raise the API-key generation; other processes learn of the change when their entries expire",
            exc_info=True,
        )


def on_model_change(sender, **kwargs) -> None:
    changed()
