from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("memories", "0006_memoryexport_user_and_cursor"),
    ]

    operations = [
        migrations.AddField(
            model_name="memory",
            name="memory_type",
            field=models.CharField(
                blank=True,
                choices=[("procedural_memory", "procedural_memory")],
                default=None,
                max_length=32,
                null=True,
            ),
        ),
    ]
