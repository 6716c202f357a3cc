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

A column may also be computed per row from the others (``computed``: SQL over ``u."column"``,
and over ``extra`` columns that are unnested beside them but not inserted): a memory's canonical,
found by the INSERT itself, reads the row's own project, hash and vector. The rows are inserted by
one statement, as ``bulk_create``'s are: a subquery of one row does not see the others.

Like ``bulk_create``: no signals, no ``save()``; the model's fields' own ``pre_save`` and
``get_db_prep_save`` give the values; the objects are marked saved. The INSERT returns nothing, so
inside ``mem0g_site.deferred.deferred_inserts`` it is queued like any other.
"""

from collections.abc import Mapping, Sequence
from typing import Any

from django.contrib.postgres.fields import ArrayField
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models.fields import AutoFieldMixin
from pgvector.django import VectorField
from psycopg.types.json import Jsonb


def insert_rows(
    model,
    objs: Sequence[Any],
    *,
    computed: Mapping[str, str] | None = None,
    extra: Mapping[str, tuple[str, Sequence[Any]]] | None = None,
    ignore_conflicts: bool = False,
    using: str = DEFAULT_DB_ALIAS,
) -> None:
    """INSERT ``objs`` (instances of ``model``, their primary keys set) in one statement (see the
    module's docstring). ``computed``: column -> SQL of its value from the row's columns (``u."name"``);
    ``extra``: name -> (database type, one value per object), more columns for ``computed`` to read;
    ``ignore_conflicts``: ``ON CONFLICT DO NOTHING``."""
    if not objs:
        return
    computed = dict(computed or {})
    extra = dict(extra or {})
    connection = connections[using]
    opts = model._meta
    arrays: list[str] = []
    params: list[Any] = []
    names: list[str] = []  # the unnested columns, in order
    columns: list[str] = []  # the inserted columns, in order
    values_sql: list[str] = []
    # A key the database makes (an identity column) is left to it, as bulk_create leaves it: the new
    # rows' keys are then not known here (nothing is read back).
    database_key = isinstance(opts.pk, AutoFieldMixin) and all(obj.pk is None for obj in objs)
    if isinstance(opts.pk, AutoFieldMixin) and not database_key and any(obj.pk is None for obj in objs):
        raise ValueError(f"{model.__name__}: some rows have primary keys and some do not")
    for field in opts.concrete_fields:
        if field.generated or (database_key and field is opts.pk):
            continue
        column = connection.ops.quote_name(field.column)
        columns.append(column)
        if field.column in computed:
            values_sql.append(computed.pop(field.column))
            continue
        values = [field.get_db_prep_save(field.pre_save(obj, True), connection) for obj in objs]
        db_type = field.db_type(connection)
        names.append(column)
        if isinstance(field, VectorField):
            # One parameter a vector (psycopg sends them in binary, the type from the cast): an
            # array of them would need pgvector's type oid on every connection.
            arrays.append("ARRAY[" + ", ".join([f"%s::{db_type}"] * len(values)) + "]")
            params.extend(values)
            values_sql.append(f"u.{column}")
        elif isinstance(field, ArrayField):
            # unnest flattens an array of arrays: each row's array goes as one jsonb list.
            arrays.append("%s::jsonb[]")
            params.append([None if value is None else Jsonb(list(value)) for value in values])
            values_sql.append(
                f"CASE WHEN u.{column} IS NULL THEN NULL "
                f"ELSE ARRAY(SELECT jsonb_array_elements_text(u.{column}))::{db_type} END"
            )
        else:
            arrays.append(f"%s::{db_type}[]")
            params.append(values)
            values_sql.append(f"u.{column}")
    if computed:
        raise ValueError(f"{model.__name__} has no columns {sorted(computed)}")
    for name, (db_type, values) in extra.items():
        if len(values) != len(objs):
            raise ValueError(f"extra column {name}: {len(values)} values for {len(objs)} rows")
        names.append(connection.ops.quote_name(name))
        arrays.append(f"%s::{db_type}[]")
        params.append(list(values))
    sql = (
        f"INSERT INTO {connection.ops.quote_name(opts.db_table)} ({', '.join(columns)}) "
        f"SELECT {', '.join(values_sql)} FROM unnest({', '.join(arrays)}) AS u({', '.join(names)})"
    )
    if ignore_conflicts:
        sql += " ON CONFLICT DO NOTHING"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
    for obj in objs:
        obj._state.adding = False
        obj._state.db = using
