"""Ready for Citus: which tables a Citus cluster distributes by ``project_id``, which it copies to every
node, which stay on the coordinator, the rules that keep that possible, and the SQL of the move.

Read from the models (``tests/test_citus_readiness.py`` runs :func:`problems` on every installed model,
and :func:`schema_changes` on the test database); docs/SCALING.md explains the plan and holds
:func:`plan_sql`'s output.

- *Distributed* (tenant) tables: a ``project`` foreign key, or reached through a key to one. Citus
  wants ``project_id`` in every unique key and primary key, and keys between two distributed tables
  must include it on both sides (the rows then sit on one shard: co-location).
- *Reference* tables: copied whole to every node; distributed tables may point at them. Listed below,
  each with its reason.
- *Local* tables: everything else (sessions, job queue, login throttling, auth groups...) stays on the
  coordinator. They cannot point at a distributed table: such a key would make them distributed.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from django.apps import apps as global_apps
from django.core.exceptions import FieldDoesNotExist
from django.db import models

from mem0g_site.constraints import CompositeForeignKey

TENANT_MODEL = "accounts.Project"
TENANT_FIELD = "project"
TENANT_COLUMN = "project_id"
# Every distributed table is co-located with the memories.
ANCHOR = "memories.Memory"

REFERENCE = {
    "accounts.Organization": "a project's organisation; projects point at it",
    "accounts.Project": "the tenants themselves: every distributed table points at its project",
    "accounts.ApiKey": "found by its prefix on every request, before the project is known",
    "accounts.Membership": "a user's organisations, read across tenants by the web UI",
    "accounts.ProjectMember": "a user's projects, read across tenants by the web UI; points at users",
    "auth.User": "members and memberships point at users (few rows, rarely written)",
}

_UUID = "random uuid4 id, unique without the project"
_IDENTITY = "id from one identity sequence, unique without the project"
# Tenant tables whose primary key is the generated id alone. Django addresses rows by that id, so
# the key stays here; the Citus migration (schema_changes) replaces it by (project_id, id).
SURROGATE_PRIMARY_KEYS = {
    "accounts.ProfileJob": _UUID,
    "accounts.ProfileSettings": _IDENTITY,
    "accounts.RegisteredEntity": _IDENTITY,
    "accounts.UserProfile": _IDENTITY,
    "accounts.Webhook": _IDENTITY + " (Mem0's SDK addresses webhooks by an integer)",
    "accounts.WebhookDelivery": _IDENTITY,
    "graph.EntityRelation": _UUID,
    "graph.Relationship": _UUID,
    "memories.AddEvent": _UUID,
    "memories.DecisionTrace": _UUID,
    "memories.Memory": _UUID,
    "memories.MemoryExport": _UUID,
    "memories.MemoryFeedback": _UUID,
    "memories.MemoryHistory": _UUID,
    "memories.MemorySource": _UUID,
    "memories.MemorySourceLink": _IDENTITY,
}

# Other unique keys of tenant tables without project_id: (model label, constraint name) -> reason.
# None today; a new one needs a reason here and its Citus change in docs/SCALING.md.
ALLOWED_UNIQUE_WITHOUT_PROJECT: dict[tuple[str, str], str] = {}

DISTRIBUTED, REFERENCE_TABLE, LOCAL = "distributed", "reference", "local"


@dataclass(frozen=True)
class Key:
    """One unique key of a model: a name (``pk`` for the primary key) and its field names."""

    name: str
    fields: tuple[str, ...]


def all_models(registry=global_apps) -> list[type[models.Model]]:
    """Every concrete table of the project, many-to-many tables included."""
    return [
        model
        for model in registry.get_models(include_auto_created=True)
        if not model._meta.proxy and model._meta.managed
    ]


def _foreign_keys(model) -> list[models.ForeignKey]:
    return [field for field in model._meta.concrete_fields if isinstance(field, models.ForeignKey)]


def classify(models_: Iterable[type[models.Model]]) -> dict[type[models.Model], str]:
    """Each model's kind: distributed (points at a project, directly or through a distributed
    table), reference (listed in REFERENCE) or local."""
    models_ = list(models_)
    kinds = {model: REFERENCE_TABLE for model in models_ if model._meta.label in REFERENCE}
    changed = True
    while changed:  # reached through: a key to a distributed table makes a table distributed
        changed = False
        for model in models_:
            if model in kinds:
                continue
            for field in _foreign_keys(model):
                target = field.related_model
                if target._meta.label == TENANT_MODEL or kinds.get(target) == DISTRIBUTED:
                    kinds[model] = DISTRIBUTED
                    changed = True
                    break
    return {model: kinds.get(model, LOCAL) for model in models_}


def unique_keys(model) -> list[Key]:
    """The primary key and every unique key: unique fields, unique_together, UniqueConstraints."""
    meta = model._meta
    keys = []
    if isinstance(meta.pk, models.CompositePrimaryKey):
        keys.append(Key("pk", tuple(field.name for field in meta.pk.fields)))
    else:
        keys.append(Key("pk", (meta.pk.name,)))
    for field in meta.concrete_fields:
        if field.unique and not field.primary_key:
            keys.append(Key(f"{field.name} (unique field)", (field.name,)))
    for fields in meta.unique_together:
        keys.append(Key(f"unique_together {tuple(fields)}", tuple(fields)))
    for constraint in meta.constraints:
        if isinstance(constraint, models.UniqueConstraint):
            if constraint.expressions:
                keys.append(Key(constraint.name, ()))  # an expression key: never seen to include the project
            else:
                keys.append(Key(constraint.name, tuple(constraint.fields)))
    return keys


def _has_unique(model, fields: tuple[str, ...]) -> bool:
    return any(set(key.fields) == set(fields) for key in unique_keys(model))


def problems(models_: Iterable[type[models.Model]] | None = None) -> list[str]:
    """What keeps these models from being distributed as planned; empty when nothing does."""
    models_ = all_models() if models_ is None else list(models_)
    kinds = classify(models_)
    found = []
    for model, kind in kinds.items():
        label = model._meta.label
        if kind == DISTRIBUTED:
            found += _tenant_problems(model, kinds)
        for field in _foreign_keys(model):
            target_kind = kinds.get(field.related_model, LOCAL)
            if kind == REFERENCE_TABLE and target_kind != REFERENCE_TABLE:
                found.append(
                    f"{label}.{field.name}: a reference table points at a {target_kind} table "
                    f"({field.related_model._meta.label}); Citus copies reference tables to every node"
                )
    return found


def _tenant_problems(model, kinds) -> list[str]:
    label = model._meta.label
    found = []
    try:
        project = model._meta.get_field(TENANT_FIELD)
    except FieldDoesNotExist:
        project = None
    if (
        not isinstance(project, models.ForeignKey)
        or project.related_model._meta.label != TENANT_MODEL
        or project.column != TENANT_COLUMN
        or project.null
    ):
        through = [field.related_model._meta.label for field in _foreign_keys(model)]
        return [
            f"{label}: a tenant table (it points at {', '.join(through)}) without a NOT NULL "
            f"'{TENANT_FIELD}' key to {TENANT_MODEL}, the column Citus distributes by"
        ]
    for key in unique_keys(model):
        if TENANT_FIELD in key.fields:
            continue
        if key.name == "pk" and label in SURROGATE_PRIMARY_KEYS:
            continue
        if (label, key.name) in ALLOWED_UNIQUE_WITHOUT_PROJECT:
            continue
        what = "primary key" if key.name == "pk" else f"unique key {key.name}"
        found.append(
            f"{label}: {what} {key.fields} does not include '{TENANT_FIELD}' (Citus needs the distribution "
            "column in every unique key; add it, or list the key with its reason in mem0g_site/citus.py)"
        )
    composites = [
        (constraint.fields, constraint.to.lower(), constraint.to_fields)
        for constraint in model._meta.constraints
        if isinstance(constraint, CompositeForeignKey)
    ]
    for field in _foreign_keys(model):
        target = field.related_model
        if field.name == TENANT_FIELD or kinds.get(target) != DISTRIBUTED:
            continue
        target_key = (TENANT_FIELD, target._meta.pk.name)
        wanted = ((TENANT_FIELD, field.name), target._meta.label_lower, target_key)
        if wanted in composites and _has_unique(target, target_key):
            continue
        found.append(
            f"{label}.{field.name}: a key to the distributed table {target._meta.label} without the project: "
            f"add CompositeForeignKey(fields=['{TENANT_FIELD}', '{field.name}'], to='{target._meta.label}', "
            f"to_fields={list(target_key)}) and a UniqueConstraint{target_key} on {target._meta.label}"
        )
    return found


# --- the Citus migration ----------------------------------------------------------------------------


def _in_dependency_order(models_: list, kinds) -> list:
    """Models ordered so that each comes after the tables of its own kind it points at."""
    ordered: list = []

    def visit(model, path=()):
        if model in ordered or model in path:
            return
        for field in _foreign_keys(model):
            target = field.related_model
            if target is not model and kinds.get(target) == kinds[model]:
                visit(target, (*path, model))
        ordered.append(model)

    for model in sorted(models_, key=lambda m: (m._meta.label != ANCHOR, m._meta.db_table)):
        visit(model)
    return ordered


def schema_changes(connection, models_: Iterable[type[models.Model]] | None = None) -> list[str]:
    """The plain PostgreSQL half of the move, run before any Citus call: drop the one-column keys
    between distributed tables (their composite twins stay), then make each distributed table's
    primary key (project_id, id); where (project_id, id) is already a unique key that others point
    at, it becomes the replica identity instead (shard moves replicate by it)."""
    models_ = all_models() if models_ is None else list(models_)
    kinds = classify(models_)
    tenants = sorted((m for m, kind in kinds.items() if kind == DISTRIBUTED), key=lambda m: m._meta.db_table)
    quote = connection.ops.quote_name
    drops, keys = [], []
    with connection.cursor() as cursor:
        for model in tenants:
            table = model._meta.db_table
            for field in _foreign_keys(model):
                if field.name == TENANT_FIELD or kinds.get(field.related_model) != DISTRIBUTED:
                    continue
                cursor.execute(
                    """
                    SELECT conname FROM pg_constraint
                    WHERE conrelid = %s::regclass AND contype = 'f' AND confrelid = %s::regclass
                      AND conkey = ARRAY[(SELECT attnum FROM pg_attribute
                                          WHERE attrelid = %s::regclass AND attname = %s)]
                    """,
                    [table, field.related_model._meta.db_table, table, field.column],
                )
                for (name,) in cursor.fetchall():
                    drops.append(f"ALTER TABLE {table} DROP CONSTRAINT {quote(name)};")
            if isinstance(model._meta.pk, models.CompositePrimaryKey):
                continue
            cursor.execute("SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'p'", [table])
            (pkey,) = cursor.fetchone()
            pk_column = model._meta.pk.column
            twin = next(
                (
                    c
                    for c in model._meta.constraints
                    if isinstance(c, models.UniqueConstraint)
                    and c.condition is None
                    and set(c.fields) == {TENANT_FIELD, model._meta.pk.name}
                ),
                None,
            )
            if twin is not None:
                keys.append(f"ALTER TABLE {table} DROP CONSTRAINT {quote(pkey)};")
                keys.append(f"ALTER TABLE {table} REPLICA IDENTITY USING INDEX {quote(twin.name)};")
            else:
                keys.append(
                    f"ALTER TABLE {table} DROP CONSTRAINT {quote(pkey)}, "
                    f"ADD PRIMARY KEY ({TENANT_COLUMN}, {pk_column});"
                )
    return drops + keys


def citus_calls(models_: Iterable[type[models.Model]] | None = None) -> list[str]:
    """The Citus half: reference tables first (each after the ones it points at), then the memories,
    then every other distributed table co-located with them."""
    models_ = all_models() if models_ is None else list(models_)
    kinds = classify(models_)
    references = _in_dependency_order([m for m, kind in kinds.items() if kind == REFERENCE_TABLE], kinds)
    tenants = _in_dependency_order([m for m, kind in kinds.items() if kind == DISTRIBUTED], kinds)
    anchor = global_apps.get_model(ANCHOR)._meta.db_table
    calls = [f"SELECT create_reference_table('{m._meta.db_table}');" for m in references]
    for model in tenants:
        table = model._meta.db_table
        if table == anchor:
            calls.append(f"SELECT create_distributed_table('{table}', '{TENANT_COLUMN}');")
        else:
            calls.append(f"SELECT create_distributed_table('{table}', '{TENANT_COLUMN}', colocate_with => '{anchor}');")
    return calls


def plan_sql(connection) -> str:
    """Both halves, as docs/SCALING.md shows them."""
    return "\n".join(
        [
            "-- 1. Plain PostgreSQL (tests/test_citus_readiness.py runs these on the test database).",
            *schema_changes(connection),
            "-- 2. Citus, on the coordinator, after CREATE EXTENSION citus and citus_add_node for each worker.",
            *citus_calls(),
        ]
    )
