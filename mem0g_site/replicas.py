"""Reads from a PostgreSQL streaming replica (``DATABASE_REPLICA_URL``), correctly.

- **What reads there.** Only what a view marks as a read (``ApiView.replica_methods``: GET and HEAD,
  and the search and list POSTs), and only after the request is authenticated and counted (API
  keys, rate limits: always the primary, so a revoked key is refused at once). Everything else
  (writes, row locks, reads inside a transaction, the job workers, the web UI, the admin) uses the
  primary. The router sends a read to the replica only while the view has switched replica reads on
  for its thread (:func:`reading`), and never inside a transaction on the primary.
- **Read-your-writes.** After an API key's request that may have written, a mark is left in the
  shared cache (Redis) for ``READ_YOUR_WRITES_SECONDS``. With ``READ_YOUR_WRITES=lsn`` (the
  default) the mark is the primary's WAL position after the write, and a later read by that key
  uses the replica once the replica has replayed past it (waiting up to
  ``READ_YOUR_WRITES_WAIT_MS``), else the primary. With ``window`` every read by the key goes to
  the primary while the mark lives. docs/DEPLOY.md gives the measured costs of both.
- **A lagging or dead replica is taken out.** Each process checks the replica at most every
  ``REPLICA_CHECK_SECONDS`` (reachable, still a standby, replay lag at most
  ``REPLICA_MAX_LAG_SECONDS``); until a check passes again every read uses the primary. A read that
  fails on the replica mid-request marks it down and is answered again from the primary
  (``ApiView.handle_exception``), so clients see no error.
"""

import contextlib
import logging
import threading
import time
from contextvars import ContextVar

from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.utils import InterfaceError, OperationalError

REPLICA = "replica"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
logger = logging.getLogger("mem0g.replicas")

# True while the current request's view reads from the replica (one value per thread and request).
_reads: ContextVar[bool] = ContextVar("mem0g_replica_reads", default=False)


def configured() -> bool:
    return REPLICA in settings.DATABASES


class ReplicaRouter:
    """Django database router: reads marked as such go to the replica, everything else to the primary."""

    def db_for_read(self, model, **hints) -> str:
        if _reads.get() and not connections[DEFAULT_DB_ALIAS].in_atomic_block and health.usable():
            return REPLICA
        return DEFAULT_DB_ALIAS

    def db_for_write(self, model, **hints) -> str:
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints) -> bool:
        return True  # one database, two copies of it

    def allow_migrate(self, db, app_label, model_name=None, **hints) -> bool:
        return db == DEFAULT_DB_ALIAS  # the replica copies the primary's schema by itself


# --- the replica's health ---------------------------------------------------------------------


class ReplicaHealth:
    """Is the replica fit to read from? Checked in this process at most every REPLICA_CHECK_SECONDS,
    on connections of its own; a thread that finds a check running uses the last answer."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._usable = False
        self._checked_at = float("-inf")
        self._connections: dict[str, object] = {}

    def usable(self) -> bool:
        if time.monotonic() - self._checked_at < settings.REPLICA_CHECK_SECONDS:
            return self._usable
        if not self._lock.acquire(blocking=False):
            return self._usable
        try:
            usable, why = self._check()
            self._set(usable, why)
        finally:
            self._lock.release()
        return self._usable

    def mark_down(self, why: str) -> None:
        self._set(False, why)

    def _set(self, usable: bool, why: str) -> None:
        if usable != self._usable:
            if usable:
                logger.info("replica back in use")
            else:
                logger.warning("replica taken out of use: %s; reads go to the primary", why)
        self._usable = usable
        self._checked_at = time.monotonic()

    def _check(self) -> tuple[bool, str]:
        try:
            primary_lsn = self._query(DEFAULT_DB_ALIAS, "SELECT pg_current_wal_lsn()::text")[0]
            in_recovery, caught_up, lag = self._query(
                REPLICA,
                "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn() >= %s::pg_lsn,"
                " COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0)::float8",
                [primary_lsn],
            )
        except Exception as exc:  # unreachable, refused, timed out, shut down...
            return False, f"{exc.__class__.__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
        if not in_recovery:
            return False, "it is not a standby (promoted?)"
        if not caught_up and lag > settings.REPLICA_MAX_LAG_SECONDS:
            return False, f"replay lag {lag:.1f} s > REPLICA_MAX_LAG_SECONDS={settings.REPLICA_MAX_LAG_SECONDS:g}"
        return True, ""

    def _query(self, alias: str, sql: str, params=None) -> tuple:
        import psycopg

        conn = self._connections.get(alias)
        if conn is None or conn.closed:
            db = settings.DATABASES[alias]
            conn = psycopg.connect(
                host=db["HOST"],
                port=db["PORT"] or None,
                dbname=db["NAME"],
                user=db["USER"] or None,
                password=db["PASSWORD"] or None,
                autocommit=True,
                application_name="mem0g-replica-check",
                **{"connect_timeout": 2, **db["OPTIONS"]},
            )
            self._connections[alias] = conn
        try:
            return conn.execute(sql, params).fetchone()
        except Exception:
            with contextlib.suppress(Exception):
                conn.close()
            raise


health = ReplicaHealth()


# --- per request ------------------------------------------------------------------------------


@contextlib.contextmanager
def request_scope():
    """Around a view: replica reads stay off until :func:`reading` turns them on, and off after."""
    token = _reads.set(False)
    try:
        yield
    finally:
        _reads.reset(token)


def reading(request) -> None:
    """The view about to run only reads: use the replica if it is fit and has this key's writes."""
    request._request.mem0g_read_only = True
    key_id = getattr(request.auth, "pk", None)
    if health.usable() and (key_id is None or _has_writes_of(key_id)):
        _reads.set(True)


