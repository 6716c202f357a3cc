"""(project, id) unique on memories: what co-located foreign keys point at (docs/SCALING.md)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("memories", "0006_memoryexport_user_and_cursor"),
    ]

    operations = [
        migrations.AddConstraint(
            model_name="memory",
            constraint=models.UniqueConstraint(fields=("project", "id"), name="memories_memory_project_id"),
        ),
    ]
