"""Request contracts: DRF serializers that both read a request (body or query string) and document
it (drf-spectacular builds the OpenAPI request bodies and query parameters from them), for every
app's API.

Their fields read a value the way Mem0 is lenient about it (``Lenient``: absent and ``null`` mean
the default) and refuse a bad one with our own error (``ValidationFailed``, 422, naming the field;
``InvalidRequest``, 400) before any work is done, in the order the fields are declared. A
``Given`` field is documented as its DRF type and handed on as given: the service it goes to holds
the rule (and its message), so the rule is written once. :func:`read` runs a contract over a
request's data and turns what DRF itself refuses into our error body.
"""

import threading
from collections.abc import Mapping
from functools import cache
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import SkipField, empty

from mem0g_site.api_kit.parsing import as_bool, as_float, as_int, as_moment, as_object, refuse_unknown
from mem0g_site.exceptions import InvalidRequest, ValidationFailed
from mem0g_site.openapi import MOMENT_SCHEMA


def read(contract: type[serializers.Serializer], data: Any, **context) -> dict[str, Any]:
    """``data`` read by ``contract``: the validated values, or our 400/422 for the first bad one."""
    serializer = _armed(contract, data, context)
    try:
        if not serializer.is_valid():  # only DRF's own checks get here; ours raise at once
            field, problems = next(iter(serializer.errors.items()))
            problem = problems[0] if isinstance(problems, list) else problems
            raise ValidationFailed(f"{field}: {problem}", field=field)
        return serializer.validated_data
    finally:
        _idle.__dict__.setdefault("by_contract", {})[contract] = serializer


# A new serializer deep-copies every declared field (a search's contract has about 35: some 0.3 ms
# per request), so each thread keeps the last one of each contract and re-arms it for the next
# request. Taken out while in use, so a read inside a read builds its own.
_idle = threading.local()


def _armed(contract: type[serializers.Serializer], data: Any, context: dict) -> serializers.Serializer:
    serializer = _idle.__dict__.setdefault("by_contract", {}).pop(contract, None)
    if serializer is None:
        return contract(data=data, context=context)
    serializer.initial_data = data
    serializer._context = context
    for state in ("_validated_data", "_errors", "_data"):
        serializer.__dict__.pop(state, None)
    return serializer


class Contract(serializers.Serializer):
    """A request body (or query string) of a Mem0-style route: an object whose unknown fields follow
    the view's policy; ``also_accepted`` names fields read elsewhere (e.g. by the filter grammar)."""

    also_accepted: frozenset[str] = frozenset()

    def to_internal_value(self, data):
        if not isinstance(data, Mapping):
            raise InvalidRequest("The request body must be a JSON object")
        refuse_unknown(data, {*self.fields, *self.also_accepted})
        resolved = dict(data)
        for name, field in self.fields.items():
            for alias in getattr(field, "aliases", ()):
                # An alias stands in for an absent field (``top_k``/``limit``), or, with
                # ``alias_if_blank``, for an empty one too (``as_of``/``reference_date``).
                missing = name not in data or (field.alias_if_blank and data.get(name) in (None, ""))
                if missing and alias in data:
                    resolved[name] = data[alias]
                    break
        return super().to_internal_value(resolved)


# --- fields ------------------------------------------------------------------------------------


class Lenient:
    """A field read by one of the shared readers: absent, ``null`` (and ``""``) mean its default
    (``skip_absent``: left out of the values when absent, so a view can tell "not given")."""

    skip_absent = False
    aliases: tuple[str, ...] = ()
    alias_if_blank = False

    def __init__(
        self, *args, aliases: tuple[str, ...] = (), alias_if_blank: bool = False, skip_absent: bool = False, **kwargs
    ):
        self.aliases, self.alias_if_blank, self.skip_absent = aliases, alias_if_blank, skip_absent
        kwargs.setdefault("required", False)
        kwargs.setdefault("allow_null", True)
        super().__init__(*args, **kwargs)

    def validate_empty_values(self, data):
        if data is empty and self.skip_absent:
            raise SkipField()
        if data is empty or data is None:
            return True, self.parse(None)  # the default: nothing more to check
        return False, data

    def run_validators(self, value):
        pass  # the reader checked the bounds, with our message

    def parse(self, value):
        raise NotImplementedError

    def to_internal_value(self, data):
        return self.parse(data)


