"""The list filters of the memory admin: state, the busiest users and agents, categories."""

from django.contrib import admin
from django.db import connection
from django.db.models import Count
from django.utils import timezone

from memories.models import Memory


class StateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("current", "Current"), ("superseded", "Superseded"), ("expired", "Expired")]

    def queryset(self, request, queryset):
        # The same three states as Memory.state: superseded (closed or retracted) wins over expired.
        now = timezone.now()
        if self.value() == "current":
            return queryset.current().unexpired(now)
        if self.value() == "superseded":
            return queryset.closed()
        if self.value() == "expired":
            return queryset.current().expired(now)
        return queryset


class TopValuesFilter(admin.SimpleListFilter):
    """The most used values of a scope field (one grouped query); any other value: search ``=value``."""

    field = ""
    shown = 20

    def lookups(self, request, model_admin):
        rows = (
            Memory.objects.filter(**{f"{self.field}__isnull": False})
            .values_list(self.field)
            .annotate(n=Count("id"))
            .order_by("-n", self.field)[: self.shown]
        )
        return [(value, f"{value} ({n})") for value, n in rows]

    def queryset(self, request, queryset):
        return queryset.filter(**{self.field: self.value()}) if self.value() else queryset


class UserFilter(TopValuesFilter):
    title = "user"
    parameter_name = "user_id"
    field = "user_id"


class AgentFilter(TopValuesFilter):
    title = "agent"
    parameter_name = "agent_id"
    field = "agent_id"


class CategoryFilter(admin.SimpleListFilter):
    title = "category"
    parameter_name = "category"

    def lookups(self, request, model_admin):
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT category, count(*) FROM memories_memory, unnest(categories) AS category"
                " GROUP BY category ORDER BY count(*) DESC, category LIMIT 30"
            )
            return [(category, f"{category} ({n})") for category, n in cursor.fetchall()]

    def queryset(self, request, queryset):
        return queryset.filter(categories__contains=[self.value()]) if self.value() else queryset
