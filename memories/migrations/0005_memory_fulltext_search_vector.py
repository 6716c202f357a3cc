"""Full-text search over memories: a stored generated ``tsvector`` column and its GIN index.

The column is computed by PostgreSQL from the memory's text (weight A) and the name of whoever
said it (``actor_id``, weight B) with the ``english`` configuration, so every insert or update
keeps it current without any application code. It is not a model field: only
``memories.selectors.memory_search`` reads it, through SQL, and loading it with every memory would
be wasted work.
"""

from django.db import migrations

VECTOR_SQL = (
    "setweight(to_tsvector('english'::regconfig, memory), 'A')"
    " || setweight(to_tsvector('english'::regconfig, coalesce(actor_id, '')), 'B')"
)


class Migration(migrations.Migration):
    dependencies = [
        ("memories", "0004_history_supersede_event"),
    ]

    operations = [
        migrations.RunSQL(
            sql=[
                "ALTER TABLE memories_memory ADD COLUMN search_vector tsvector"
                f" GENERATED ALWAYS AS ({VECTOR_SQL}) STORED",
                # memories.selectors.memory_search: search_vector @@ <query terms>, within a scope.
                "CREATE INDEX memory_search_vector_gin ON memories_memory USING gin (search_vector)",
            ],
            reverse_sql=[
                "DROP INDEX IF EXISTS memory_search_vector_gin",
                "ALTER TABLE memories_memory DROP COLUMN IF EXISTS search_vector",
            ],
        ),
    ]
