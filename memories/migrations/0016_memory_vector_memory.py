"""A memory's canonical (``Memory.vector_memory``): a memory of the same project whose embedding
equals this one's and which holds the HNSW entry of that vector. Added empty here; 0017 fills it and
makes memory_embedding_hnsw partial. The project key to it sets it NULL when the canonical is deleted
(``ON DELETE SET NULL (vector_memory_id)``); the one-column key Django makes takes no action.
"""

import django.db.models.deletion
from django.db import migrations, models

import mem0g_site.constraints


class Migration(migrations.Migration):
    dependencies = [
        ("memories", "0015_source_embedding_hnsw_partial"),
    ]

    operations = [
        migrations.AddField(
            model_name="memory",
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
        migrations.AddConstraint(
            model_name="memory",
            constraint=mem0g_site.constraints.CompositeForeignKey(
                fields=["project", "vector_memory"],
                name="memories_memory_vector_memory_in_project",
                set_null_on_delete=["vector_memory"],
                to="memories.Memory",
                to_fields=["project", "id"],
            ),
        ),
    ]
