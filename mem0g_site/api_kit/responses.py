"""Response shapes more than one app's API answers."""

import copy

from rest_framework import serializers


def narrowed(serializer_class, name: str):
    """``serializer_class`` with every field but ``id`` optional: a result cut down by the request's
    ``fields`` (only the keys asked for, and ``id``)."""
    attrs = {"__module__": __name__, "__doc__": f"{serializer_class.__name__}, cut down by `fields`."}
    for field_name, field in serializer_class().fields.items():
        required = field_name == "id"
        if isinstance(field, serializers.SerializerMethodField):
            attrs[field_name] = serializers.CharField(
                allow_null=True, required=required, help_text=field._kwargs.get("help_text")
            )
            continue
        kwargs = {key: copy.deepcopy(value) for key, value in field._kwargs.items() if key != "read_only"}
        attrs[field_name] = type(field)(*copy.deepcopy(field._args), **{**kwargs, "required": required})
    return type(name, (serializers.Serializer,), attrs)


class MessageResponse(serializers.Serializer):
    message = serializers.CharField()
