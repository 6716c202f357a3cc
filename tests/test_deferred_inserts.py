"""INSERTs sent together (mem0g_site/deferred.py): queued until the next other statement or the
block's end, seen by every read after them, and failing inside the caller's transaction."""

import uuid

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from mem0g_site.deferred import deferred_inserts, execute_later
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
