"""INSERTs sent together: inside ``deferred_inserts()``, an INSERT that reads nothing back (no
``RETURNING``: a model whose primary key the application sets, like every UUID key here, or
``bulk_create(..., ignore_conflicts=True)``) is queued instead of sent, and the queue goes to
the database in one round trip, as one multi-statement string, just before the next other
statement on the connection (a read, a savepoint, an UPDATE) and when the block ends.

Each statement costs a round trip besides its own work; an add writes six small rows (memory,
history, add event, message, link, trace), so most of its database time was waiting. Nothing
changes for the code inside the block: ``bulk_create`` and ``create`` of such models read nothing
from their INSERT, every read sees the rows queued before it, and the block's end sends what is
left before its transaction commits. An error of a queued INSERT (a unique key, say) is raised by
the statement that flushes it, inside the same transaction: wrap the block in ``transaction.atomic``
(as the add does), so it rolls back whole.

``deferred_transaction()`` is both: a transaction whose INSERTs are deferred. When the block sent
nothing of its own by its end (its queue is all it wrote, as in a verbatim add), the queue *is* the
transaction: PostgreSQL runs a multi-statement string as one implicit transaction (all or nothing),
so it goes out alone, without ``BEGIN`` before it and ``COMMIT`` after it: one round trip instead of
three.
"""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar

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
        # Through a cursor of its own, like any statement (timed, logged), past ``deferring``. Each
        # statement's parameters are merged into it on its own (the driver keeps the parsed form of
        # a statement up to 4 kB and 50 parameters; the joined string, longer, was parsed afresh
        # every time: 0.7 ms of an add), and the joined result goes without parameters.
        nonlocal sending
        with connection.cursor() as cursor:
            merge = cursor.cursor.mogrify
            sql = ";\n".join(statement if params is None else merge(statement, params) for statement, params in queue)
            queue.clear()
            alone = last and whole_transaction and _idle_in_its_transaction(connection)
            sending = True
            if alone:  # no BEGIN: PostgreSQL commits the string (or none of it) by itself
                connection.connection.autocommit = True
            try:
                cursor.execute(sql)
            finally:
                sending = False
                if alone:
                    connection.connection.autocommit = False

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
