"""Mail to users, sent from a background thread of the server process.

Sending takes as long as the mail server wants (an SMTP round trip is easily 100 ms or more). A
reset request for a registered address must not answer measurably later than one for an unknown
address, so the request only hands the message over and the thread renders and sends it. A
process that dies before sending loses that mail; the user asks again. Failures are logged.
"""

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor, wait
from urllib.parse import urlencode

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string

logger = logging.getLogger(__name__)

# One thread: mails are rare, and a slow server then delays mails, never requests.
_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mail")
_pending: set[Future] = set()
_pending_lock = threading.Lock()


def _submit(fn, /, **kwargs) -> None:
    future = _executor.submit(fn, **kwargs)
    with _pending_lock:
        _pending.add(future)

    def done(f):
        with _pending_lock:
            _pending.discard(f)

    future.add_done_callback(done)


def wait_for_mail(timeout: float = 10) -> None:
    """Block until every mail handed over so far was sent (or failed). For tests and shutdown."""
    with _pending_lock:
        pending = list(_pending)
    wait(pending, timeout=timeout)


def password_reset_link(*, uid: str, token: str) -> str:
    """The web client's page for this reset, or "" when FRONTEND_URL is not set."""
    if not settings.FRONTEND_URL:
        return ""
    return f"{settings.FRONTEND_URL}/reset-password?{urlencode({'uid': uid, 'token': token})}"


def send_password_reset(*, user, uid: str, token: str) -> None:
    """Hand a reset mail for `user` to the sending thread. Everything it needs is read now (the
    thread touches no database, so it neither holds a connection nor sees stale rows)."""
    context = {
        "name": user.name,
        "uid": uid,
        "token": token,
        "link": password_reset_link(uid=uid, token=token),
        "valid_minutes": settings.PASSWORD_RESET_TIMEOUT // 60,
    }
    _submit(_send, template="password_reset", to=user.email, context=context)


def _send(*, template: str, to: str, context: dict) -> None:
    try:
        subject = render_to_string(f"accounts/{template}_subject.txt", context).strip()
        body = render_to_string(f"accounts/{template}_email.txt", context)
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [to])
    except Exception:
        logger.exception("sending the %s mail failed", template)