def reading_from_replica() -> bool:
    return _reads.get() and health.usable()


def replica_failed(exc: Exception) -> bool:
    """Did a read on the replica fail this request? Then it is marked down, replica reads are switched
    off for the request, and the caller answers again from the primary."""
    if not _reads.get() or not isinstance(exc, (OperationalError, InterfaceError)):
        return False
    health.mark_down(f"{exc.__class__.__name__} during a request")
    _reads.set(False)
    with contextlib.suppress(Exception):
        connections[REPLICA].close()
    return True


def _mark_name(key_id) -> str:
    return f"ryw:{key_id}"


def _has_writes_of(key_id) -> bool:
    try:
        mark = cache.get(_mark_name(key_id))
    except Exception:  # the cache (Redis) is away: we cannot know, so read from the primary
        logger.warning("read-your-writes mark unavailable; reading from the primary", exc_info=True)
        return False
    if mark is None:
        return True
    if settings.READ_YOUR_WRITES == "window":
        return False
    deadline = time.monotonic() + settings.READ_YOUR_WRITES_WAIT_MS / 1000
    try:
        with connections[REPLICA].cursor() as cursor:
            while True:
                cursor.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [mark])
                if cursor.fetchone()[0]:
                    return True
                if time.monotonic() >= deadline:
                    return False
                time.sleep(0.002)
    except (OperationalError, InterfaceError) as exc:
        health.mark_down(f"{exc.__class__.__name__} checking replay")
        with contextlib.suppress(Exception):
            connections[REPLICA].close()
        return False


def note_write(key_id) -> None:
    """After a request of this key that may have written: its next reads must see the write."""
    try:
        if settings.READ_YOUR_WRITES == "window":
            mark = 1
        else:
            with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
                cursor.execute("SELECT pg_current_wal_lsn()::text")
                mark = cursor.fetchone()[0]
        cache.set(_mark_name(key_id), mark, timeout=settings.READ_YOUR_WRITES_SECONDS)
    except Exception:
        # Without the mark this key's next reads might miss the write for up to the replica's lag.
        logger.warning("could not leave a read-your-writes mark", exc_info=True)


class ReadYourWritesMiddleware:
    """Leaves the read-your-writes mark after every API-key request that may have written (any
    method but GET/HEAD/OPTIONS on a view not marked as a read, answered below 400), and after the
    reads of ``ApiView.marks_read_your_writes`` views (the add events a client polls)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        api_key = getattr(request, "api_key", None)
        may_have_written = request.method not in SAFE_METHODS and not getattr(request, "mem0g_read_only", False)
        if (
            api_key is not None
            and (may_have_written or getattr(request, "mem0g_mark", False))
            and response.status_code < 400
        ):
            note_write(api_key.pk)
        return response
