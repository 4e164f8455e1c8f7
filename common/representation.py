"""Lean output: a DRF serializer's fields, built once, applied to many instances.

DRF builds a serializer's fields anew for each serializer instance (a deepcopy of every declared
field, plus ModelSerializer's field inference), and a page of 20 posts spent more time there than
in the database. `represent` uses one built set of the same fields, so the JSON is byte for byte
what `serializer_class(instance).data` gives (same field classes, same to_representation), and the
serializer class stays what the OpenAPI schema documents.

For output-only serializers without context: fields may not depend on `context` (the request),
because the one set of fields is shared by every request and thread (DRF fields keep no
per-call state in to_representation).
"""

import functools

from django.core.exceptions import ImproperlyConfigured
from rest_framework.fields import SkipField
from rest_framework.relations import PKOnlyObject


@functools.cache
def _fields(serializer_class) -> tuple:
    return tuple(serializer_class()._readable_fields)


@functools.cache
def _row_fields(serializer_class) -> tuple:
    """Each field with the key of its value in a `.values()` row: its source path joined as
    Django joins a lookup (`creator.name` is `creator__name`)."""
    fields = []
    for field in _fields(serializer_class):
        if not field.source_attrs:  # source="*", a SerializerMethodField: needs the instance
            raise ImproperlyConfigured(f"{serializer_class.__name__}.{field.field_name} needs an instance")
        fields.append((field, "__".join(field.source_attrs)))
    return tuple(fields)


def _represent_row(serializer_class, row: dict) -> dict:
    # What `represent` does for an instance, with each value looked up instead of read through
    # attributes: None stays None, anything else goes through the same field.
    data = {}
    for field, key in _row_fields(serializer_class):
        value = row[key]
        data[field.field_name] = None if value is None else field.to_representation(value)
    return data


def represent(serializer_class, instance) -> dict:
    """`serializer_class(instance).data`, as a plain dict. `instance` may also be a `.values()`
    row of the fields' sources (a dict): building no model instance is half the cost of a page
    of 20 (docs/bench.md, "The posts page cache")."""
    if type(instance) is dict:
        return _represent_row(serializer_class, instance)
    data = {}
    for field in _fields(serializer_class):
        try:
            attribute = field.get_attribute(instance)
        except SkipField:
            continue
        check_for_none = attribute.pk if isinstance(attribute, PKOnlyObject) else attribute
        data[field.field_name] = None if check_for_none is None else field.to_representation(attribute)
    return data


def represent_many(serializer_class, instances) -> list[dict]:
    """`serializer_class(instances, many=True).data`, as a list of plain dicts."""
    return [represent(serializer_class, instance) for instance in instances]
