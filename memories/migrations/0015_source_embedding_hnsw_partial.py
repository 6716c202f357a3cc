"""source_embedding_hnsw holds only the messages that share no memory's vector (``vector_memory_id
IS NULL``): a verbatim add's messages are found through their memories' entries in
memory_embedding_hnsw (``memories.ranking.shared_vector_ranking``), so an add builds one HNSW entry
per message instead of two. No existing message has a vector memory: the new index holds what the
old one held.

The new index is built CONCURRENTLY beside the old one, which is then dropped and the new one given
its name, so an upgrade does not lock the messages against writes (the migration runs outside a
transaction) and search always has an index to walk. Running the migration again after a failure
drops a half-built index and starts over.
"""

from django.db import migrations, models
from pgvector.django import HnswIndex

TABLE = "memories_memorysource"
NAME = "source_embedding_hnsw"
BUILDING = "source_embedding_hnsw_next"
HNSW = "USING hnsw (embedding vector_cosine_ops) WITH (m = 16, ef_construction = 64)"


def _rebuild(schema_editor, where: str) -> None:
    for statement in (
        f"DROP INDEX CONCURRENTLY IF EXISTS {BUILDING}",
        f"CREATE INDEX CONCURRENTLY {BUILDING} ON {TABLE} {HNSW} {where}",
        f"DROP INDEX CONCURRENTLY IF EXISTS {NAME}",
        f"ALTER INDEX {BUILDING} RENAME TO {NAME}",
    ):
        schema_editor.execute(statement)


def index_unshared(apps, schema_editor):
    _rebuild(schema_editor, "WHERE vector_memory_id IS NULL")


def index_all(apps, schema_editor):
    _rebuild(schema_editor, "")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("memories", "0014_memorysource_vector_memory"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(index_unshared, index_all)],
            state_operations=[
                migrations.RemoveIndex(model_name="memorysource", name=NAME),
                migrations.AddIndex(
                    model_name="memorysource",
                    index=HnswIndex(
                        condition=models.Q(vector_memory__isnull=True),
                        ef_construction=64,
                        fields=["embedding"],
                        m=16,
                        name=NAME,
                        opclasses=["vector_cosine_ops"],
                    ),
                ),
            ],
        ),
    ]
