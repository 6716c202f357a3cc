"""Eight single-column foreign-key indexes that other indexes cover: each table's ``project_id``
(its (project_id, id) key and its scope or time indexes lead with it), MemorySourceLink's
``source_id`` (source_link_source, the same column) and DecisionTrace's ``add_event_id``
(trace_event_position leads with it). Every add wrote an entry into each of them for nothing.

Only the indexes go (``DROP INDEX``): Django's own way to drop a foreign key's index also drops and
re-adds its constraint, which checks every row again. Backwards: the indexes come back.
"""

import django.db.models.deletion
from django.db import migrations, models


INDEXES = [
    ("memories_addevent", "project_id", "memories_addevent_project_id_72a059c5"),
    ("memories_decisiontrace", "add_event_id", "memories_decisiontrace_add_event_id_742cb8bb"),
    ("memories_decisiontrace", "project_id", "memories_decisiontrace_project_id_977f1035"),
    ("memories_memory", "project_id", "memories_memory_project_id_955150b1"),
    ("memories_memoryhistory", "project_id", "memories_memoryhistory_project_id_f464b447"),
    ("memories_memorysource", "project_id", "memories_memorysource_project_id_82e7537a"),
    ("memories_memorysourcelink", "project_id", "memories_memorysourcelink_project_id_993840de"),
    ("memories_memorysourcelink", "source_id", "memories_memorysourcelink_source_id_13b11aa6"),
]


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0010_citus_webhook_delivery_project'),
        ('memories', '0018_embedding_field'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    sql=[f'DROP INDEX IF EXISTS "{name}"' for _, _, name in INDEXES],
                    reverse_sql=[f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" ("{column}")' for table, column, name in INDEXES],
                ),
            ],
            state_operations=[
                migrations.AlterField(
                    model_name='addevent',
                    name='project',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='add_events', to='accounts.project'),
                ),
                migrations.AlterField(
                    model_name='decisiontrace',
                    name='add_event',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='traces', to='memories.addevent'),
                ),
                migrations.AlterField(
                    model_name='decisiontrace',
                    name='project',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='decision_traces', to='accounts.project'),
                ),
                migrations.AlterField(
                    model_name='memory',
                    name='project',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='memories', to='accounts.project'),
                ),
                migrations.AlterField(
                    model_name='memoryhistory',
                    name='project',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='memory_history', to='accounts.project'),
                ),
                migrations.AlterField(
                    model_name='memorysource',
                    name='project',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='memory_sources', to='accounts.project'),
                ),
                migrations.AlterField(
                    model_name='memorysourcelink',
                    name='project',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='accounts.project'),
                ),
                migrations.AlterField(
                    model_name='memorysourcelink',
                    name='source',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='links', to='memories.memorysource'),
                ),
            ],
        ),
    ]
