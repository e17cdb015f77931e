"""Passkey pages: add and remove one (security page), sign in with one, enrol staff at sign-in,
and confirm presence before a pickup code is shown.

Each page carries the ceremony's options as a JSON data block (`json_script`, no inline code);
static/js/passkeys.js runs the browser's WebAuthn call and posts its answer in the hidden
`passkey` field of an ordinary form. Without JavaScript the forms do nothing harmful: the
server answers a missing answer with a 400 and a message.
"""

from axes.handlers.proxy import AxesProxyHandler
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST
from django_otp import user_has_device

from . import passkeys, services
from .forms import EmailAuthenticationForm
from .lockout import lockout_response
from .views import _next_url, _pending_or_restart, _with_next, step_up_required

BACKEND = "django.contrib.auth.backends.ModelBackend"


class PasskeyNameForm(forms.Form):
    name = forms.CharField(
        label="Name of this passkey",
        max_length=passkeys.NAME_MAX_LENGTH,
        help_text="So you can tell your passkeys apart later, e.g. \u201cWork laptop\u201d or \u201cMy phone\u201d.",
        error_messages={"required": "Give the passkey a name."},
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )


def _add_page(request, *, form, template, status=200, extra=None):
    context = {
        "form": form,
        "passkey_options": passkeys.registration_options(request=request, user=request.user),
        "next": _next_url(request, default="accounts:security"),
        **(extra or {}),
    }
    return render(request, template, context, status=status)


@never_cache
@step_up_required
def add_passkey(request):
    """Name a new passkey, create it in the browser, and keep it: a second factor, and a sign-in."""
    user = request.user
    if not (user.is_staff or user.email_verified_at or settings.SHOP_REQUIRE_CUSTOMER_MFA):
        # As for an authenticator app: an unproven address must not get a passkey its owner lacks.
        messages.error(request, "Confirm your e-mail address first (see your account page), then add a passkey.")
        return redirect("accounts:security")
    form = PasskeyNameForm(request.POST or None)
    if request.method == "POST":
        if not form.is_valid():
            return _add_page(request, form=form, template="accounts/passkey_add.html", status=400)
        try:
            device = passkeys.turn_on_passkey(
                request=request,
                user=user,
                credential_json=request.POST.get("passkey", ""),
                name=form.cleaned_data["name"],
            )
        except passkeys.PasskeyError as error:
            form.add_error(None, str(error))
            return _add_page(request, form=form, template="accounts/passkey_add.html", status=error.status)
        messages.success(
            request, f"Passkey \u201c{device.name}\u201d was added. You can now sign in with it, without a password."
        )
        return redirect(_next_url(request, default="accounts:security"))
    return _add_page(request, form=form, template="accounts/passkey_add.html")


@never_cache
@step_up_required
def remove_passkey(request, device_id: int):
    """GET asks "are you sure?"; POST removes. The last factor of staff stays."""
    device = next((d for d in passkeys.passkeys_of(user=request.user) if d.pk == device_id), None)
    if device is None:
        raise Http404("No such passkey on this account.")
    from . import selectors

    two_step = selectors.two_step_status(user=request.user)
    if request.method == "POST":
        try:
            passkeys.remove_passkey(request=request, user=request.user, device_id=device.pk)
        except passkeys.PasskeyError as error:
            messages.error(request, str(error))
            return render(request, "accounts/passkey_remove.html", {"device": device, "two_step": two_step}, status=409)
        messages.success(request, f"Passkey \u201c{device.name}\u201d was removed. We signed you out everywhere else.")
        return redirect("accounts:security")
    return render(request, "accounts/passkey_remove.html", {"device": device, "two_step": two_step})


@never_cache
@require_POST
def sign_in(request):
    """ "Sign in with a passkey" on the sign-in page: no e-mail, no password; the passkey (with the
    fingerprint, face or PIN that unlocks it) names the account and proves it."""
    if not AxesProxyHandler.is_allowed(request, {"username": None}):
        return lockout_response(request)
    try:
        device = passkeys.verify_assertion(
            request=request, purpose="sign_in", credential_json=request.POST.get("passkey", "")
        )
    except passkeys.PasskeyError as error:
        if getattr(request, "axes_locked_out", False):
            return lockout_response(request)
        context = {"form": EmailAuthenticationForm(request), "next": _next_url(request), "passkey_error": str(error)}
        return render(request, "accounts/login.html", context, status=error.status)
    user = device.user
    if not AxesProxyHandler.is_allowed(request, {"username": user.email}):
        return lockout_response(request)
    user.backend = BACKEND
    services.complete_login(request=request, user=user, device=device, remember=request.POST.get("remember") == "on")
    return redirect(_next_url(request))


@never_cache
@require_POST
def sign_in_options(request):
    """The challenge for "Sign in with a passkey", fetched when the button is pressed (so that the
    sign-in page itself stays the same for everyone and writes nothing to the session)."""
    options = passkeys.assertion_options(request=request, purpose="sign_in")
    return HttpResponse(options, content_type="application/json")


@never_cache
def login_enrol_passkey(request):
    """Staff under SHOP_REQUIRE_STAFF_PASSKEY without a passkey: create one now, then the admin opens.

    Reached after the password when there is no second factor at all (as TOTP enrolment is today),
    or after the password and a verified code when there is only an authenticator app.
    """
    user = _pending_or_restart(request)
    if user is None:
        return redirect("accounts:login")
    if passkeys.has_passkey(user=user):
        return redirect(_with_next("accounts:login_verify", request))
    if user_has_device(user, confirmed=True) and not services.pending_second_factor_passed(request):
        return redirect(_with_next("accounts:login_verify", request))
    form = PasskeyNameForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                device = passkeys.register_passkey(
                    request=request,
                    user=user,
                    credential_json=request.POST.get("passkey", ""),
                    name=form.cleaned_data["name"],
                )
            except passkeys.PasskeyError as error:
                form.add_error(None, str(error))
                status = error.status
            else:
                services.complete_login(request=request, user=user, device=device)
                messages.success(request, "Your passkey is set up. Next time, sign in with it.")
                return redirect(_next_url(request))
    context = {
        "form": form,
        "passkey_options": passkeys.registration_options(request=request, user=user),
        "next": _next_url(request),
    }
    return render(request, "accounts/login_passkey_enrol.html", context, status=status)


@never_cache
@login_required
def confirm_presence(request):
    """Before a pickup code is shown: the owner unlocks their passkey once (valid a few minutes)."""
    if not passkeys.has_passkey(user=request.user):
        return redirect(_next_url(request))
    status = 200
    error = None
    if request.method == "POST":
        try:
            passkeys.confirm_presence(request=request, credential_json=request.POST.get("passkey", ""))
        except passkeys.PasskeyError as refused:
            error, status = str(refused), refused.status
        else:
            return redirect(_next_url(request))
    context = {
        "passkey_options": passkeys.assertion_options(request=request, purpose="presence", user=request.user),
        "next": _next_url(request),
        "error": error,
        "minutes": settings.SHOP_PASSKEY_PRESENCE_SECONDS // 60,
    }
    return render(request, "accounts/passkey_confirm.html", context, status=status)
