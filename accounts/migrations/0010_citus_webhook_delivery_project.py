"""Deliveries carry their webhook's project, so that every unique and foreign key of a tenant table
includes project_id (docs/SCALING.md: what Citus needs)."""

import django.db.models.deletion
from django.db import migrations, models

import mem0g_site.constraints


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0009_rate_counters"),
    ]

    operations = [
        migrations.AddField(
            model_name="webhookdelivery",
            name="project",
            field=models.ForeignKey(
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="webhook_deliveries",
                to="accounts.project",
            ),
        ),
        migrations.RunSQL(
            "UPDATE accounts_webhookdelivery AS d SET project_id = w.project_id"
            " FROM accounts_webhook AS w WHERE w.id = d.webhook_id",
            migrations.RunSQL.noop,
        ),
        migrations.AlterField(
            model_name="webhookdelivery",
            name="project",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="webhook_deliveries",
                to="accounts.project",
            ),
        ),
        migrations.RemoveConstraint(
            model_name="webhookdelivery",
            name="accounts_webhookdelivery_once",
        ),
        migrations.AddConstraint(
            model_name="webhookdelivery",
            constraint=models.UniqueConstraint(
                fields=("project", "webhook", "history_id"), name="accounts_webhookdelivery_once"
            ),
        ),
        migrations.AddConstraint(
            model_name="webhook",
            constraint=models.UniqueConstraint(fields=("project", "id"), name="accounts_webhook_project_id"),
        ),
        migrations.AddConstraint(
            model_name="webhookdelivery",
            constraint=mem0g_site.constraints.CompositeForeignKey(
                fields=["project", "webhook"],
                name="accounts_webhookdelivery_webhook_in_project",
                to="accounts.Webhook",
                to_fields=["project", "id"],
            ),
        ),
    ]
