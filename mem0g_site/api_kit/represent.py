"""Showing many objects through a DRF serializer for less CPU.

DRF's ``Serializer.to_representation`` goes through ``Field.get_attribute`` and each field's
``to_representation`` for every field of every object; for a datetime that includes reading the
current time zone from a context-local (some 1.5 ms for a page of 20 memories). A
:class:`Representer` reads the serializer's fields once and then shows each object with plain
attribute reads and the same conversions DRF makes for the field types our shapes use (UUID, text,
JSON, lists of text, ISO 8601 datetimes, booleans, numbers, method fields). Any other field goes
through DRF's own ``get_attribute`` and ``to_representation``.

The serializer stays the contract (OpenAPI, ``tests/test_schema_conformance*.py``); the output is the
same dict, key for key and type for type (``tests/test_request_cost.py`` compares the two). Whatever the
fast path does not expect (a mapping, a callable attribute, a missing attribute, a naive datetime, any
error) is shown by the serializer itself, so errors and edge cases stay DRF's.
"""

from collections.abc import Mapping

from django.conf import settings
from django.utils import timezone
from rest_framework import fields as drf
from rest_framework.fields import empty
from rest_framework.relations import PKOnlyObject
from rest_framework.settings import api_settings


class _Fallback(Exception):
    """The fast path does not handle this object: the serializer shows it."""


def _text(value):
    return str(value)


def _same(value):
    return value


def _text_list(value):
    return [str(item) if item is not None else None for item in value]


def _float(value):
    return float(value)


def _int(value):
    return int(value)


def _boolean(field):
    convert = field.to_representation

    def boolean(value):
        return value if value.__class__ is bool else convert(value)

    return boolean


# Marks a datetime field: converted with the time zone read once per call of ``Representer.many``.
_DATETIME = object()


def _converter(field):
    """The fast conversion of ``field``'s (non-None) value, ``_DATETIME``, or None (DRF's own)."""
    kind = type(field)
    if kind is drf.CharField:
        return _text
    if kind is drf.UUIDField and field.uuid_format == "hex_verbose":
        return _text
    if kind is drf.JSONField and not field.binary:
        return _same
    if kind is drf.ListField and type(field.child) is drf.CharField:
        return _text_list
    if kind is drf.FloatField:
        return _float
    if kind is drf.IntegerField:
        return _int
    if kind is drf.BooleanField:
        return _boolean(field)
    if kind is drf.DateTimeField and not hasattr(field, "timezone"):
        output = getattr(field, "format", api_settings.DATETIME_FORMAT)
        if isinstance(output, str) and output.lower() == drf.ISO_8601:
            return _DATETIME
    return None


class Representer:
    """The representation of objects through ``serializer`` (an instance, used as the fallback)."""

    def __init__(self, serializer) -> None:
        self.serializer = serializer
        self.plan = []
        for field in serializer._readable_fields:
            if isinstance(field, drf.SerializerMethodField):
                self.plan.append((field.field_name, None, getattr(serializer, field.method_name), field))
                continue
            attrs = field.source_attrs
            convert = _converter(field) if len(attrs) == 1 and field.default is empty else None
            if convert is None:
                self.plan.append((field.field_name, None, None, field))
            else:
                self.plan.append((field.field_name, attrs[0], convert, field))

    def many(self, items) -> list[dict]:
        """Each of ``items`` as ``serializer.to_representation`` shows it."""
        zone = timezone.get_current_timezone() if settings.USE_TZ else None
        slow = self.serializer.to_representation
        shown = []
        for item in items:
            if zone is None or isinstance(item, Mapping):
                shown.append(slow(item))
                continue
            try:
                shown.append(self._one(item, zone))
            except Exception:
                shown.append(slow(item))  # DRF's answer, or DRF's error
        return shown

    def _one(self, item, zone) -> dict:
        shown = {}
        for name, attr, convert, field in self.plan:
            if attr is None:
                if convert is not None:  # a method field: reads the object itself
                    shown[name] = convert(item)
                    continue
                try:
                    value = field.get_attribute(item)
                except drf.SkipField:
                    continue
                check = value.pk if isinstance(value, PKOnlyObject) else value
                shown[name] = None if check is None else field.to_representation(value)
                continue
            value = getattr(item, attr)
            if value is None:
                shown[name] = None
            elif callable(value):
                raise _Fallback(name)  # DRF may call it
            elif convert is _DATETIME:
                if isinstance(value, str):
                    shown[name] = value
                    continue
                if value.utcoffset() is None:
                    raise _Fallback(name)  # naive: DRF makes it aware (or refuses it)
                text = value.astimezone(zone).isoformat()
                shown[name] = text[:-6] + "Z" if text.endswith("+00:00") else text
            else:
                shown[name] = convert(value)
        return shown
