"""`Idempotency-Key` on the POSTs that create or move something (SPEC section 1, "Retries").

A client that lost an answer (a timeout, a dropped connection, a server process that died after
committing) sends the same request again with the same key and gets the first answer back,
status and body, with nothing done twice. Stripe's semantics, in one mechanism:

* **Same transaction.** The key is claimed (a row inserted), the view runs, and its answer is
  stored in that row, all in ONE database transaction. A committed effect therefore always has
  its answer committed beside it: a process that dies after commit leaves an answer for the retry
  (not a 409), and one that dies before commit leaves neither, so the retry simply runs.
* **Races.** Two requests with the same key insert the same (scope, key) row; PostgreSQL makes the
  second insert wait until the first transaction ends. If it committed, the second replays its
  answer; if it rolled back, the second runs. The wait is bounded by `IDEMPOTENCY_WAIT`, after
  which the answer is 409 with `Retry-After`. (SQLite runs one writer at a time anyway.)
* **Scope.** Keys belong to the authenticated user; the same key of two users are two keys. The
  anonymous signup's scope is the endpoint; the body, which carries the password, must match
  too, so a replay tells nothing to someone who doesn't know the password.
* **What is stored.** Every answer the view itself gives below 500, 4xx included (a refused
  `end/` stays refused for that key). Not stored, so a retry runs again: 5xx answers (whose
  transaction is rolled back, so the re-run cannot double an effect), and refusals before the
  view runs (401, 403 of permissions, 429, malformed JSON, a bad key, 409 in progress, 422).
* **Mismatch.** The same key with another method, path or body (compared as a sha256 of the
  canonical JSON of the parsed body) is 422.
* **Expiry.** Keys are kept `IDEMPOTENCY_KEY_TTL` (24 h). An expired key is treated as new (its
  row is replaced when the key comes back) and the periodic sweep deletes expired rows.

Apply `@idempotent` to the view method, above its `@extend_schema` (it documents the header and
the 409/422 answers on top of the operation's own schema). The services are not touched.
"""

import functools
import hashlib
import json
from datetime import datetime

from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter
from rest_framework import status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.settings import api_settings

from common.models import IdempotencyKey
from common.schema import errors

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255


