"""Querysets whose SQL Django builds once, for the hottest reads.

Building a queryset's SQL (``filter()``, then the compiler's ``as_sql``: every column of a wide
model, the joins, the ordering) costs Django more CPU than PostgreSQL spends running a primary-key
lookup: about 1.3 ms of the 3.4 ms a ``GET /v1/memories/{id}/`` took. A :class:`PreparedQuery`
builds its queryset once per database connection and *shape* (which optional filters are present),
with stand-in values, keeps the compiled SQL and the compiler (for its column converters), and
afterwards only puts the call's values in the places the stand-ins took. The rows become model
instances exactly as the queryset's own iteration makes them (``Model.from_db``, deferred fields
and all).

Only plain querysets qualify: no ``select_related``, annotations or extra selects, and every stand-in
must land in the parameters exactly once. Anything else, and any value the stand-ins cannot stand for,
runs the queryset as Django builds it, so a prepared query is never wrong, at worst not faster.

``build`` must depend on nothing but its arguments: a value it reads from elsewhere (the clock, a
setting, the current user) would be kept from the first call, for every later one.
"""

import uuid
import weakref
from collections.abc import Callable
from typing import Any

from django.db import connections, router
from django.db.models import Model, QuerySet
from django.db.models.query import ModelIterable

_UNPREPARED = object()


def _stand_in(value: Any) -> Any:
    """A value of ``value``'s type that nothing else in a query holds, or None."""
    if isinstance(value, uuid.UUID):
        return uuid.uuid4()
    if type(value) is str:
        return f"stand-in:{uuid.uuid4()}"
    return None


class PreparedQuery:
    """``build(**values)`` returns the queryset for ``values``; ``query(**values)`` returns its rows
    as a list of model instances, building its SQL once per connection and shape. The shape is the
    names (and types) of the values that are not None (``build`` may leave a filter out for a None)."""

    def __init__(self, model: type[Model], build: Callable[..., QuerySet]) -> None:
        self.model = model
        self.build = build
        # By connection (each thread, or async context, has its own): {shape: prepared}.
        self.kept: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def __call__(self, **values: Any) -> list[Model]:
        alias = router.db_for_read(self.model)
        connection = connections[alias]
        shape = tuple(sorted((name, type(value)) for name, value in values.items() if value is not None))
        kept = self.kept.get(connection)
        if kept is None:
            kept = self.kept[connection] = {}
        prepared = kept.get(shape)
        if prepared is None:
            prepared = kept[shape] = self._prepare(alias, {name: values[name] for name, _ in shape}, values)
        if prepared is _UNPREPARED:
            return list(self.build(**values))
        sql, params, slots, compiler, converters, init_list = prepared
        width = len(init_list)
        params = list(params)
        for index, name in slots:
            params[index] = values[name]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        if converters:  # what ``compiler.results_iter`` does, its converters looked up once
            rows = compiler.apply_converters(rows, converters)
        return [self.model.from_db(alias, init_list, row[:width]) for row in rows]

    def _prepare(self, alias: str, given: dict[str, Any], values: dict[str, Any]):
        stand_ins = {name: _stand_in(value) for name, value in given.items()}
        if any(stand_in is None for stand_in in stand_ins.values()):
            return _UNPREPARED
        queryset = self.build(**{**values, **stand_ins})
        if queryset.db != alias or queryset._prefetch_related_lookups or queryset._iterable_class is not ModelIterable:
            return _UNPREPARED
        compiler = queryset.query.get_compiler(using=alias)
        sql, params = compiler.as_sql()
        info = compiler.klass_info
        if (
            info is None
            or info["model"] is not self.model
            or info.get("related_klass_infos")
            or compiler.annotation_col_map
            or info["select_fields"] != list(range(len(info["select_fields"])))
            or len(info["select_fields"]) != compiler.col_count
        ):
            return _UNPREPARED
        slots = []
        for name, stand_in in stand_ins.items():
            places = [index for index, param in enumerate(params) if param == stand_in]
            if len(places) != 1 or str(stand_in) in sql:
                return _UNPREPARED
            slots.append((places[0], name))
        fields = [column[0] for column in compiler.select[: compiler.col_count]]
        if compiler.has_composite_fields(fields):
            return _UNPREPARED
        init_list = [field.target.attname for field in fields]
        return sql, tuple(params), tuple(slots), compiler, compiler.get_converters(fields), init_list
