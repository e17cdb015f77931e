"""Idle timeout and absolute lifetime of signed-in sessions, enforced on every request.

Staff: 30 minutes idle, 12 hours at most. Shoppers: 2 hours idle and 12 hours at most, or with
"remember me" no idle limit and 14 days at most (SHOP_SESSION_IDLE / SHOP_SESSION_ABSOLUTE).
"""

import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode
from django_otp import user_has_device

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
        # A session without clocks (signed in before these limits existed) starts them now,
        # rather than counting as "just now" at every request and never expiring.
        started = session.setdefault(services.AUTHENTICATED_AT, now)
        last_seen = session.setdefault(services.LAST_SEEN_AT, now)
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


class MandatoryTwoStepMiddleware:
    """With SHOP_REQUIRE_CUSTOMER_MFA, a signed-in session without a verified second factor can
    only set one up (or sign out): every other page sends it to enrolment first.

    The login flow already asks for the factor before it signs anyone in. This closes the other
    doors: a session that began before the shop turned the setting on, or a sign-up that signs
    the new shopper in straight away. Enrolment itself needs the step-up page, so both stay open.
    """

    OPEN_VIEWS = {
        "accounts:add_authenticator",
        "accounts:step_up",
        "accounts:logout",
        "accounts:login",
        "accounts:login_verify",
        "accounts:login_enrol",
        "accounts:login_enrol_passkey",
        "accounts:passkey_sign_in",
        "accounts:passkey_sign_in_options",
        "accounts:add_passkey",
        "csp_report",
        "healthz",
    }

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        user = request.user
        if not (settings.SHOP_REQUIRE_CUSTOMER_MFA and user.is_authenticated and not user.is_verified()):
            return None
        if request.resolver_match.view_name in self.OPEN_VIEWS:
            return None
        back_to = request.get_full_path() if request.method == "GET" else reverse("accounts:account")
        if user_has_device(user, confirmed=True):
            # Enrolled, yet this session never gave a code: only a fresh sign-in can fix that.
            services.forget_session(session_key=request.session.session_key)
            logout(request)
            messages.info(request, "Please sign in again with your password and a code from your app.")
            return redirect(f"{reverse('accounts:login')}?{urlencode({'next': back_to})}")
        messages.info(request, "This shop asks every account for two-step sign-in. Set it up now to continue.")
        return redirect(f"{reverse('accounts:add_authenticator')}?{urlencode({'next': back_to})}")