class KeyMismatch(APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = (
        f"This {HEADER} was already used for a different request (method, path or body). "
        "Use a new key for a new request."
    )
    default_code = "idempotency_key_mismatch"


class KeyInProgress(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = f"A request with this {HEADER} is still being processed. Retry it in a moment."
    default_code = "idempotency_key_in_progress"


def key_from(request) -> str | None:
    """The request's key, or None without the header; a 400 for anything but 1..255 printable ASCII."""
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not all(" " <= char <= "~" for char in key):
        raise ValidationError(
            {"detail": f"{HEADER} must be 1 to {MAX_KEY_LENGTH} printable ASCII characters."}
        )
    return key


def scope_of(request) -> str:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return f"anonymous:{request.path}"


def fingerprint_of(request) -> str:
    """sha256 over method, path and the parsed body in canonical JSON (key order, spacing ignored)."""
    data = request.data  # a malformed body raises ParseError here: a 400, nothing claimed
    if hasattr(data, "lists"):  # a QueryDict: an empty or form-encoded body
        data = {name: values for name, values in data.lists()}
    body = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)
    return hashlib.sha256(f"{request.method}\n{request.path}\n{body}".encode()).hexdigest()


def keys_purge(*, now: datetime | None = None) -> int:
    """Delete every key older than IDEMPOTENCY_KEY_TTL; the number deleted."""
    cutoff = (now or timezone.now()) - settings.IDEMPOTENCY_KEY_TTL
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted


def _claim(*, scope: str, key: str, fingerprint: str) -> tuple[IdempotencyKey, bool]:
    """Insert the key's row inside the caller's transaction: (row, True) if this request owns
    the key now, (the first request's committed row, False) if it had been used.

    `INSERT ... ON CONFLICT DO NOTHING` waits while another transaction holds an uncommitted row
    for the same key, then does nothing if that transaction committed (its row, answer included,
    is visible to the next statement) or inserts if it rolled back. No savepoint is needed: the
    only failure is the bounded wait running out, and then the whole transaction is given up.
    """
    now = timezone.now()
    expired = now - settings.IDEMPOTENCY_KEY_TTL
    previous = _bound_lock_wait()
    try:
        for _ in range(3):
            if _insert(scope=scope, key=key, fingerprint=fingerprint, now=now):
                return IdempotencyKey(scope=scope, key=key, fingerprint=fingerprint, created_at=now), True
            row = IdempotencyKey.objects.filter(scope=scope, key=key).first()
            if row is not None and row.created_at >= expired:
                return row, False
            # Expired (a new key now) or purged in between: its row goes, and we claim again.
            IdempotencyKey.objects.filter(scope=scope, key=key, created_at__lt=expired).delete()
    except OperationalError as exc:
        if getattr(exc.__cause__, "sqlstate", None) == "55P03":  # lock_not_available: waited enough
            raise KeyInProgress() from exc
        raise
    else:
        _restore_lock_wait(previous)
    raise KeyInProgress()  # reused, expired and reused again while we looked: let the client retry


def _insert(*, scope: str, key: str, fingerprint: str, now: datetime) -> bool:
    # Raw SQL because the ORM can't say whether an `ON CONFLICT DO NOTHING` insert inserted.
    with connection.cursor() as cursor:
        cursor.execute(
            'INSERT INTO "common_idempotencykey" ("scope", "key", "fingerprint", "content_type", "body", '
            '"created_at") VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT ("scope", "key") DO NOTHING',
            [scope, key, fingerprint, "", b"", connection.ops.adapt_datetimefield_value(now)],
        )
        return cursor.rowcount == 1


def _bound_lock_wait() -> str | None:
    """Make lock waits of this transaction give up after IDEMPOTENCY_WAIT; the previous limit."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        milliseconds = int(settings.IDEMPOTENCY_WAIT.total_seconds() * 1000)
        cursor.execute(
            "SELECT current_setting('lock_timeout'), set_config('lock_timeout', %s, true)",
            [f"{milliseconds}ms"],
        )
        return cursor.fetchone()[0]


def _restore_lock_wait(previous: str | None) -> None:
    if previous is not None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('lock_timeout', %s, true)", [previous])


def _replay(row: IdempotencyKey) -> HttpResponse:
    response = HttpResponse(bytes(row.body), status=row.status_code, content_type=row.content_type or None)
    response[REPLAYED_HEADER] = "true"
    return response


def _store(row: IdempotencyKey, response) -> None:
    IdempotencyKey.objects.filter(scope=row.scope, key=row.key).update(
        status_code=response.status_code, content_type=response.get("Content-Type", ""), body=response.content
    )


def idempotent(handler):
    """Make a DRF view method honour `Idempotency-Key` (see the module docstring)."""

    @functools.wraps(handler)
    def wrapper(self, request, *args, **kwargs):
        key = key_from(request)
        if key is None:
            return handler(self, request, *args, **kwargs)
        scope, fingerprint = scope_of(request), fingerprint_of(request)
        try:
            return _run_once(
                self, handler, request, args, kwargs, scope=scope, key=key, fingerprint=fingerprint
            )
        except KeyInProgress as exc:
            response = self.handle_exception(exc)
            response["Retry-After"] = "1"
            return response

    schema_base = getattr(handler, "kwargs", {}).get("schema") or api_settings.DEFAULT_SCHEMA_CLASS
    wrapper.kwargs = {**getattr(handler, "kwargs", {}), "schema": _documented(schema_base)}
    return wrapper


def _run_once(view, handler, request, args, kwargs, *, scope: str, key: str, fingerprint: str):
    with transaction.atomic():
        row, owned = _claim(scope=scope, key=key, fingerprint=fingerprint)
        if not owned:
            if row.fingerprint != fingerprint:
                raise KeyMismatch()
            return _replay(row)
        try:
            # No savepoint of its own: each service is atomic already, so an error answer leaves
            # exactly what it leaves without a key.
            response = handler(view, request, *args, **kwargs)
        except Exception as exc:
            response = view.handle_exception(exc)  # re-raises what would be a 500
        # Rendered here, inside the transaction, so exactly these bytes are stored and sent.
        response = view.finalize_response(request, response, *args, **kwargs)
        response.render()
        if response.status_code >= 500:
            transaction.set_rollback(True)  # not stored, and nothing it did stays
            return response
        _store(row, response)
    return response


# --- OpenAPI ----------------------------------------------------------------------------------


HEADER_PARAMETER = OpenApiParameter(
    HEADER,
    {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH, "pattern": "^[ -~]+$"},
    OpenApiParameter.HEADER,
    required=False,
    description=(
        "1 to 255 printable ASCII characters, unique per request (e.g. a UUID). A retry with the "
        "same key and body gets the first answer again (status and body, with the header "
        f"`{REPLAYED_HEADER}: true`) and changes nothing. Keys are kept for 24 hours."
    ),
)

# The shapes are the standard ones (common.schema); only the descriptions say what the key adds.
_RESPONSES = errors(
    400,
    409,
    422,
    descriptions={
        400: f"Invalid input, or an invalid {HEADER} header",
        409: f"Conflicts with the current state, or a request with the same {HEADER} is still running",
        422: f"The {HEADER} was already used for a different request",
    },
)


def _documented(base):
    """The operation's schema plus the header parameter and the answers the mechanism adds."""
    if not isinstance(base, type):
        base = base.__class__

    class IdempotentSchema(base):
        def get_override_parameters(self):
            return [*super().get_override_parameters(), HEADER_PARAMETER]

        def get_response_serializers(self):
            responses = super().get_response_serializers()
            if not isinstance(responses, dict):
                responses = {201 if self._is_create_operation() else 200: responses}
            present = {int(str(code)) for code in responses if str(code).isdigit()}
            return {**responses, **{code: doc for code, doc in _RESPONSES.items() if code not in present}}

    return IdempotentSchema
