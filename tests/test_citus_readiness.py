"""Ready for Citus: every tenant table can be distributed by project_id (mem0g_site/citus.py).

The models are read and classified (distributed, reference, local); a tenant table with a unique key
or a key to another tenant table without the project fails the check, shown with throw-away models.
The plain-PostgreSQL half of the Citus migration then runs on the test database, and the catalog
afterwards holds only keys Citus accepts. docs/SCALING.md shows the same plan.
"""

import re
import uuid
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, models, transaction
from django.db.migrations.executor import MigrationExecutor
from django.test.utils import isolate_apps

from accounts.models import Project, Webhook, WebhookDelivery
from graph.models import Relationship
from mem0g_site import citus
from mem0g_site.constraints import CompositeForeignKey
from memories.models import Memory

SCALING = Path(__file__).resolve().parent.parent / "docs" / "SCALING.md"


def kinds() -> dict[str, str]:
    return {model._meta.label: kind for model, kind in citus.classify(citus.all_models()).items()}


def test_the_models_are_classified_and_keep_the_rules():
    found = kinds()
    for label in ("memories.Memory", "memories.MemoryHistory", "graph.Relationship", "graph.EntityRelation"):
        assert found[label] == citus.DISTRIBUTED
    assert found["accounts.WebhookDelivery"] == citus.DISTRIBUTED  # reached through its webhook
    for label in ("accounts.Organization", "accounts.Project", "accounts.ApiKey", "auth.User"):
        assert found[label] == citus.REFERENCE_TABLE
    for label in ("django_tasks_database.DBTaskResult", "sessions.Session", "accounts.Counter", "auth.User_groups"):
        assert found[label] == citus.LOCAL
    assert citus.problems() == []
    # The lists name real tables of the right kind (no stale entries).
    assert {label for label in citus.REFERENCE} <= {
        label for label, kind in found.items() if kind == citus.REFERENCE_TABLE
    }
    distributed = {label for label, kind in found.items() if kind == citus.DISTRIBUTED}
    assert set(citus.SURROGATE_PRIMARY_KEYS) <= distributed
    assert {label for label, _ in citus.ALLOWED_UNIQUE_WITHOUT_PROJECT} <= distributed


@isolate_apps("tests")
def test_a_new_tenant_table_that_breaks_the_rules_fails_the_check(monkeypatch):
    class Note(models.Model):  # noqa: DJ008
        project = models.ForeignKey(Project, on_delete=models.CASCADE)
        memory = models.ForeignKey(Memory, on_delete=models.CASCADE)
        slug = models.SlugField(unique=True)

        class Meta:
            app_label = "tests"
            constraints = [models.UniqueConstraint(fields=["memory", "slug"], name="note_slug_per_memory")]

    # Reached through a note, without a project of its own.
    class NoteTag(models.Model):  # noqa: DJ008
        note = models.ForeignKey(Note, on_delete=models.CASCADE)

        class Meta:
            app_label = "tests"

    # Declared a reference table below, but points at memories.
    class Glossary(models.Model):  # noqa: DJ008
        memory = models.ForeignKey(Memory, on_delete=models.CASCADE)

        class Meta:
            app_label = "tests"

    class GoodNote(models.Model):  # noqa: DJ008
        pk = models.CompositePrimaryKey("project", "id")
        id = models.UUIDField(default=uuid.uuid4)
        project = models.ForeignKey(Project, on_delete=models.CASCADE)
        memory = models.ForeignKey(Memory, on_delete=models.CASCADE)
        slug = models.SlugField()

        class Meta:
            app_label = "tests"
            constraints = [
                models.UniqueConstraint(fields=["project", "slug"], name="goodnote_slug"),
                CompositeForeignKey(
                    fields=["project", "memory"], to="memories.Memory", to_fields=["project", "id"], name="goodnote_mem"
                ),
            ]

    monkeypatch.setitem(citus.REFERENCE, "tests.Glossary", "a throw-away reference table")
    found = citus.problems([*citus.all_models(), Note, NoteTag, Glossary, GoodNote])
    text = "\n".join(found)
    assert "tests.Note: primary key ('id',) does not include 'project'" in text
    assert "tests.Note: unique key slug (unique field) ('slug',)" in text
    assert "tests.Note: unique key note_slug_per_memory ('memory', 'slug')" in text
    assert "tests.Note.memory: a key to the distributed table memories.Memory without the project" in text
    assert "tests.NoteTag: a tenant table (it points at tests.Note) without a NOT NULL 'project'" in text
    assert "tests.Glossary.memory: a reference table points at a distributed table" in text
    assert len(found) == 6 and "GoodNote" not in text
    # The allow-list is what lets a surrogate primary key through.
    monkeypatch.setitem(citus.SURROGATE_PRIMARY_KEYS, "tests.Note", "a throw-away uuid")
    assert len(citus.problems([*citus.all_models(), Note])) == 3


