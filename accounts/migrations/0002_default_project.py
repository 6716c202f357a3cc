from django.db import migrations


def create_default_project(apps, schema_editor):
    Organization = apps.get_model("accounts", "Organization")
    Project = apps.get_model("accounts", "Project")
    organization, _ = Organization.objects.get_or_create(slug="default", defaults={"name": "Default organization"})
    Project.objects.get_or_create(organization=organization, slug="default", defaults={"name": "Default project"})


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]

    operations = [migrations.RunPython(create_default_project, migrations.RunPython.noop)]
