"""INSERTs sent together: inside ``deferred_inserts()``, an INSERT that reads nothing back (no
``RETURNING``: a model whose primary key the application sets, like every UUID key here, or
``bulk_create(..., ignore_conflicts=True)``) is queued instead of sent, and the queue goes to
the database in one round trip just before the next other statement on the connection (a read, a
savepoint, an UPDATE) and when the block ends.

Each statement costs a round trip besides its own work; an add writes six small rows (memory,
history, add event, message, link, trace), so most of its database time was waiting. Nothing
changes for the code inside the block: ``bulk_create`` and ``create`` of such models read nothing
from their INSERT, every read sees the rows queued before it, and the block's end sends what is
left before its transaction commits. An error of a queued INSERT (a unique key, say) is raised by
the statement that flushes it, inside the same transaction: wrap the block in ``transaction.atomic``
(as the add does), so it rolls back whole.

The queue goes out in libpq's pipeline mode: each statement with its parameters bound on the server
(extended protocol), sent one after the other without waiting for the previous one's result, and
one Sync after the last. The server starts on the first while the driver still adapts the next
ones, and vectors travel in binary (``memories.vectors``), which the server copies instead of
parsing their text. A string of the statements with their parameters merged into it, one round
trip too, spent about a third of a 20-message add in merging and parsing (600 parameters merged,
60 vectors read as text by PostgreSQL); prepared statements on top of the pipeline gained nothing
measurable (docs/BENCHMARKS.md, session 14).

``deferred_transaction()`` is both: a transaction whose INSERTs are deferred. When the block sent
nothing of its own by its end (its queue is all it wrote, as in a verbatim add), the queue *is* the
transaction: PostgreSQL runs everything before a Sync, with no ``BEGIN``, as one implicit
transaction, committed at the Sync or rolled back whole at the first error; so it goes out alone,
without ``BEGIN`` before it and ``COMMIT`` after it: one round trip instead of three. A statement
that never leaves (the driver refuses one of its values) would let the Sync commit those sent before
it; one that fails on the server goes last in its place, so none of them is kept.
"""

import functools
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar

import psycopg
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from psycopg.pq import TransactionStatus

# The queues of the blocks open in this thread (or task), by database alias.
_queues: ContextVar[dict[str, list] | None] = ContextVar("mem0g_deferred_inserts", default=None)


def execute_later(sql: str, params: Sequence | None, using: str = DEFAULT_DB_ALIAS) -> None:
    """Run ``sql``, whose result nobody reads (taking a lock, say), with the queued INSERTs of the
    open ``deferred_inserts`` block, in their order: before the next other statement at the
    latest. Outside a block: now."""
    queue = (_queues.get() or {}).get(using)
    if queue is None:
        with connections[using].cursor() as cursor:
            cursor.execute(sql, params)
    else:
        queue.append((sql, None if params is None else tuple(params)))


