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
"""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar

from django.db import DEFAULT_DB_ALIAS, connections

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
def deferred_inserts(using: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
    connection = connections[using]
    queue: list[tuple[str, tuple | None]] = []
    sending = False  # the queue itself is going out

    def send() -> None:
        # Through a cursor of its own, like any statement (timed, logged), past ``deferring``. Each
        # statement's parameters are merged into it on its own (the driver keeps the parsed form of
        # a statement up to 4 kB and 50 parameters; the joined string, longer, was parsed afresh
        # every time: 0.7 ms of an add), and the joined result goes without parameters.
        nonlocal sending
        with connection.cursor() as cursor:
            merge = cursor.cursor.mogrify
            sql = ";\n".join(statement if params is None else merge(statement, params) for statement, params in queue)
            queue.clear()
            sending = True
            try:
                cursor.execute(sql)
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
                send()
    finally:
        _queues.reset(token)
