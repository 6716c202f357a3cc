"""Time has one home: the bi-temporal fields and scopes shared by memories and relationships.

``valid_from``/``valid_to`` say when a fact held in the world (``valid_to`` NULL: it still holds);
``created_at``/``invalidated_at`` say when we recorded it and when we retracted the record.
A changed fact is closed, never overwritten. Only aware UTC datetimes are stored.
"""

from datetime import datetime

from django.db import models
from django.db.models import Q
from django.utils import timezone


class TemporalQuerySet(models.QuerySet):
    def current(self):
        """Rows that hold now and have not been retracted."""
        return self.filter(valid_to__isnull=True, invalidated_at__isnull=True)

    def valid_at(self, moment: datetime):
        """Rows that held at ``moment`` as far as we knew at ``moment`` (both time axes)."""
        return self.filter(
            Q(valid_from__lte=moment),
            Q(valid_to__isnull=True) | Q(valid_to__gt=moment),
            Q(created_at__lte=moment),
            Q(invalidated_at__isnull=True) | Q(invalidated_at__gt=moment),
        )


class TemporalModel(models.Model):
    valid_from = models.DateTimeField(default=timezone.now)
    valid_to = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    invalidated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
        constraints = [
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gt=models.F("valid_from")),
                name="%(app_label)s_%(class)s_valid_from_before_valid_to",
            ),
        ]

    @property
    def is_current(self) -> bool:
        return self.valid_to is None and self.invalidated_at is None
