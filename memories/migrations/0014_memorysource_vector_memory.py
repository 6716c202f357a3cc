"""A message's vector memory (``MemorySource.vector_memory``): the memory whose embedding equals the
message's, set by verbatim adds. Existing messages have none (NULL), so they keep their own entry in
source_embedding_hnsw; nothing is backfilled. The project key to it sets it NULL when the memory is
deleted (``ON DELETE SET NULL (vector_memory_id)``); the one-column key Django makes takes no action.
"""

import django.db.models.deletion
from django.db import migrations, models

import mem0g_site.constraints


class Migration(migrations.Migration):
    dependencies = [
        ("memories", "0013_memory_scope_terms"),
    ]

    operations = [
        migrations.AddField(
            model_name="memorysource",
            name="vector_memory",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="memories.memory",
            ),
        ),
        migrations.AddConstraint(
            model_name="memorysource",
            constraint=mem0g_site.constraints.CompositeForeignKey(
                fields=["project", "vector_memory"],
                name="memories_source_vector_memory_in_project",
                set_null_on_delete=["vector_memory"],
                to="memories.Memory",
                to_fields=["project", "id"],
            ),
        ),
    ]
