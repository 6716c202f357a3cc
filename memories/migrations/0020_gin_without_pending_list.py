"""The GIN indexes of memories and of the messages they came from take each new row's entries into
their trees at once (``fastupdate = off``) instead of into a pending list.

With the pending list (PostgreSQL's default, up to ``gin_pending_list_limit``, 4 MB), every lookup
in the index also reads the whole list: at a million memories, after the bench's load, about 320
pages for each word a large scope's keyword side looked up, 1.2 ms a word when they are cached
(docs/BENCHMARKS.md, session 23). Autovacuum empties the list only when enough of the table has
changed to start it (a tenth to a fifth, by default), so a server that keeps adding carries a list
half full on average (and the add that fills it merges it into the tree, in one go, while its
client waits). Without the list each add writes its entries into the trees itself: at a million
memories, inserting rows one by one cost the same within the noise (1.48 ms a row against 1.55
over 12,000 rows; 0.1-0.2 ms more in shorter runs).

The entries already pending are moved into the trees (``gin_clean_pending_list``). Backwards: the
default comes back.
"""

from django.contrib.postgres.indexes import GinIndex
from django.db import migrations

INDEXES = [
    "memory_metadata_gin",
    "memory_search_vector_gin",
    "memory_scope_terms_gin",
    "source_search_vector_gin",
    "memory_source_scope_terms_gin",
]


class Migration(migrations.Migration):
    dependencies = [
        ("memories", "0019_fewer_indexes"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    sql=[f'ALTER INDEX IF EXISTS "{name}" SET (fastupdate = off)' for name in INDEXES]
                    + [f"SELECT gin_clean_pending_list(to_regclass('{name}'))" for name in INDEXES],
                    reverse_sql=[f'ALTER INDEX IF EXISTS "{name}" RESET (fastupdate)' for name in INDEXES],
                ),
            ],
            # The one GIN index the models declare (the others are made by migrations 0005, 0010, 0013).
            state_operations=[
                migrations.RemoveIndex(model_name="memory", name="memory_metadata_gin"),
                migrations.AddIndex(
                    model_name="memory",
                    index=GinIndex(
                        fastupdate=False, fields=["metadata"], name="memory_metadata_gin", opclasses=["jsonb_path_ops"]
                    ),
                ),
            ],
        ),
    ]
