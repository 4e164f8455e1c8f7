"""Serializer fields shared by every app's input serializers."""

from rest_framework import serializers


class StrictCharField(serializers.CharField):
    """A CharField that takes only JSON strings.

    DRF's CharField turns numbers into text, so `{"availability": 1e400}` would be stored as
    "inf" and `{"name": 5}` as "5": a client sending the wrong type gets a 400 instead.
    """

    default_error_messages = {"invalid": "Not a valid string."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)
