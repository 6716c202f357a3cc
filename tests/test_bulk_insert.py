"""Rows inserted a column at a time (mem0g_site/bulk_insert.py): the same rows ``bulk_create`` writes,
in one statement whose parameters do not grow with the rows, with columns computed per row."""

import uuid

import numpy as np
import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from mem0g_site.bulk_insert import UNNEST_MIN_ROWS, insert_rows
from mem0g_site.deferred import deferred_inserts
from memories.models import AddEvent, DecisionTrace, Memory, MemoryHistory, MemorySource, MemorySourceLink
from memories.services.add import ENTRY_HOLDER_SQL
from memories.vectors import SqlVector

# Texts that a hand-made array literal would get wrong.
AWKWARD = ["plain", "a,b", 'say "hi"', "back\\slash", "{braces}", "NULL", "null", "", "ünïcode ✓", " spaced ", "x\ny"]


def _columns(model) -> list[str]:
    return [f.attname for f in model._meta.concrete_fields if not f.generated and not f.primary_key]


def _stored(model, objs) -> list[dict]:
    rows = {row["pk"]: row for row in model.objects.filter(pk__in=[o.pk for o in objs]).values("pk", *_columns(model))}
    assert len(rows) == len(objs)
    return [{k: v for k, v in rows[o.pk].items() if k != "pk"} for o in objs]


def _twins(make, count: int) -> tuple[list, list]:
    return [make(i) for i in range(count)], [make(i) for i in range(count)]


def _vector(seed: int) -> np.ndarray:
    vector = np.random.default_rng(seed).standard_normal(384).astype(np.float32)
    return vector / np.linalg.norm(vector)


@pytest.mark.parametrize("count", [1, 3, len(AWKWARD) + 4])  # as VALUES rows, then over unnest
def test_memories_read_back_as_bulk_create_writes_them(project, count):
    now = timezone.now()

    def make(i):
        text = AWKWARD[i % len(AWKWARD)]
        return Memory(
            project=project,
            memory=f"{text} {i}",
            hash=f"{i:032x}",
            metadata={"text": text, "nested": {"list": [1, None, text]}} if i % 3 else {},
            categories=[] if i % 4 == 0 else [text, "two,words", "NULL", 'q"uote'][: 1 + i % 4],
            embedding=None if i % 5 == 4 else SqlVector(_vector(i)),
            embedding_model="m",
            valid_from=now,
            valid_to=None,
            created_at=now,
            updated_at=now,
            user_id=None if i % 2 else text,
            actor_id=text,
            immutable=bool(i % 2),
        )

    by_django, by_columns = _twins(make, count)
    Memory.objects.bulk_create(by_django)
    insert_rows(Memory, by_columns)
    assert _stored(Memory, by_columns) == _stored(Memory, by_django)
    if count > 4:
        assert {tuple(row["categories"]) for row in _stored(Memory, by_columns)} >= {
            (),
            ("a,b", "two,words"),
            ("back\\slash", "two,words", "NULL", 'q"uote'),
        }


@pytest.mark.parametrize("count", [2, len(AWKWARD)])
def test_messages_history_and_traces_read_back_as_bulk_create_writes_them(project, count):
    now = timezone.now()
    event = AddEvent.objects.create(project=project)
    cases = [
        (
            MemorySource,
            lambda i: MemorySource(
                project=project,
                add_event=event,
                position=i,
                role="user",
                name=AWKWARD[i % len(AWKWARD)] or None,
                content=AWKWARD[i % len(AWKWARD)] + "!",
                observed_at=now,
                metadata={"i": i},
                embedding=SqlVector(_vector(i)),
                created_at=now,
                run_id=str(i),
            ),
        ),
        (
            MemoryHistory,
            lambda i: MemoryHistory(
                project=project,
                memory_id=uuid.UUID(int=i + 1),
                event=MemoryHistory.Event.ADD,
                new_memory=AWKWARD[i % len(AWKWARD)],
                old_metadata=None,
                new_metadata={"k": AWKWARD[i % len(AWKWARD)]},
                created_at=now,
                updated_at=now,
            ),
        ),
        (
            DecisionTrace,
            lambda i: DecisionTrace(
                project=project,
                add_event=event,
                position=i,
                fact=AWKWARD[i % len(AWKWARD)],
                extractor="verbatim",
                candidates=[{"id": str(i)}],
                decision="ADD",
                reason={"rule": "verbatim"},
                source_ids=[str(uuid.UUID(int=i))],
                created_at=now,
            ),
        ),
    ]
    for model, make in cases:
        by_django, by_columns = _twins(make, count)
        model.objects.bulk_create(by_django)
        insert_rows(model, by_columns)
        assert _stored(model, by_columns) == _stored(model, by_django), model.__name__