class Flag(Lenient, serializers.BooleanField):
    """``true``/``false`` (also ``"true"``, ``"1"``, ``"yes"``, ``"false"``, ``"0"``, ``"no"``)."""

    def __init__(self, *, default: bool | None = False, **kwargs):
        self.flag_default = default
        super().__init__(default=default, **kwargs)

    def parse(self, value):
        return as_bool(value, self.field_name, default=self.flag_default)


class WholeNumber(Lenient, serializers.IntegerField):
    """A whole number within ``min_value``..``max_value`` (a numeric string too)."""

    def __init__(self, *, default: int | None = None, **kwargs):
        self.number_default = default
        super().__init__(**kwargs)
        if default is not None:
            self.default = default  # documented

    def parse(self, value):
        return as_int(value, self.field_name, self.number_default, minimum=self.min_value, maximum=self.max_value)


class Number(Lenient, serializers.FloatField):
    """A number within ``min_value``..``max_value``; its default may come from the view
    (``context[default_from]``)."""

    def __init__(self, *, default_from: str | None = None, **kwargs):
        self.default_from = default_from
        super().__init__(**kwargs)

    def parse(self, value):
        default = self.context.get(self.default_from) if self.default_from else None
        return as_float(value, self.field_name, default, minimum=self.min_value, maximum=self.max_value)


@extend_schema_field(MOMENT_SCHEMA)
class Moment(Lenient, serializers.Field):
    """An ISO 8601 date or time (naive = UTC), or Unix seconds; ``error_name``: the name its errors give."""

    def __init__(self, *, error_name: str | None = None, **kwargs):
        self.error_name = error_name
        super().__init__(**kwargs)

    def parse(self, value):
        return as_moment(value, self.error_name or self.field_name)


@extend_schema_field({"type": "object", "additionalProperties": True, "nullable": True, "example": {"source": "chat"}})
class JsonObject(Lenient, serializers.Field):
    """A JSON object (``null``: not given)."""

    def parse(self, value):
        return as_object(value, self.field_name)


@extend_schema_field({"type": "string", "nullable": True})
class Text(Lenient, serializers.Field):
    """A string; ``null`` (and ``""``, unless ``keep_blank``) are "not given"."""

    def __init__(self, *, keep_blank: bool = False, **kwargs):
        self.keep_blank = keep_blank
        super().__init__(**kwargs)

    def parse(self, value):
        if value is not None and not isinstance(value, str):
            raise ValidationFailed(f"{self.field_name} must be a string", field=self.field_name)
        return value if self.keep_blank else value or None


@extend_schema_field({"description": "Accepted for compatibility with the Mem0 clients; ignored."})
class Ignored(serializers.JSONField):
    def __init__(self, **kwargs):
        super().__init__(required=False, allow_null=True, **kwargs)


@extend_schema_field({"nullable": True})
class Raw(serializers.JSONField):
    """Passed on as given; the service checks it (its own message names the field)."""

    def __init__(self, **kwargs):
        super().__init__(required=False, allow_null=True, **kwargs)


class Given:
    """Documented as its DRF field type (``given(serializers.EmailField)``); read as given, ``null``
    included, and left out of the values when absent (a view can tell "not given"). The service the
    value goes to checks it, with its own message. ``needed``: absent or ``null`` is a 422
    ``<field> is required``."""

    needed = False

    def validate_empty_values(self, data):
        if self.needed and (data is empty or data is None):
            raise ValidationFailed(f"{self.field_name} is required", field=self.field_name)
        if data is empty:
            raise SkipField()
        return (True, None) if data is None else (False, data)

    def run_validation(self, data=empty):
        # Nothing of the DRF field's own reading (blank strings, choices, bounds): the value as given.
        return self.validate_empty_values(data)[1]


@cache
def _given_class(field_class: type[serializers.Field], needed: bool) -> type[serializers.Field]:
    name = f"{'Needed' if needed else 'Given'}{field_class.__name__}"
    return type(name, (Given, field_class), {"needed": needed})


def given(field_class: type[serializers.Field], *, needed: bool = False, **kwargs) -> serializers.Field:
    """A ``field_class`` (with ``kwargs``, for the documentation) whose value the service checks."""
    return _given_class(field_class, needed)(**{"required": needed, **kwargs})
