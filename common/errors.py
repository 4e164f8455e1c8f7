"""Errors raised by services, and how the REST API shows them.

Services raise these instead of DRF exceptions so the same rule reads the same whether it is
reached from a view or from a WebSocket consumer; each adapter turns them into its own shape.
"""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class ServiceError(Exception):
    status_code = status.HTTP_400_BAD_REQUEST
    default_message = "Invalid request."

    def __init__(self, message: str | None = None):
        self.message = message or self.default_message
        super().__init__(self.message)


class Invalid(ServiceError):
    """Bad input. With `field`, REST shows it as a validation error of that field."""

    status_code = status.HTTP_400_BAD_REQUEST

    def __init__(self, message: str | None = None, *, field: str | None = None):
        super().__init__(message)
        self.field = field


class Forbidden(ServiceError):
    status_code = status.HTTP_403_FORBIDDEN
    default_message = "You are not allowed to do this."


class NotFound(ServiceError):
    status_code = status.HTTP_404_NOT_FOUND
    default_message = "Not found."


class Conflict(ServiceError):
    status_code = status.HTTP_409_CONFLICT
    default_message = "This conflicts with the current state."


def exception_handler(exc, context):
    if isinstance(exc, Invalid) and exc.field:
        return Response({exc.field: [exc.message]}, status=exc.status_code)
    if isinstance(exc, ServiceError):
        return Response({"detail": exc.message}, status=exc.status_code)
    if isinstance(exc, (Http404, DjangoPermissionDenied, APIException)):
        return drf_exception_handler(exc, context)
    if isinstance(exc, UnicodeDecodeError):
        return drf_exception_handler(ParseError("Request body is not valid UTF-8."), context)
    return None
