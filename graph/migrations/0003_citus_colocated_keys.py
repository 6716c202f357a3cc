"""Edges and entity relations point at memories through (project, memory): both ends in the row's
project, and keys Citus accepts between tables distributed by project_id (docs/SCALING.md)."""

from django.db import migrations, models

import mem0g_site.constraints


class Migration(migrations.Migration):
    dependencies = [
        ("graph", "0002_entity_relations"),
        ("memories", "0009_citus_memory_project_id"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="relationship",
            name="graph_relationship_one_open_edge",
        ),
        migrations.AddConstraint(
            model_name="relationship",
            constraint=models.UniqueConstraint(
                condition=models.Q(("invalidated_at__isnull", True), ("valid_to__isnull", True)),
                fields=("project", "source", "target", "relation"),
                name="graph_relationship_one_open_edge",
            ),
        ),
        migrations.AddConstraint(
            model_name="relationship",
            constraint=mem0g_site.constraints.CompositeForeignKey(
                fields=["project", "source"],
                name="graph_relationship_source_in_project",
                to="memories.Memory",
                to_fields=["project", "id"],
            ),
        ),
        migrations.AddConstraint(
            model_name="relationship",
            constraint=mem0g_site.constraints.CompositeForeignKey(
                fields=["project", "target"],
                name="graph_relationship_target_in_project",
                to="memories.Memory",
                to_fields=["project", "id"],
            ),
        ),
        migrations.AddConstraint(
            model_name="entityrelation",
            constraint=mem0g_site.constraints.CompositeForeignKey(
                fields=["project", "memory"],
                name="graph_entityrelation_memory_in_project",
                to="memories.Memory",
                to_fields=["project", "id"],
            ),
        ),
    ]
