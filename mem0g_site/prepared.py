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

import secrets
import uuid
import weakref
from collections.abc import Callable, Hashable
from datetime import datetime, timedelta
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


def _statement_stand_in(value: Any) -> Any:
    """:func:`_stand_in`, and for a :class:`PreparedStatement` also an int, a float or an aware
    datetime no query would hold (a statement checks that none of them lands in its SQL text)."""
    if type(value) is int:
        return 10**15 + secrets.randbelow(10**15)
    if type(value) is float:
        return 1.0 + secrets.randbelow(10**15) / 10**16
    if type(value) is datetime and value.tzinfo is not None:
        return datetime(2999, 1, 1, tzinfo=value.tzinfo) + timedelta(microseconds=secrets.randbelow(10**12))
    return _stand_in(value)


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


class PreparedStatement:
    """A raw statement whose SQL is built once per *shape*: ``build(context, **values)`` returns
    ``(sql, params)``, and ``statement(shape, context, **values)`` the same for these values.

    ``shape`` is everything the SQL text depends on besides ``values`` (which filters, which
    flags, the LIMITs Django writes into the text); ``context`` is handed to ``build`` as it is, and
    must not tell two calls of one shape apart in anything but ``values`` (a filter whose structure
    the shape names and whose values are among ``values``, say). The first call of a shape builds the statement
    with stand-ins for the values (None stays None: it usually changes the SQL), finds each
    stand-in's places among the parameters, and keeps the SQL; later calls only put their values in
    those places. A shape is never prepared when a stand-in is missing from the parameters, is
    written into the SQL text, or is found inside another parameter (a value the build transformed,
    like a ``LIKE`` pattern), or when two builds with different stand-ins differ elsewhere than in
    the stand-ins' places (a parameter computed from a value): such calls build their statement
    every time. ``build`` must depend on nothing but its arguments (see the module's docstring) and
    put each value into the parameters unchanged (a clamp such as ``min(value, 100)`` would be kept
    from the stand-in: clamp before the call)."""

    def __init__(self, build: Callable[..., tuple[str, Any]]) -> None:
        self.build = build
        self.kept: dict[Hashable, Any] = {}
        self.builds = 0  # statements built with stand-ins (tests read it)

    def statement(self, shape: Hashable, context: Any, **values: Any) -> tuple[str, list]:
        key = (shape, tuple(sorted((name, type(value)) for name, value in values.items())))
        prepared = self.kept.get(key)
        if prepared is None:
            prepared = self.kept[key] = self._prepare(context, values)
        if prepared is _UNPREPARED:
            sql, params = self.build(context, **values)
            return sql, list(params)
        sql, params, slots = prepared
        params = list(params)
        for index, name in slots:
            params[index] = values[name]
        return sql, params

    def _prepare(self, context: Any, values: dict[str, Any]):
        if len(self.kept) > self.SHAPES_MAX:
            self.kept.clear()  # a client inventing filter shapes must not grow it without bound
        # Built twice, with two sets of stand-ins: a parameter the build derived from a value (which
        # would be kept from the stand-in) differs between the two and the shape is not prepared.
        built = [self._with_stand_ins(context, values) for _ in range(2)]
        if any(one is _UNPREPARED for one in built) or built[0][0] != built[1][0] or built[0][2] != built[1][2]:
            return _UNPREPARED
        (sql, params, slots), (_, other, _) = built
        placed = {index for index, _ in slots}
        if any(params[i] != other[i] for i in range(len(params)) if i not in placed):
            return _UNPREPARED
        return sql, params, slots

    SHAPES_MAX = 512

    def _with_stand_ins(self, context: Any, values: dict[str, Any]):
        stand_ins = {name: _statement_stand_in(value) for name, value in values.items() if value is not None}
        if any(stand_in is None for stand_in in stand_ins.values()):
            return _UNPREPARED
        self.builds += 1
        sql, params = self.build(context, **{**values, **stand_ins})
        params = list(params)
        slots, placed = [], set()
        for name, stand_in in stand_ins.items():
            places = [i for i, param in enumerate(params) if type(param) is type(stand_in) and param == stand_in]
            if not places or str(stand_in) in sql:
                return _UNPREPARED
            slots.extend((index, name) for index in places)
            placed.update(places)
        texts = [str(stand_in) for stand_in in stand_ins.values()]
        for index, param in enumerate(params):
            if index not in placed and any(text in str(param) for text in texts):
                return _UNPREPARED
        return sql, tuple(params), tuple(sorted(slots))
