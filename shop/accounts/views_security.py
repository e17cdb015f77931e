"""The account security page: two-step sign-in (on, backup codes, off) and signed-in sessions.

Every change to a second factor needs a fresh step-up and a POST; reading the page needs only a
signed-in session. A refused change comes back as the security page with a 4xx status and a
message that says what to do instead.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST
from django_otp.plugins.otp_totp.models import TOTPDevice

from . import selectors, services
from .views import _backup_codes_page, _next_url, enrol, step_up_required


def _with_security_next(name: str, *args) -> str:
    """A link to one of the actions that comes back to the security page when it is done."""
    return f"{reverse(name, args=args)}?{urlencode({'next': reverse('accounts:security')})}"


def _security_page(request, *, status=200):
    context = {
        "two_step": selectors.two_step_status(user=request.user),
        "sessions": selectors.sessions_of(user=request.user, current_key=request.session.session_key),
        "add_authenticator_url": _with_security_next("accounts:add_authenticator"),
        "add_passkey_url": _with_security_next("accounts:add_passkey"),
    }
    return render(request, "accounts/security.html", context, status=status)


def _refused(request, error, *, status):
    """Show what went wrong on the security page itself, with a status a client can act on."""
    messages.error(request, str(error))
    return _security_page(request, status=status)


@never_cache
@login_required
def security(request):
    return _security_page(request)


@never_cache
@sensitive_post_parameters("token")
@step_up_required
def add_authenticator(request):
    """Turn on two-step sign-in (or add a second authenticator): scan, confirm with a first code."""
    if not (request.user.is_staff or request.user.email_verified_at or settings.SHOP_REQUIRE_CUSTOMER_MFA):
        # Someone who signed up with another person's address must not be able to lock its
        # owner out with an authenticator before the address is proven theirs.
        return _refused(
            request, "Confirm your e-mail address first (see your account page), then turn this on.", status=409
        )

    def turned_on(device, codes):
        messages.success(request, "Two-step sign-in is on. From now on, signing in asks for a code from your app.")
        return _backup_codes_page(request, codes, continue_url=_next_url(request, default="accounts:security"))

    return enrol(request, request.user, confirm=services.turn_on_two_step, done=turned_on)


@never_cache
@step_up_required
def new_backup_codes(request):
    """GET asks "are you sure?" (old codes stop working); POST makes new ones and shows them once."""
    two_step = selectors.two_step_status(user=request.user)
    if request.method == "POST":
        try:
            codes = services.regenerate_backup_codes(request=request, user=request.user)
        except services.AccountError as error:
            return _refused(request, error, status=409)
        messages.success(request, "New backup codes are ready. Your old codes no longer work.")
        return _backup_codes_page(request, codes, continue_url=reverse("accounts:security"))
    if not two_step.on:
        return _refused(request, "Set up an authenticator app first; backup codes belong to it.", status=409)
    context = {"two_step": two_step, "count": settings.SHOP_BACKUP_CODE_COUNT}
    return render(request, "accounts/backup_codes_new.html", context)


@never_cache
@step_up_required
def remove_authenticator(request, device_id: int):
    """GET asks "are you sure?"; POST removes. Staff (and every shopper when the shop requires
    it) keep their last authenticator: the service refuses, and the page says why."""
    device = TOTPDevice.objects.filter(user=request.user, confirmed=True, pk=device_id).first()
    if device is None:
        if request.method == "POST":
            return _refused(request, "That authenticator is not on your account any more.", status=404)
        raise Http404("No such authenticator on this account.")
    two_step = selectors.two_step_status(user=request.user)
    turns_off = len(two_step.authenticators) == 1 and not two_step.passkeys
    if request.method == "POST":
        try:
            services.remove_totp_device(request=request, user=request.user, device_id=device.pk)
        except services.AccountError as error:
            return _refused(request, error, status=409)
        if turns_off:
            messages.success(
                request,
                "Two-step sign-in is off, and your backup codes no longer work. We signed you out everywhere "
                "else and sent you an e-mail about it.",
            )
        else:
            messages.success(request, f"{device.name} was removed. We signed you out everywhere else.")
        return redirect("accounts:security")
    context = {"device": device, "two_step": two_step, "turns_off": turns_off}
    return render(request, "accounts/authenticator_remove.html", context)


@never_cache
@require_POST
@login_required
def end_session(request, session_id: int):
    try:
        services.end_session(request=request, user=request.user, session_id=session_id)
    except services.SessionInUse as error:
        return _refused(request, error, status=409)
    except services.AccountError as error:  # not one of this person's sessions (any more)
        return _refused(request, error, status=404)
    messages.success(request, "That session has ended. Whoever used it has to sign in again.")
    return redirect("accounts:security")


@never_cache
@require_POST
@login_required
def end_other_sessions(request):
    count = services.sign_out_everywhere_else(request=request, user=request.user)
    if count:
        messages.success(
            request,
            f"Signed out everywhere else ({count} session{'s' if count != 1 else ''}). "
            "If you did not recognise one, change your password too.",
        )
    else:
        messages.info(request, "You were not signed in anywhere else.")
    return redirect("accounts:security")
