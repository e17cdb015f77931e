"""Idle timeout and absolute lifetime of signed-in sessions, enforced on every request.

Staff: 30 minutes idle, 12 hours at most. Shoppers: 2 hours idle and 12 hours at most, or with
"remember me" no idle limit and 14 days at most (SHOP_SESSION_IDLE / SHOP_SESSION_ABSOLUTE).
"""

import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout

from . import services

# Refresh "last seen" at most this often, so a busy page does not write on every request.
_TOUCH_EVERY_SECONDS = 60


class SessionPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.user.is_authenticated:
            self._enforce(request)
        return self.get_response(request)

    def _enforce(self, request):
        session = request.session
        now = time.time()
        kind = "staff" if request.user.is_staff else "shopper"
        started = session.get(services.AUTHENTICATED_AT, now)
        last_seen = session.get(services.LAST_SEEN_AT, now)
        remembered = session.get(services.REMEMBER_ME, False)
        absolute = settings.SHOP_SESSION_ABSOLUTE["remembered" if remembered else kind].total_seconds()
        idle = settings.SHOP_SESSION_IDLE[kind].total_seconds()
        if now - started > absolute or (not remembered and now - last_seen > idle):
            services.forget_session(session_key=session.session_key)
            logout(request)
            messages.info(
                request, "You were signed out for your security after a period of inactivity. Please sign in again."
            )
            return
        if now - last_seen > _TOUCH_EVERY_SECONDS:
            services.touch_session(request=request)
