"""Many new rows of one model in one short INSERT: each column's values travel as one array and
``unnest`` turns the arrays back into rows::

    INSERT INTO t (a, b, c) SELECT u.a, u.b, <c from u> FROM unnest(%s::uuid[], %s::text[], ...) AS u(a, b, ...)

Django's ``bulk_create`` writes ``VALUES (%s, %s, ...), (...)``: one placeholder per value, so a
20-row memory INSERT is a 6 KB statement with 500 parameters. Each part of the way pays for every
placeholder: Django's compiler prepares each value, psycopg rewrites the statement for the server
(it caches that only for statements under 4 KB and 50 parameters), and PostgreSQL parses and binds
each one. Here the statement has one parameter a column whatever the row count (but a vector
column, which takes one a row: see ``insert_rows``), and the same text for every call of as many
rows.

A few rows (fewer than ``UNNEST_MIN_ROWS``: a one-message add) go as ``VALUES`` rows instead, which
PostgreSQL plans for less.

A column may also be computed per row from the others (``computed``: SQL over ``u."column"``,
and over ``extra`` columns that are unnested beside them but not inserted): a memory's canonical,
found by the INSERT itself, reads the row's own project, hash and vector. The rows are inserted by
one statement, as ``bulk_create``'s are: a subquery of one row does not see the others.

Like ``bulk_create``: no signals, no ``save()``; the model's fields' own ``pre_save`` and
``get_db_prep_save`` give the values; the objects are marked saved. The INSERT returns nothing, so
inside ``mem0g_site.deferred.deferred_inserts`` it is queued like any other.
"""

import re
from collections.abc import Mapping, Sequence
from typing import Any

from django.contrib.postgres.fields import ArrayField
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models.fields import AutoFieldMixin
from pgvector.django import VectorField
from psycopg.types.json import Jsonb

# Fewer rows than this go as ``VALUES`` rows (one placeholder a value, the computed columns' SQL
# given the row's values): PostgreSQL plans them for less than the ``SELECT`` over ``unnest``. One
# row: parse and bind 0.9 ms a single-message add as ``VALUES``, 1.8 ms over ``unnest``; 20 rows:
# 6.2 ms as ``VALUES``, 3.4 ms over ``unnest`` (docs/BENCHMARKS.md, session 20).
UNNEST_MIN_ROWS = 4

# A computed column's reference to a column of its row.
_REFERENCE = re.compile(r'u\."(\w+)"')


def insert_rows(
    model,
    objs: Sequence[Any],
    *,
    computed: Mapping[str, str] | None = None,
    extra: Mapping[str, tuple[str, Sequence[Any]]] | None = None,
    ignore_conflicts: bool = False,
    using: str = DEFAULT_DB_ALIAS,
) -> None:
    """INSERT ``objs`` (instances of ``model``) in one statement (see the module's docstring).
    ``computed``: column -> SQL of its value from the row's other columns (``u."name"``); ``extra``:
    name -> (database type, one value per object), more columns for ``computed`` to read, not
    inserted; ``ignore_conflicts``: ``ON CONFLICT DO NOTHING``."""
    if not objs:
        return
    computed = computed or {}
    connection = connections[using]
    quote = connection.ops.quote_name
    opts = model._meta
    # A key the database makes (an identity column) is left to it, as bulk_create leaves it: the new
    # rows' keys are then not known here (nothing is read back).
    keyless = {obj.pk is None for obj in objs} if isinstance(opts.pk, AutoFieldMixin) else {False}
    if len(keyless) > 1:
        raise ValueError(f"{model.__name__}: some rows have primary keys and some do not")
    database_key = keyless == {True}
    inserted = [f for f in opts.concrete_fields if not f.generated and not (database_key and f is opts.pk)]
    unknown = set(computed) - {f.column for f in inserted}
    if unknown:
        raise ValueError(f"{model.__name__} has no columns {sorted(unknown)}")
    # name -> (field or None for an extra column, database type, one value a row)
    given: dict[str, tuple[Any, str, list]] = {}
    for field in inserted:
        if field.column not in computed:
            values = [field.get_db_prep_save(field.pre_save(obj, True), connection) for obj in objs]
            given[field.column] = (field, field.db_type(connection), values)
    for name, (db_type, values) in (extra or {}).items():
        if len(values) != len(objs):
            raise ValueError(f"extra column {name}: {len(values)} values for {len(objs)} rows")
        given[name] = (None, db_type, list(values))
    build = _over_unnest if len(objs) >= UNNEST_MIN_ROWS else _as_values
    select, params = build(len(objs), [f.column for f in inserted], computed, given, quote)
    sql = f"INSERT INTO {quote(opts.db_table)} ({', '.join(quote(f.column) for f in inserted)}) {select}"
    if ignore_conflicts:
        sql += " ON CONFLICT DO NOTHING"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
    for obj in objs:
        obj._state.adding = False
        obj._state.db = using


def _over_unnest(count, columns, computed, given, quote) -> tuple[str, list]:
    """``SELECT … FROM unnest(%s::type[], …) AS u(…)``: one parameter a column (a vector: one a row)."""
    arrays, params, names = [], [], []
    for name, (field, db_type, values) in given.items():
        names.append(quote(name))
        if isinstance(field, VectorField):
            # One parameter a vector (psycopg sends them in binary, the type from the cast): an
            # array of them would need pgvector's type oid on every connection.
            arrays.append("ARRAY[" + ", ".join([f"%s::{db_type}"] * count) + "]")
            params.extend(values)
        elif isinstance(field, ArrayField):
            # unnest flattens an array of arrays: each row's array goes as one jsonb list.
            arrays.append("%s::jsonb[]")
            params.append([None if value is None else Jsonb(list(value)) for value in values])
        else:
            arrays.append(f"%s::{db_type}[]")
            params.append(values)
    selected = []
    for column in columns:
        field, db_type, _ = given.get(column, (None, None, None))
        if column in computed:
            selected.append(computed[column])
        elif isinstance(field, ArrayField):
            selected.append(
                f"CASE WHEN u.{quote(column)} IS NULL THEN NULL "
                f"ELSE ARRAY(SELECT jsonb_array_elements_text(u.{quote(column)}))::{db_type} END"
            )
        else:
            selected.append(f"u.{quote(column)}")
    return f"SELECT {', '.join(selected)} FROM unnest({', '.join(arrays)}) AS u({', '.join(names)})", params


def _as_values(count, columns, computed, given, quote) -> tuple[str, list]:
    """``VALUES (…), …``: a placeholder a value, typed by its column, and each computed column's SQL
    with its row's values in place of its references (cast to their types)."""
    rows, params = [], []
    for row in range(count):
        items = []
        for column in columns:
            if column in computed:

                def value(match, row=row):
                    _, db_type, values = given[match.group(1)]
                    params.append(values[row])
                    return f"%s::{db_type}"

                items.append(_REFERENCE.sub(value, computed[column]))
            else:
                items.append("%s")
                params.append(given[column][2][row])
        rows.append(f"({', '.join(items)})")
    return f"VALUES {', '.join(rows)}", params
