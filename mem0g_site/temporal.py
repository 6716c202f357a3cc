"""Time has one home: the bi-temporal fields and scopes shared by memories and relationships.

``valid_from``/``valid_to`` say when a fact held in the world (``valid_to`` NULL: it still holds);
``created_at``/``invalidated_at`` say when we recorded it and when we retracted the record.
A changed fact is closed, never overwritten. Only aware UTC datetimes are stored.
"""

from datetime import datetime

from django.db import models
from django.db.models import Q
from django.utils import timezone


def current_q(prefix: str = "") -> Q:
    """The one "is current" condition: the fact holds now (``valid_to`` unset) and its record stands
    (``invalidated_at`` unset). As a ``Q`` for aggregates, constraints and related rows (``prefix``:
    a lookup path such as ``"source__"``)."""
    return Q(**{f"{prefix}valid_to__isnull": True, f"{prefix}invalidated_at__isnull": True})


def closed_q(prefix: str = "") -> Q:
    """Not current: closed by a newer fact (``valid_to`` set) or retracted (``invalidated_at`` set)."""
    return Q(**{f"{prefix}valid_to__isnull": False}) | Q(**{f"{prefix}invalidated_at__isnull": False})


class TemporalQuerySet(models.QuerySet):
    def current(self):
        """Rows that hold now and have not been retracted."""
        return self.filter(current_q())

    def closed(self):
        """Rows no longer current: closed since (``valid_to``) or retracted (see :func:`closed_q`)."""
        return self.filter(closed_q())

    def retracted(self):
        return self.filter(invalidated_at__isnull=False)

    def held_at(self, moment: datetime):
        """Rows whose fact held at ``moment`` (valid time only; retractions not considered)."""
        return self.filter(Q(valid_from__lte=moment), Q(valid_to__isnull=True) | Q(valid_to__gt=moment))

    def known_at(self, moment: datetime):
        """Rows on record at ``moment`` (record time only): recorded by then and not yet retracted."""
        return self.filter(Q(created_at__lte=moment), Q(invalidated_at__isnull=True) | Q(invalidated_at__gt=moment))

    def not_retracted(self):
        return self.filter(invalidated_at__isnull=True)

    def begun_by(self, moment: datetime):
        """Rows whose fact had begun to hold, and that were on record, by ``moment`` (closed or
        retracted since or not)."""
        return self.filter(valid_from__lte=moment, created_at__lte=moment)

    def valid_at(self, moment: datetime):
        """Rows that held at ``moment`` as far as we knew at ``moment`` (both time axes)."""
        return self.held_at(moment).known_at(moment)

    def as_known(self, *, as_of: datetime | None = None, known_at: datetime | None = None):
        """Both axes, each optional: what held at valid time ``as_of`` according to the record as
        it stood at ``known_at``.

        Neither: :meth:`current`. ``as_of`` alone: what held then, as we know it now (retracted rows
        left out). ``known_at`` alone: the world as it stood then, as recorded then (``as_of`` is
        ``known_at``), so a row closed or retracted since still shows.
        """
        if as_of is None and known_at is None:
            return self.current()
        queryset = self.held_at(as_of if as_of is not None else known_at)
        return queryset.known_at(known_at) if known_at is not None else queryset.not_retracted()


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
