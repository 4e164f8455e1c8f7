"""Every operation in /api/schema/ documents the errors it really gives, with their real shapes.

`AutoSchema` (the project's DEFAULT_SCHEMA_CLASS) adds the standard errors each operation can
give, worked out from what the view is made of, so an endpoint added anywhere gets them without
writing anything:

* 401 when the operation accepts a token at all (a bad or expired token is refused even where
  none is required), with SimpleJWT's `code` and `messages` when it gives them;
* 404 when the path has parameters (an unknown or invisible id) or the list is paginated
  (a page past the end);
* 400 (field errors or `{"detail"}`) when there is a request body or a query parameter to get
  wrong; 413 and 415 for a body too large or not JSON;
* 429 when the view has throttles.

What only the service knows (403 not yours, 409 conflicts, a throttle checked by hand) is
declared with `errors(...)` in the view's `extend_schema(responses=...)`; the shapes still come
from here. An error declared with a body of its own keeps it, except 400, which is always the
field-errors shape (any serializer can answer it).
"""

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.utils import OpenApiResponse

_DESCRIPTIONS = {
    400: "Invalid input: field errors (`{field: [messages]}`) or `{detail}`",
    401: "Missing, invalid or expired token, or bad credentials",
    403: "Authenticated but not allowed",
    404: "Unknown or not visible",
    409: "Conflicts with the current state",
    413: "Request body over 1 MiB",
    415: "Request body is not JSON",
    422: "Idempotency-Key reused with another body",
    429: "Throttled; retry after the number of seconds in Retry-After",
    503: "A service this needs is unavailable",
}
_PAGINATION_PARAMETERS = {"page", "page_size"}

_ERROR_SCHEMA = {
    "type": "object",
    "description": "A request-level error.",
    "properties": {
        "detail": {"type": "string"},
        # SimpleJWT adds these to its 401s.
        "code": {"type": "string"},
        "messages": {"type": "array", "items": {"type": "object", "additionalProperties": True}},
    },
    "required": ["detail"],
}
_VALIDATION_ERROR_SCHEMA = {
    "type": "object",
    "description": (
        "Field errors: each invalid field (or `non_field_errors`) maps to a list of messages; "
        "a body that can't be parsed at all gives `{detail}` instead."
    ),
    "additionalProperties": {
        "oneOf": [
            {"type": "string"},
            {"type": "array", "items": {"type": "string"}},
            {"type": "object", "additionalProperties": True},
        ]
    },
    "minProperties": 1,
}
_HEADERS = {
    401: {
        "WWW-Authenticate": {
            "schema": {"type": "string"},
            "description": "How to authenticate (sent when a token was expected)",
        }
    },
    429: {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds until a retry may succeed"}},
}


class _StandardError(OpenApiResponse):
    """Marks an error status whose body is the standard one for that status."""


def errors(*statuses: int, descriptions: dict[int, str] | None = None) -> dict:
    """`extend_schema(responses={200: X, **errors(403, 409)})`: errors only the service knows."""
    descriptions = {**_DESCRIPTIONS, **(descriptions or {})}
    return {status: _StandardError(description=descriptions.get(status, "")) for status in statuses}


class AutoSchema(SpectacularAutoSchema):
    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        responses = operation["responses"]
        for status in sorted(self._standard_error_statuses(operation)):
            existing = responses.get(str(status))
            # A 400 is always the standard shape: any serializer can answer field errors.
            if existing is None or "content" not in existing or status == 400:
                responses[str(status)] = self._error_response(status, existing)
        operation["responses"] = dict(sorted(responses.items()))
        return operation

    def _standard_error_statuses(self, operation) -> set[int]:
        statuses = set()
        declared = operation["responses"]
        # A declared error without a body (errors(...) or a bare description) gets its shape.
        statuses.update(int(code) for code, response in declared.items() if int(code) >= 400)
        if operation.get("security"):
            statuses.add(401)
        parameters = operation.get("parameters", [])
        if any(parameter["in"] == "path" for parameter in parameters):
            statuses.add(404)
        if any(p["in"] == "query" and p["name"] not in _PAGINATION_PARAMETERS for p in parameters):
            statuses.add(400)
        if self._is_list_view() and self._get_paginator() is not None:
            statuses.add(404)
        if "requestBody" in operation:
            statuses.update({400, 413, 415})
        if getattr(self.view, "throttle_classes", None):
            statuses.add(429)
        return statuses

    def _error_response(self, status: int, existing: dict | None) -> dict:
        if status == 400:
            name, schema = "ValidationError", _VALIDATION_ERROR_SCHEMA
        else:
            name, schema = "Error", _ERROR_SCHEMA
        component = ResolvedComponent(name=name, type=ResolvedComponent.SCHEMA, object=name, schema=schema)
        self.registry.register_on_missing(component)
        description = (existing or {}).get("description") or _DESCRIPTIONS.get(status, "Error")
        response = {"description": description, "content": {"application/json": {"schema": component.ref}}}
        if status in _HEADERS:
            response["headers"] = _HEADERS[status]
        return response
