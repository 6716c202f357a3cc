"""A full-text index keyed by scope, on memories and on the messages they came from: the keyword
side of search finds one user's (agent's, app's, run's) rows holding a word without reading every
user's.

``memory_scope_terms`` turns a memory's ``search_vector`` into one term per (scope id, lexeme): the
first 16 hex digits of md5(kind, project, id, lexeme), for each of user, agent, app and run that the
row has. The GIN index over it holds, under one key, exactly the rows of one scope with one word, so
``memories.ranking.keyword_scored_sql`` reads a few hundred entries where the plain
``memory_search_vector_gin`` reads the word's rows across all users and ANDs them with the user's
whole B-tree range (docs/BENCHMARKS.md, "Session 7"). The search still checks ``search_vector`` on
each row it finds, so a hash collision can never bring in a row without the word.

The function is IMMUTABLE (md5, array and tsvector functions only): changing it means rebuilding the
index. The indexes are built CONCURRENTLY, so an upgrade does not lock the tables against writes (the
migration runs outside a transaction). A build that failed half-way leaves an invalid index behind;
running the migration again drops it and builds it anew.
"""

from django.db import migrations

FUNCTION = r"""
CREATE OR REPLACE FUNCTION memory_scope_terms(
    project uuid, user_id text, agent_id text, app_id text, run_id text, terms tsvector
) RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT array_to_tsvector(array(
        SELECT left(md5(scope.kind || project::text || chr(31) || scope.id || chr(31) || term.lexeme), 16)
        FROM unnest(tsvector_to_array(terms)) AS term(lexeme)
        CROSS JOIN (VALUES ('u', user_id), ('a', agent_id), ('p', app_id), ('r', run_id)) AS scope(kind, id)
        WHERE scope.id IS NOT NULL
    ))
$$
"""


INDEXES = {
    "memory_scope_terms_gin": "memories_memory",
    # The same for the messages memories came from (memories.search.source_search).
    "memory_source_scope_terms_gin": "memories_memorysource",
}
TERMS = "memory_scope_terms(project_id, user_id, agent_id, app_id, run_id, search_vector)"


def build_indexes(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        for name, table in INDEXES.items():
            cursor.execute(
                "SELECT NOT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = %s",
                [name],
            )
            row = cursor.fetchone()
            if row and row[0]:
                cursor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
            cursor.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {table} USING gin ({TERMS})")


def drop_indexes(apps, schema_editor):
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("memories", "0012_trace_review"),
    ]

    operations = [
        migrations.RunSQL(
            FUNCTION, "DROP FUNCTION IF EXISTS memory_scope_terms(uuid, text, text, text, text, tsvector)"
        ),
        migrations.RunPython(build_indexes, drop_indexes),
    ]
