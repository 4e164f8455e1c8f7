"""What every server process would otherwise do lazily on its first requests, done at start.

Django loads the URLconf (and with it every view, serializer and model module) on the first
request, compiles the email validator's domain regex on the first email it checks, reads the
20,000 common passwords on the first password it validates, and imports argon2 on the first
hash. Measured here: ~0.5 s in all, per process. Under load those first requests arrive
together, and every HTTP thread of the process waits behind the import lock: a py-spy profile of
signups on a freshly started `make serve` put ~14% of the HTTP threads' time there. `warm_up()`
runs once per process, before the server accepts its first request (linklearn/asgi.py). It
touches no database.

`freeze_startup_objects()`, last in linklearn/asgi.py, then takes everything loaded so far out of
the garbage collector's view. Python's full collections walk every tracked object, and a loaded
Django process holds a few hundred thousand (modules, classes, URL patterns, serializer fields)
that live as long as the process: each full collection under load paused the event loop for up to
~100 ms, the longest chat delays of `make serve` (docs/bench.md, "Garbage collection pauses").
Frozen, they are never scanned again; what requests allocate is collected as before.
"""

import gc

from django.contrib.auth import password_validation
from django.contrib.auth.hashers import get_hasher
from django.core.validators import validate_email
from django.urls import get_resolver


def warm_up() -> None:
    get_resolver().url_patterns  # noqa: B018 (a cached property: importing the URLconf is the point)
    validate_email("warm-up@example.com")
    password_validation.get_default_password_validators()
    hasher = get_hasher()
    if getattr(hasher, "library", None):  # argon2, bcrypt: imported on first use
        hasher._load_library()


def freeze_startup_objects() -> None:
    """Collect what start-up left as garbage, then freeze the survivors (gc.freeze): they stay
    for the life of the process, so no later collection needs to walk them."""
    gc.collect()
    gc.freeze()