UNIQUE_WITHOUT_PROJECT = """
    SELECT c.relname, i.relname FROM pg_index x
    JOIN pg_class c ON c.oid = x.indrelid JOIN pg_class i ON i.oid = x.indexrelid
    WHERE x.indisunique AND c.relname = ANY(%(tables)s)
      AND NOT (SELECT attnum FROM pg_attribute WHERE attrelid = c.oid AND attname = 'project_id')
              = ANY(x.indkey::int2[])
"""
# Keys from or to a distributed table that Citus refuses: to a non-reference table without the
# project in the same place on both sides, or from a table that is not distributed.
BAD_FOREIGN_KEYS = """
    SELECT f.conname FROM pg_constraint f
    JOIN pg_class c ON c.oid = f.conrelid JOIN pg_class t ON t.oid = f.confrelid
    WHERE f.contype = 'f' AND (c.relname = ANY(%(tables)s) OR t.relname = ANY(%(tables)s))
      AND NOT (c.relname = ANY(%(tables)s) AND t.relname = ANY(%(references)s))
      AND NOT (
        c.relname = ANY(%(tables)s) AND t.relname = ANY(%(tables)s)
        AND coalesce(array_position(f.conkey, (SELECT attnum FROM pg_attribute
                                               WHERE attrelid = c.oid AND attname = 'project_id')), 0)
            = coalesce(array_position(f.confkey, (SELECT attnum FROM pg_attribute
                                                  WHERE attrelid = t.oid AND attname = 'project_id')), -1)
      )
"""
NO_REPLICA_IDENTITY = """
    SELECT c.relname FROM pg_class c WHERE c.relname = ANY(%(tables)s)
      AND NOT EXISTS (SELECT 1 FROM pg_index x WHERE x.indrelid = c.oid AND (x.indisprimary OR x.indisreplident))
"""


def catalog(query: str) -> list:
    tables = {
        kind: [model._meta.db_table for model, k in citus.classify(citus.all_models()).items() if k == kind]
        for kind in (citus.DISTRIBUTED, citus.REFERENCE_TABLE)
    }
    with connection.cursor() as cursor:
        cursor.execute(query, {"tables": tables[citus.DISTRIBUTED], "references": tables[citus.REFERENCE_TABLE]})
        return cursor.fetchall()


def test_the_schema_changes_run_and_leave_only_keys_citus_accepts(db):
    # Before: the primary keys on id alone and the one-column keys between tenant tables.
    assert ("memories_memory", "memories_memory_pkey") in catalog(UNIQUE_WITHOUT_PROJECT)
    before = {name for (name,) in catalog(BAD_FOREIGN_KEYS)}
    assert any(name.startswith("graph_relationship_source_id") for name in before), before
    statements = citus.schema_changes(connection)
    with transaction.atomic(), connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)
        assert catalog(UNIQUE_WITHOUT_PROJECT) == []
        assert catalog(BAD_FOREIGN_KEYS) == []
        assert catalog(NO_REPLICA_IDENTITY) == []
        # The co-located keys are still there and still bite.
        names = {name for (name,) in catalog("SELECT conname FROM pg_constraint WHERE contype = 'f'")}
        assert {"graph_relationship_source_in_project", "accounts_webhookdelivery_webhook_in_project"} <= names
        transaction.set_rollback(True)


def test_docs_scaling_shows_the_plan(db):
    text = SCALING.read_text()
    blocks = re.findall(r"```sql\n(.*?)```", text, re.S)
    plan = citus.plan_sql(connection).strip()
    assert plan in [block.strip() for block in blocks], (
        f"docs/SCALING.md's plan is out of date; the models give:\n{plan}"
    )


def test_an_edge_or_delivery_across_projects_is_refused(project, other_project):
    mine = Memory.objects.create(project=project, memory="I like tea", hash="x", user_id="alice")
    theirs = Memory.objects.create(project=other_project, memory="I like coffee", hash="y", user_id="alice")
    edge = Relationship(project=project, source=mine, target=theirs, relation="related_to")
    with pytest.raises(ValidationError, match="project, target must name a row of memories.Memory"):
        edge.full_clean()
    with pytest.raises(IntegrityError, match="graph_relationship_target_in_project"), transaction.atomic():
        edge.save()
        connection.cursor().execute("SET CONSTRAINTS ALL IMMEDIATE")
    hook = Webhook.objects.create(project=other_project, name="h", url="https://example.com/h")
    delivery = WebhookDelivery(project=project, webhook=hook, history_id=uuid.uuid4(), event_type="memory_add")
    with pytest.raises(IntegrityError, match="accounts_webhookdelivery_webhook_in_project"), transaction.atomic():
        delivery.save()
        connection.cursor().execute("SET CONSTRAINTS ALL IMMEDIATE")
    also_mine = Memory.objects.create(project=project, memory="I like scones", hash="z", user_id="alice")
    Relationship(project=project, source=mine, target=also_mine, relation="related_to").full_clean()


@pytest.mark.django_db(transaction=True)
def test_the_migration_gives_existing_deliveries_their_webhooks_project(project):
    executor = MigrationExecutor(connection)
    # Back to accounts 0009 (which also unapplies every later migration that depends on it, in any
    # app), and forward again to every app's latest: later tests need the whole schema.
    before, after = [("accounts", "0009_rate_counters")], executor.loader.graph.leaf_nodes()
    executor.migrate(before)
    try:
        old = MigrationExecutor(connection).loader.project_state(before[0]).apps
        hook = old.get_model("accounts", "Webhook").objects.create(project_id=project.pk, name="h", url="https://e.x")
        old.get_model("accounts", "WebhookDelivery").objects.create(
            webhook_id=hook.pk, history_id=uuid.uuid4(), event_type="memory_add"
        )
    finally:
        MigrationExecutor(connection).migrate(after)
    assert list(WebhookDelivery.objects.values_list("project_id", flat=True)) == [project.pk]
