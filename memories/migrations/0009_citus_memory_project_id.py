"""(project, id) unique on memories: what co-located foreign keys point at (docs/SCALING.md)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("memories", "0008_memory_memory_type"),
    ]

    operations = [
        migrations.AddConstraint(
            model_name="memory",
            constraint=models.UniqueConstraint(fields=("project", "id"), name="memories_memory_project_id"),
        ),
    ]
