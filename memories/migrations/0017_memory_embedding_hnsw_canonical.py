"""One HNSW entry per distinct vector of a project's memories: each memory whose text and embedding
another, older memory of its project holds already names that memory (``Memory.vector_memory``, its
canonical) and leaves memory_embedding_hnsw, which becomes partial (``WHERE vector_memory_id IS
NULL``). The messages that shared a memory's vector (``MemorySource.vector_memory``) then name that
memory's canonical: the messages' walk goes through canonical memories only.

In order, so that the HNSW graph is built once, over the canonical rows only:

1. the old index is dropped (CONCURRENTLY): the backfill rewrites every repeated memory, and each
   new row version would otherwise be inserted into it (a graph insert each, for rows about to
   leave it). Until step 4 ends, a large scope's vector search has no HNSW index: it is still
   correct (PostgreSQL sorts the scope's rows), only slower;
2. within each project, the rows of one hash whose embedding equals that of the hash's oldest row
   name that row (rows of the hash with another vector, embedded by another model, stay canonical:
   correct, each keeps its entry);
3. the messages re-point to their memory's canonical;
4. the partial HNSW index and the B-tree indexes the add's look-up, the search's walk through the
   canonicals and the re-homing read are built CONCURRENTLY (the migration runs outside a
   transaction: the memories stay writable); the messages' index of their key becomes
   (vector_memory_id, user_id), partial, as the memories' (a canonical is named by many users'
   messages now, where a message named its own memory).

Running it again after a failure starts over from what is there: the backfill only links rows that
name nothing to rows that name nothing, and half-built indexes are dropped first. Backwards: every
memory names nothing again and the full index is rebuilt.
"""

import django.db.models.deletion
from django.db import migrations, models
from pgvector.django import HnswIndex

TABLE = "memories_memory"
NAME = "memory_embedding_hnsw"
HNSW = "USING hnsw (embedding vector_cosine_ops) WITH (m = 16, ef_construction = 64)"
BTREES = {
    "memory_canonical_hash": f"{TABLE} (project_id, hash) WHERE vector_memory_id IS NULL",
    "memory_vector_memory_user": f"{TABLE} (vector_memory_id, user_id) WHERE vector_memory_id IS NOT NULL",
    # Replaces the messages' one-column index of the key (a canonical is named by many users'
    # messages now, where a message named its own memory).
    "source_vector_memory_user": "memories_memorysource (vector_memory_id, user_id) WHERE vector_memory_id IS NOT NULL",
}
SOURCES = "memories_memorysource"

LINK_REPEATS = f"""
    WITH firsts AS (
        SELECT DISTINCT ON (project_id, hash) id, project_id, hash, embedding
        FROM {TABLE} WHERE vector_memory_id IS NULL AND embedding IS NOT NULL
        ORDER BY project_id, hash, created_at, id
    )
    UPDATE {TABLE} m SET vector_memory_id = firsts.id
    FROM firsts
    WHERE m.project_id = firsts.project_id AND m.hash = firsts.hash AND m.id <> firsts.id
      AND m.vector_memory_id IS NULL AND m.embedding = firsts.embedding
"""
MESSAGES_TO_CANONICALS = f"""
    UPDATE memories_memorysource s SET vector_memory_id = m.vector_memory_id
    FROM {TABLE} m WHERE m.id = s.vector_memory_id AND m.vector_memory_id IS NOT NULL
"""


def _indexes(schema_editor, hnsw_where: str) -> None:
    for name in (*BTREES, f"{NAME}_next"):
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
    # Built under another name, then renamed: a failed build leaves no half-built index under NAME.
    schema_editor.execute(f"CREATE INDEX CONCURRENTLY {NAME}_next ON {TABLE} {HNSW} {hnsw_where}")
    schema_editor.execute(f"ALTER INDEX {NAME}_next RENAME TO {NAME}")


def _source_key_index(schema_editor) -> str:
    """The name Django gives the messages' one-column index of ``vector_memory`` (0014's)."""
    return schema_editor._create_index_name(SOURCES, ["vector_memory_id"])


def link_repeats(apps, schema_editor):
    schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {NAME}")
    schema_editor.execute(LINK_REPEATS)
    schema_editor.execute(MESSAGES_TO_CANONICALS)
    _indexes(schema_editor, "WHERE vector_memory_id IS NULL")
    for name, definition in BTREES.items():
        schema_editor.execute(f"CREATE INDEX CONCURRENTLY {name} ON {definition}")
    schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {_source_key_index(schema_editor)}")


def unlink_all(apps, schema_editor):
    schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {NAME}")
    # The messages keep their (canonical) memory: its vector is theirs.
    schema_editor.execute(f"UPDATE {TABLE} SET vector_memory_id = NULL WHERE vector_memory_id IS NOT NULL")
    _indexes(schema_editor, "")
    name = _source_key_index(schema_editor)
    schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
    schema_editor.execute(f"CREATE INDEX CONCURRENTLY {name} ON {SOURCES} (vector_memory_id)")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("memories", "0016_memory_vector_memory"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(link_repeats, unlink_all)],
            state_operations=[
                migrations.RemoveIndex(model_name="memory", name=NAME),
                migrations.AddIndex(
                    model_name="memory",
                    index=HnswIndex(
                        condition=models.Q(vector_memory__isnull=True),
                        ef_construction=64,
                        fields=["embedding"],
                        m=16,
                        name=NAME,
                        opclasses=["vector_cosine_ops"],
                    ),
                ),
                migrations.AddIndex(
                    model_name="memory",
                    index=models.Index(
                        condition=models.Q(vector_memory__isnull=True),
                        fields=["project", "hash"],
                        name="memory_canonical_hash",
                    ),
                ),
                migrations.AddIndex(
                    model_name="memory",
                    index=models.Index(
                        condition=models.Q(vector_memory__isnull=False),
                        fields=["vector_memory", "user_id"],
                        name="memory_vector_memory_user",
                    ),
                ),
                migrations.AlterField(
                    model_name="memorysource",
                    name="vector_memory",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="memories.memory",
                    ),
                ),
                migrations.AddIndex(
                    model_name="memorysource",
                    index=models.Index(
                        condition=models.Q(vector_memory__isnull=False),
                        fields=["vector_memory", "user_id"],
                        name="source_vector_memory_user",
                    ),
                ),
            ],
        ),
    ]
