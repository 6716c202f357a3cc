from django.db import migrations, models

# The extractors whose changes are inferred (memories.review.INFERRED_EXCLUDED are not).
NOT_INFERRED = ("verbatim", "procedural", "attachment")


def unreviewed_pending(apps, schema_editor):
    """Inferred changes recorded before the review queue existed wait for review like new ones."""
    DecisionTrace = apps.get_model("memories", "DecisionTrace")
    DecisionTrace.objects.filter(decision__in=("ADD", "UPDATE", "SUPERSEDE"), memory__isnull=False).exclude(
        extractor__in=NOT_INFERRED
    ).update(review_state="pending")


class Migration(migrations.Migration):
    dependencies = [
        ("memories", "0011_citus_sources_and_traces"),
    ]

    operations = [
        migrations.AddField(
            model_name="decisiontrace",
            name="review_state",
            field=models.CharField(
                choices=[("none", "None"), ("pending", "Pending"), ("accepted", "Accepted"), ("rejected", "Rejected")],
                default="none",
                max_length=10,
            ),
        ),
        migrations.AddField(
            model_name="decisiontrace",
            name="reviewed_by",
            field=models.CharField(blank=True, max_length=255, null=True),
        ),
        migrations.AddField(
            model_name="decisiontrace",
            name="reviewed_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="decisiontrace",
            name="held",
            field=models.JSONField(blank=True, null=True),
        ),
        migrations.AddIndex(
            model_name="decisiontrace",
            index=models.Index(fields=["project", "review_state", "-created_at"], name="trace_project_review"),
        ),
        migrations.RunPython(unreviewed_pending, migrations.RunPython.noop),
    ]
