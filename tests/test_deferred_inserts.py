"""INSERTs sent together (mem0g_site/deferred.py): queued until the next other statement or the
block's end, seen by every read after them, and failing inside the caller's transaction."""

import contextlib
import re
import tempfile
import uuid

import pytest
from django.db import DataError, IntegrityError, connection, transaction
from django.db.transaction import TransactionManagementError
from django.test.utils import CaptureQueriesContext
from psycopg import pq

from mem0g_site.deferred import deferred_inserts, deferred_transaction, execute_later
from memories.models import AddEvent, MemorySourceLink


def _sent(context) -> list[str]:
    """What went to the database (a deferred INSERT is logged with no SQL where it was queued),
    but the savepoints the test's own transaction makes of ``atomic`` blocks."""
    sent = [q["sql"] for q in context.captured_queries if q["sql"] is not None]
    return [sql for sql in sent if not sql.startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))]


def test_queued_rows_go_out_together_before_the_next_read(project):
    with CaptureQueriesContext(connection) as context, transaction.atomic(), deferred_inserts():
        first = AddEvent.objects.create(project=project, payload={"n": 1})
        AddEvent.objects.bulk_create([AddEvent(project=project, payload={"n": n}) for n in (2, 3)])
        assert not _sent(context)  # nothing sent yet
        found = set(AddEvent.objects.filter(project=project).values_list("payload__n", flat=True))
    assert found == {1, 2, 3}
    together, read = _sent(context)
    assert together.count("INSERT INTO") == 2 and together.startswith("INSERT INTO")
    assert read.startswith("SELECT")
    assert AddEvent.objects.get(pk=first.pk).payload == {"n": 1}


def test_what_is_left_goes_out_when_the_block_ends(project):
    with transaction.atomic():
        with CaptureQueriesContext(connection) as context, deferred_inserts():
            AddEvent.objects.create(project=project, user_id="u1")
        assert len(_sent(context)) == 1
        assert AddEvent.objects.filter(project=project, user_id="u1").count() == 1


def test_an_insert_that_reads_something_back_is_sent_at_once(project, add):
    memory = add(project, "Likes tea", user_id="alice")
    source_event = AddEvent.objects.create(project=project)
    from memories.models import MemorySource

    source = MemorySource.objects.create(
        project=project, add_event=source_event, role="user", content="Likes tea", observed_at=memory.created_at
    )
    with CaptureQueriesContext(connection) as context, transaction.atomic(), deferred_inserts():
        link = MemorySourceLink.objects.create(project=project, memory=memory, source=source)  # RETURNING id
        assert link.pk is not None
        assert [sql for sql in _sent(context) if "RETURNING" in sql]


def test_a_failing_queued_insert_fails_the_block_and_writes_nothing(project):
    taken = uuid.uuid4()
    AddEvent.objects.create(pk=taken, project=project, user_id="first")
    with pytest.raises(IntegrityError), transaction.atomic(), deferred_inserts():
        AddEvent.objects.create(project=project, user_id="second")
        AddEvent.objects.create(pk=taken, project=project, user_id="duplicate")
    assert set(AddEvent.objects.filter(project=project).values_list("user_id", flat=True)) == {"first"}


def test_outside_the_block_nothing_waits(project):
    with CaptureQueriesContext(connection) as context:
        AddEvent.objects.create(project=project)
    assert len(_sent(context)) == 1


def test_a_statement_for_later_goes_out_with_the_queue_in_its_order(project):
    with CaptureQueriesContext(connection) as context, transaction.atomic(), deferred_inserts():
        execute_later("SELECT pg_advisory_xact_lock(%s)", [4242])
        AddEvent.objects.create(project=project, user_id="after-the-lock")
        assert not _sent(context)
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 4242")
            held = cursor.fetchone()[0]
    assert held == 1
    together = _sent(context)[0]
    assert together.index("pg_advisory_xact_lock") < together.index("INSERT INTO")
    with CaptureQueriesContext(connection) as context:
        execute_later("SELECT 1", [])  # outside a block: at once
    assert _sent(context) == ["SELECT 1"]


def test_each_statement_keeps_its_own_parameters_and_percent_signs(project):
    """The queue goes out as one string with each statement's parameters merged into it: values
    that look like placeholders or quotes stay values, and a statement sent without parameters keeps
    its ``%`` as written."""
    tricky = ["50% off %s %(name)s", "it's; DROP TABLE x; --", "second"]
    with transaction.atomic(), deferred_inserts():
        execute_later("SELECT 1 WHERE 'a%' LIKE 'a%'", None)
        for text in tricky:
            AddEvent.objects.create(project=project, user_id=text, payload={"text": text})
        execute_later("SELECT pg_advisory_xact_lock(%s)", [4243])
    stored = dict(AddEvent.objects.filter(project=project).values_list("user_id", "payload"))
    assert stored == {text: {"text": text} for text in tricky}


# --- deferred_transaction: the queue as the whole transaction -------------------------------------


@contextlib.contextmanager
def _wire():
    """The round trips this connection makes while the block runs, as libpq traces them: a simple
    query (``BEGIN`` and ``COMMIT`` included, which Django's query log does not show), or the
    statements of one pipeline up to its Sync, joined like the query log joins them."""
    connection.ensure_connection()
    driver = connection.connection.pgconn
    trips: list[str] = []
    with tempfile.TemporaryFile("w+") as trace:
        driver.trace(trace.fileno())
        driver.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
        try:
            yield trips
        finally:
            driver.untrace()
            trace.seek(0)
            trips += _round_trips(trace.read())


