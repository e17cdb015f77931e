"""The admin site: django-otp's OTPAdminSite, entered only through the shop's own two-step sign-in.

OTPAdminSite already refuses a user who is not verified by a second factor. Its own login form
would take a password and a code in one go; ours sends staff through the same two steps as
everyone (and through TOTP enrolment if they have no device yet), so that lockout, audit and
session rules apply to the admin too.
"""

from django.contrib.auth.views import redirect_to_login
from django.shortcuts import redirect
from django.urls import reverse
from django_otp.admin import OTPAdminSite


class ShopAdminSite(OTPAdminSite):
    def __init__(self, name="admin"):
        super().__init__(name)

    def login(self, request, extra_context=None):
        return redirect_to_login(request.GET.get("next") or reverse("admin:index"), reverse("accounts:login"))

    def password_change(self, request, extra_context=None):
        # The shop's own page: step-up first, then audit, notice e-mail and other sessions ended.
        return redirect("accounts:password_change")

    def logout(self, request, extra_context=None):
        from .views import logout

        return logout(request)
