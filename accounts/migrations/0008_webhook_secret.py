"""Every webhook gets a signing secret of its own."""

from django.db import migrations, models

import accounts.models


def give_each_webhook_its_own_secret(apps, schema_editor):
    # Adding the column fills every existing row with the same default value: replace it per row.
    Webhook = apps.get_model("accounts", "Webhook")
    for webhook in Webhook.objects.only("pk"):
        Webhook.objects.filter(pk=webhook.pk).update(secret=accounts.models.webhook_secret_new())


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0007_apikey_kind"),
    ]

    operations = [
        migrations.AddField(
            model_name="webhook",
            name="secret",
            field=models.CharField(default=accounts.models.webhook_secret_new, editable=False, max_length=100),
        ),
        migrations.RunPython(give_each_webhook_its_own_secret, migrations.RunPython.noop),
    ]