@contextmanager
def deferred_transaction(using: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
    """``transaction.atomic()`` around ``deferred_inserts()``, nothing between their ends. Outside any
    other transaction, a queue that is all the block wrote goes out as the transaction itself (see
    the module's docstring); inside another, this is a savepoint like any nested ``atomic``."""
    outermost = not connections[using].in_atomic_block
    with transaction.atomic(using=using), deferred_inserts(using, whole_transaction=outermost):
        yield


def _idle_in_its_transaction(connection) -> bool:
    """Whether ``connection`` is in its outermost ``atomic`` block, bound to commit, and has sent
    nothing in it yet: psycopg opens the server's transaction (``BEGIN``) with the first statement,
    and ``commit()`` sends nothing when none was opened."""
    driver = connection.connection
    return (
        driver is not None
        and len(connection.atomic_blocks) == 1
        and not connection.needs_rollback
        and driver.isolation_level is None  # else BEGIN would name a level the implicit transaction lacks
        and driver.info.transaction_status == TransactionStatus.IDLE
    )


@contextmanager
def deferred_inserts(using: str = DEFAULT_DB_ALIAS, *, whole_transaction: bool = False) -> Iterator[None]:
    """See the module's docstring. ``whole_transaction``: the caller's outermost ``atomic`` block ends
    with this one (``deferred_transaction``), so a queue that is all the block wrote may go out as
    its own implicit transaction."""
    connection = connections[using]
    queue: list[tuple[str, tuple | None]] = []
    sending = False  # the queue itself is going out

    def send(*, last: bool = False) -> None:
        nonlocal sending
        statements = list(queue)
        queue.clear()
        alone = last and whole_transaction and _idle_in_its_transaction(connection)
        sending = True
        try:
            _send_pipelined(connection, statements, autocommit=alone)
        finally:
            sending = False

    def deferring(execute, sql, params, many, context):
        if sending:
            return execute(sql, params, many, context)
        if not many and sql.startswith("INSERT INTO ") and " RETURNING " not in sql:
            queue.append((sql, None if params is None else tuple(params)))
            return None
        if queue:
            send()
        return execute(sql, params, many, context)

    token = _queues.set({**(_queues.get() or {}), using: queue})
    try:
        with connection.execute_wrapper(deferring):
            yield
            if queue:
                send(last=True)
    finally:
        _queues.reset(token)


# Sent last when a pipelined implicit transaction is given up before its Sync.
_ABANDON = "DO $$BEGIN RAISE EXCEPTION 'mem0g: the rest of this transaction was not sent'; END$$"


def _abandon(cursor) -> None:
    """Make the implicit transaction of ``cursor``'s pipeline fail, so that its Sync rolls back what
    was sent of it instead of committing it: a statement that raises, as the pipeline's last. When
    a statement stops the loop before it leaves (the driver refuses a value, client-side), those
    before it are already on the server, and nothing else would tell it to drop them. Costs nothing
    when all goes out (BEGIN and COMMIT in the pipeline cost 11% of a batched add: session 20)."""
    try:
        cursor.execute(_ABANDON)
    except Exception:  # an error of the server's came back already: it rolls back at the Sync anyway
        pass


def _send_pipelined(connection, statements: list[tuple[str, tuple | None]], *, autocommit: bool) -> None:
    """Send ``statements`` in one pipeline, one Sync after the last (see the module's docstring).
    ``autocommit``: no transaction is open and none is begun, so the Sync commits them (or none of
    them). Like any statement of Django's: through the connection's execute wrappers (the request's
    ``db`` time, benchmarks' logs, ``deferring``, which lets it pass), once, as the statements joined,
    in the query log when queries are logged (their parameters merged there), and with the driver's
    errors as Django's."""
    text = ";\n".join(sql for sql, _ in statements)

    def pipelined(sql, params, many, context):
        driver = connection.connection
        with connection.wrap_database_errors:
            if autocommit:  # no BEGIN: PostgreSQL commits at the Sync (or none of it)
                driver.autocommit = True
            try:
                # A cursor binding its parameters on the server (Django's merge them into the text,
                # which pipeline mode cannot carry as several statements).
                with driver.pipeline(), psycopg.Cursor(driver) as cursor:
                    try:
                        for statement, values in statements:
                            cursor.execute(statement, values)
                    except BaseException:
                        if autocommit:
                            _abandon(cursor)
                        raise
            finally:
                if autocommit:
                    driver.autocommit = False

    with connection.cursor() as cursor:  # connected, in this thread, as any statement
        connection.validate_no_broken_transaction()
        context = {"connection": connection, "cursor": cursor}
        executor = pipelined
        for wrapper in reversed(connection.execute_wrappers):
            executor = functools.partial(wrapper, executor)
        started = time.monotonic()
        executor(text, None, False, context)
        if connection.queries_logged:
            merge = cursor.cursor.mogrify
            merged = ";\n".join(sql if params is None else merge(sql, params) for sql, params in statements)
            connection.queries_log.append({"sql": merged, "time": f"{time.monotonic() - started:.3f}"})