def _round_trips(trace: str) -> list[str]:
    """F(rontend) lines of a libpq trace: ``Query`` with its text in double quotes (over several
    lines if it has them); ``Parse`` naming the statement, then its text, then its parameter types;
    ``Sync`` ending a pipeline."""
    trips, pipeline = [], []
    for message in re.finditer(r"^F\t\d+\t(Query|Parse|Sync)\b(.*?)\n(?=[FB]\t|\Z)", trace, re.S | re.M):
        kind, rest = message.groups()
        if kind == "Query":
            trips.append(re.fullmatch(r'\t "(.*)"', rest, re.S).group(1))
        elif kind == "Parse":
            pipeline.append(re.fullmatch(r'\t "[^"]*" "(.*)" \d+(?: \S+)*', rest, re.S).group(1))
        else:
            trips.append(";\n".join(pipeline))
            pipeline = []
    assert not pipeline, f"a pipeline was left without its Sync: {pipeline}"
    return trips


def _events(project) -> set:
    return set(AddEvent.objects.filter(project=project).values_list("user_id", flat=True))


@pytest.mark.django_db(transaction=True)
def test_a_transaction_that_only_writes_its_queue_is_one_round_trip(project):
    with _wire() as sent, deferred_transaction():
        execute_later("SELECT pg_advisory_xact_lock(%s)", [4244])
        AddEvent.objects.create(project=project, user_id="one")
        AddEvent.objects.bulk_create([AddEvent(project=project, user_id="two")])
    assert len(sent) == 1, sent  # no BEGIN, no COMMIT: one pipeline, one Sync
    assert sent[0].startswith("SELECT pg_advisory_xact_lock") and sent[0].count("INSERT INTO") == 2
    assert _events(project) == {"one", "two"}
    with connection.cursor() as cursor:  # the lock went with the implicit transaction
        cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 4244")
        assert cursor.fetchone()[0] == 0


@pytest.mark.django_db(transaction=True)
def test_the_one_round_trip_is_all_or_nothing(project):
    taken = uuid.uuid4()
    AddEvent.objects.create(pk=taken, project=project, user_id="first")
    with _wire() as sent, pytest.raises(IntegrityError), deferred_transaction():
        AddEvent.objects.create(project=project, user_id="second")
        AddEvent.objects.create(pk=taken, project=project, user_id="duplicate")
    assert len(sent) == 1, sent
    assert _events(project) == {"first"}
    AddEvent.objects.create(project=project, user_id="after")  # the connection is usable
    assert _events(project) == {"first", "after"}


@pytest.mark.django_db(transaction=True)
def test_a_transaction_that_reads_is_begun_and_committed_as_before(project):
    with _wire() as sent, deferred_transaction():
        AddEvent.objects.create(project=project, user_id="before-the-read")
        assert AddEvent.objects.filter(project=project).count() == 1
        AddEvent.objects.create(project=project, user_id="after-the-read")
    assert [query.split()[0] for query in sent] == ["BEGIN", "INSERT", "SELECT", "INSERT", "COMMIT"]
    assert _events(project) == {"before-the-read", "after-the-read"}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("outer_wrote_first", [True, False])
def test_inside_another_transaction_the_queue_waits_for_its_commit(project, outer_wrote_first):
    """Nested in the caller's transaction, the block commits nothing, even when the caller has sent
    nothing yet: the caller's rollback takes its rows too."""
    with pytest.raises(RuntimeError), transaction.atomic():
        if outer_wrote_first:
            AddEvent.objects.create(project=project, user_id="outer")
        with deferred_transaction():
            AddEvent.objects.create(project=project, user_id="inner")
        assert "inner" in _events(project)
        raise RuntimeError("the caller changes its mind")
    assert _events(project) == set()


@pytest.mark.django_db(transaction=True)
def test_a_block_bound_to_roll_back_commits_nothing(project):
    """An inner failure caught inside the block marks the transaction for rollback (Django's
    ``needs_rollback``) without sending anything: the queue must not go out as a commit (Django
    refuses to send it at all)."""
    with pytest.raises(TransactionManagementError), deferred_transaction():
        AddEvent.objects.create(project=project, user_id="doomed")
        try:
            with transaction.atomic(savepoint=False):
                raise ValueError("inner failure")
        except ValueError:
            pass
        assert connection.needs_rollback
    assert _events(project) == set()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("sent_before", [1, 3])
def test_a_value_the_driver_refuses_leaves_nothing_of_the_transaction_written(project, sent_before):
    """The last row never leaves (psycopg refuses a NUL in a text, before sending it); the rows and
    the lock before it have gone already, and the pipeline's Sync must not commit them."""
    with pytest.raises(DataError, match="NUL"), deferred_transaction():
        execute_later("SELECT pg_advisory_xact_lock(%s)", [4245])
        for number in range(sent_before):
            AddEvent.objects.create(project=project, user_id=f"sent-{number}")
        AddEvent.objects.create(project=project, user_id="bad\x00value")
    assert _events(project) == set()
    assert connection.connection.info.transaction_status == pq.TransactionStatus.IDLE
    with connection.cursor() as cursor:  # the lock went with the rolled-back transaction
        cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 4245")
        assert cursor.fetchone()[0] == 0
    with _wire() as sent, deferred_transaction():  # and the connection goes on, one round trip again
        AddEvent.objects.create(project=project, user_id="after")
    assert len(sent) == 1, sent
    assert _events(project) == {"after"}
