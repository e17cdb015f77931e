"""The admin site: django-otp's OTPAdminSite, entered only through the shop's own two-step sign-in.

OTPAdminSite already refuses a user who is not verified by a second factor. Its own login form
would take a password and a code in one go; ours sends staff through the same two steps as
everyone (and through TOTP enrolment if they have no device yet), so that lockout, audit and
session rules apply to the admin too.
"""

from django.contrib.auth.views import redirect_to_login
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django_otp.admin import OTPAdminSite

from shop.core.redirects import safe_next


class ShopAdminSite(OTPAdminSite):
    def __init__(self, name="admin"):
        super().__init__(name)

    def get_urls(self):
        # The clerk's pickup desk: behind admin_view, so only active, OTP-verified staff reach it.
        desk = path("pickup-desk/", self.admin_view(self.pickup_desk), name="pickup_desk")
        # Warehouse staff's dispatch desk (shop/orders/dispatch_desk.py), behind admin_view too.
        dispatch = path("dispatch-desk/", self.admin_view(self.dispatch_desk), name="dispatch_desk")
        # The records of processing (GDPR Art. 30): compliance officers and managers.
        records = path(
            "records-of-processing/", self.admin_view(self.records_of_processing), name="records_of_processing"
        )
        return [desk, dispatch, records, *super().get_urls()]

    def records_of_processing(self, request):
        from shop.privacy.records import records_of_processing

        return records_of_processing(request, site=self)

    def pickup_desk(self, request):
        from shop.orders.desk import pickup_desk

        return pickup_desk(request, site=self)

    def dispatch_desk(self, request):
        from shop.orders.dispatch_desk import dispatch_desk

        return dispatch_desk(request, site=self)

    def each_context(self, request):
        from shop.orders.desk import PERMISSION
        from shop.orders.dispatch_desk import PERMISSION as DISPATCH_PERMISSION
        from shop.privacy.records import can_view as can_view_records

        context = super().each_context(request)
        if request.user.is_active and request.user.is_staff and request.user.has_perm(PERMISSION):
            context["pickup_desk_url"] = reverse("admin:pickup_desk", current_app=self.name)
        if request.user.is_active and request.user.is_staff and request.user.has_perm(DISPATCH_PERMISSION):
            context["dispatch_desk_url"] = reverse("admin:dispatch_desk", current_app=self.name)
        if can_view_records(request.user):
            context["records_of_processing_url"] = reverse("admin:records_of_processing", current_app=self.name)
        return context

    def has_permission(self, request):
        # Under SHOP_REQUIRE_STAFF_PASSKEY a code from an app is not enough for any admin URL:
        # the session must have been verified by a passkey (phishing-resistant). Otherwise the
        # admin sends the person to sign in again, where they use or create their passkey.
        from . import passkeys

        if not super().has_permission(request):
            return False
        return not passkeys.staff_passkey_required(request.user) or passkeys.verified_by_passkey(request)

    def login(self, request, extra_context=None):
        user = request.user
        if user.is_authenticated and not (user.is_active and user.is_staff):
            # The shop's sign-in would send a signed-in shopper straight back here, and here back
            # there, for ever: say plainly that this is not for them.
            return render(request, "admin/staff_only.html", status=403)
        back_to = safe_next(request, request.GET.get("next"), default="admin:index")
        return redirect_to_login(back_to, reverse("accounts:login"))

    def password_change(self, request, extra_context=None):
        # The shop's own page: step-up first, then audit, notice e-mail and other sessions ended.
        return redirect("accounts:password_change")

    def logout(self, request, extra_context=None):
        from .views import logout

        return logout(request)
