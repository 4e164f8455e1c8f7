"""Presence over REST: a participant's request to sessions/{id}/... counts as being there.

SPEC section 6: clients that poll over REST keep their teaching timers. Runs after the view, when
DRF has put the JWT-authenticated user on the request.
"""

import logging
import re

from .services import attendance_touch

logger = logging.getLogger(__name__)

SESSION_PATH = re.compile(r"^/api/sessions/(\d{1,18})/")


class SessionAttendanceMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        match = SESSION_PATH.match(request.path_info)
        if match:
            user = getattr(request, "user", None)
            if user is not None and user.is_authenticated:
                try:
                    attendance_touch(session_id=int(match[1]), user_id=user.pk)
                except Exception:  # bookkeeping must never turn an answered request into a 500
                    logger.exception("recording attendance in session %s failed", match[1])
        return response
