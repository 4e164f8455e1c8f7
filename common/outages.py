"""What "a service we depend on is unreachable" looks like, written once: the errors that mean
try again later (close code 1013, per-process rate limits), as opposed to a bug."""

import django.db
import redis.exceptions

UNREACHABLE = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    OSError,  # includes ConnectionRefusedError and TimeoutError (asyncio's too)
    django.db.OperationalError,
    django.db.InterfaceError,
)
