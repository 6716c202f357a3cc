from django.db import migrations, models


class Migration(migrations.Migration):
    """Keys made before organisation keys existed become project keys: they keep working on their
    own project and lose the reach into sibling projects that the admin scope used to give."""

    dependencies = [
        ("accounts", "0006_webhook_deliveries"),
    ]

    operations = [
        migrations.AddField(
            model_name="apikey",
            name="kind",
            field=models.CharField(
                choices=[("project", "Project"), ("organization", "Organization")], default="project", max_length=12
            ),
        ),
    ]
