"""A foreign key over several columns, which Django 5.2 cannot declare on a field.

Tenant tables point at each other through ``(project_id, <id>)``: the database then checks that both
ends of a row belong to one project, and the key is one Citus accepts between tables distributed by
``project_id`` (docs/SCALING.md). The one-column foreign key Django makes for the field stays beside it
for the ORM (joins, cascades); the Citus migration drops it.
"""

from django.core.exceptions import ValidationError
from django.db import DEFAULT_DB_ALIAS
from django.db.models import BaseConstraint


class CompositeForeignKey(BaseConstraint):
    """``FOREIGN KEY (fields) REFERENCES to (to_fields)``, checked at commit like Django's own keys.

    ``to_fields`` must be covered by a unique constraint of ``to``. Deletes cascade through the
    ORM (the one-column key's ``on_delete``), so the key itself takes no action, but for
    ``set_null_on_delete``: fields of ``fields`` the database sets NULL when the row they name is
    deleted (``ON DELETE SET NULL (columns)``, PostgreSQL 15), however it is deleted (the ORM, a raw
    statement, a cascade), with the one-column key's ``on_delete`` left at ``DO_NOTHING``. The key
    stays after the Citus migration drops the one-column one, and so does the action."""

    def __init__(
        self,
        *,
        fields: list[str] | tuple[str, ...],
        to: str,
        to_fields: list[str] | tuple[str, ...],
        name: str,
        set_null_on_delete: list[str] | tuple[str, ...] = (),
        violation_error_message: str | None = None,
    ) -> None:
        if len(fields) < 2 or len(fields) != len(to_fields):
            raise ValueError("CompositeForeignKey needs two or more fields and as many to_fields")
        if not set(set_null_on_delete) <= set(fields):
            raise ValueError("CompositeForeignKey's set_null_on_delete must name some of its fields")
        self.fields = tuple(fields)
        self.to = to
        self.to_fields = tuple(to_fields)
        self.set_null_on_delete = tuple(set_null_on_delete)
        super().__init__(name=name, violation_error_message=violation_error_message)

    def target(self, model):
        """The referenced model, from the same registry as ``model`` (migration states have their own)."""
        return model._meta.apps.get_model(self.to)

    def constraint_sql(self, model, schema_editor) -> str:
        target = self.target(model)
        quote = schema_editor.quote_name
        columns = ", ".join(quote(model._meta.get_field(name).column) for name in self.fields)
        to_columns = ", ".join(quote(target._meta.get_field(name).column) for name in self.to_fields)
        action = ""
        if self.set_null_on_delete:
            nulled = ", ".join(quote(model._meta.get_field(name).column) for name in self.set_null_on_delete)
            action = f" ON DELETE SET NULL ({nulled})"
        return (
            f"CONSTRAINT {quote(self.name)} FOREIGN KEY ({columns}) "
            f"REFERENCES {quote(target._meta.db_table)} ({to_columns}){action} DEFERRABLE INITIALLY DEFERRED"
        )

    def create_sql(self, model, schema_editor) -> str:
        table = schema_editor.quote_name(model._meta.db_table)
        return f"ALTER TABLE {table} ADD {self.constraint_sql(model, schema_editor)}"

    def remove_sql(self, model, schema_editor) -> str:
        quote = schema_editor.quote_name
        return f"ALTER TABLE {quote(model._meta.db_table)} DROP CONSTRAINT {quote(self.name)}"

    def validate(self, model, instance, exclude=None, using=DEFAULT_DB_ALIAS) -> None:
        if exclude and any(name in exclude for name in self.fields):
            return
        values = [getattr(instance, model._meta.get_field(name).attname) for name in self.fields]
        if any(value is None for value in values):
            return
        target = self.target(model)
        lookup = {
            target._meta.get_field(name).attname: value for name, value in zip(self.to_fields, values, strict=True)
        }
        if not target._default_manager.using(using).filter(**lookup).exists():
            raise ValidationError(self.get_violation_error_message(), code="composite_foreign_key")

    def get_violation_error_message(self) -> str:
        if (
            self.violation_error_message is not None
            and self.violation_error_message != self.default_violation_error_message
        ):
            return self.violation_error_message % {"name": self.name}
        return f"{', '.join(self.fields)} must name a row of {self.to} ({', '.join(self.to_fields)})."

    def deconstruct(self):
        path, args, kwargs = super().deconstruct()
        kwargs.update(fields=list(self.fields), to=self.to, to_fields=list(self.to_fields))
        if self.set_null_on_delete:
            kwargs["set_null_on_delete"] = list(self.set_null_on_delete)
        return path, args, kwargs

    def __eq__(self, other) -> bool:
        if not isinstance(other, CompositeForeignKey):
            return NotImplemented
        return (self.name, self.fields, self.to, self.to_fields, self.set_null_on_delete) == (
            other.name,
            other.fields,
            other.to,
            other.to_fields,
            other.set_null_on_delete,
        )

    def __repr__(self) -> str:
        return f"<CompositeForeignKey: {self.fields} -> {self.to}{self.to_fields} name={self.name!r}>"