def test_one_statement_whose_parameters_do_not_grow_with_the_rows(project):
    now = timezone.now()
    sent = []

    def capture(execute, sql, params, many, context):
        sent.append((sql, len(params)))
        return execute(sql, params, many, context)

    def history(count):
        return [
            MemoryHistory(project=project, memory_id=uuid.uuid4(), event="ADD", created_at=now, updated_at=now)
            for _ in range(count)
        ]

    with connection.execute_wrapper(capture):
        insert_rows(MemoryHistory, history(UNNEST_MIN_ROWS))
        insert_rows(MemoryHistory, history(300))
        insert_rows(MemoryHistory, history(UNNEST_MIN_ROWS - 1))  # cheaper to plan as VALUES rows
    (few, few_params), (many, many_params), (fewer, fewer_params) = sent
    assert few == many and few.startswith('INSERT INTO "memories_memoryhistory"') and "unnest(" in few
    assert few_params == many_params == len(_columns(MemoryHistory)) + 1  # each column once, the id too
    assert "unnest(" not in fewer and fewer_params == (UNNEST_MIN_ROWS - 1) * few_params
    assert MemoryHistory.objects.filter(project=project).count() == 300 + 2 * UNNEST_MIN_ROWS - 1


@pytest.mark.parametrize("rounds", [1, 3])  # 3 rows as VALUES, 9 over unnest
def test_a_computed_column_reads_the_row_and_the_extra_columns(project, add, rounds):
    held = add(project, "Likes tea", user_id="alice")
    canonical = add(project, "Likes coffee", user_id="alice")
    again = add(project, "Likes coffee", user_id="bob")  # names the first "Likes coffee" as its canonical
    assert again.vector_memory_id == canonical.pk
    event = AddEvent.objects.create(project=project)

    def message(i):
        return MemorySource(
            project=project, add_event=event, position=i, role="user", content="m", observed_at=held.created_at
        )

    messages = [message(i) for i in range(3 * rounds)]
    insert_rows(
        MemorySource,
        messages,
        computed={"vector_memory_id": ENTRY_HOLDER_SQL},
        extra={"holder_of": ("uuid", [held.pk, again.pk, None] * rounds)},
    )
    named = dict(
        MemorySource.objects.filter(pk__in=[m.pk for m in messages]).values_list("position", "vector_memory_id")
    )
    assert named == {i: [held.pk, canonical.pk, None][i % 3] for i in range(3 * rounds)}


def test_conflicts_are_ignored_only_when_asked(project, add):
    memory = add(project, "Likes tea", user_id="alice")
    event = AddEvent.objects.create(project=project)
    source = MemorySource.objects.create(
        project=project, add_event=event, role="user", content="Likes tea", observed_at=memory.created_at
    )

    def link():
        return MemorySourceLink(project=project, memory=memory, source=source)

    insert_rows(MemorySourceLink, [link()])  # its identity key made by the database
    insert_rows(MemorySourceLink, [link(), link()], ignore_conflicts=True)
    assert MemorySourceLink.objects.filter(source=source).count() == 1
    with pytest.raises(IntegrityError), transaction.atomic():
        insert_rows(MemorySourceLink, [link()])


def test_rows_are_marked_saved(project):
    row = AddEvent(project=project, user_id="alice")
    insert_rows(AddEvent, [row])
    assert not row._state.adding
    row.user_id = "bob"
    with CaptureQueriesContext(connection) as context:
        row.save()
    assert context.captured_queries[0]["sql"].startswith("UPDATE")
    assert AddEvent.objects.get(pk=row.pk).user_id == "bob"


def test_queued_in_a_deferred_block_like_any_insert(project):
    rows = [AddEvent(project=project, user_id=f"u{i}") for i in range(5)]
    with transaction.atomic(), CaptureQueriesContext(connection) as context, deferred_inserts():
        insert_rows(AddEvent, rows)
        assert not [q for q in context.captured_queries if q["sql"] and q["sql"].startswith("INSERT")]
    assert AddEvent.objects.filter(project=project, user_id__startswith="u").count() == 5


def test_mistakes_are_refused_before_anything_is_sent(project):
    rows = [AddEvent(project=project) for _ in range(2)]
    with CaptureQueriesContext(connection) as context:
        with pytest.raises(ValueError, match="no columns"):
            insert_rows(AddEvent, rows, computed={"not_a_column": "1"})
        with pytest.raises(ValueError, match="3 values for 2 rows"):
            insert_rows(AddEvent, rows, extra={"x": ("uuid", [None, None, None])})
        with pytest.raises(ValueError, match="primary keys"):
            insert_rows(MemorySourceLink, [MemorySourceLink(project=project), MemorySourceLink(project=project, pk=7)])
    assert not context.captured_queries
    assert not AddEvent.objects.filter(project=project).exists()
