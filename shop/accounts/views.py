"""Sign-in in two steps (password, then second factor or enrolment), sign-out, step-up."""

import io
from base64 import b32encode, b64encode

import qrcode
import qrcode.image.svg
from axes.handlers.proxy import AxesProxyHandler
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.http import urlencode
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST
from django_otp import user_has_device
from django_otp.plugins.otp_totp.models import TOTPDevice

from shop.core.redirects import is_local_path, next_from
from shop.orders import selectors as orders

from . import passkeys, services
from .challenge import ChallengeField
from .forms import EmailAuthenticationForm, EnrolForm, NewPasswordForm, StepUpForm, TokenForm
from .lockout import lockout_response, needs_challenge

SESSION_ENROLMENT = "accounts.enrolling_device"


def _next_url(request, default="accounts:account"):
    return next_from(request, default=default)


def _with_next(name, request):
    return f"{reverse(name)}?{urlencode({'next': _next_url(request)})}"


class LoginView(auth_views.LoginView):
    """Step 1: e-mail and password (axes refuses locked pairs and addresses before checking)."""

    template_name = "accounts/login.html"
    authentication_form = EmailAuthenticationForm

    @property
    def redirect_authenticated_user(self):
        # Only someone fully signed in skips the form. Staff signed in without a verified second
        # factor (made staff mid-session, or their device was removed) would otherwise bounce
        # between the admin and this page for ever; they sign in again, through both steps.
        user = self.request.user
        if passkeys.staff_passkey_required(user) and not passkeys.verified_by_passkey(self.request):
            return False  # the admin would send them straight back here: sign in with the passkey
        return user.is_authenticated and (user.is_verified() or not services.needs_second_factor(user))

    def get_form(self, form_class=None):
        form = super().get_form(form_class)
        if needs_challenge(self.request):  # 3+ failures from this address: prove it is no bot
            form.fields["challenge"] = ChallengeField()
        return form

    def form_invalid(self, form):
        if "challenge" not in form.fields and needs_challenge(self.request):
            form.fields["challenge"] = ChallengeField()  # this failure was the 3rd: the next try needs it
        return super().form_invalid(form)

    def form_valid(self, form):
        user = form.get_user()
        remember = form.cleaned_data.get("remember", False)
        if services.needs_second_factor(user):
            services.begin_login(request=self.request, user=user, remember=remember)
            if user_has_device(user, confirmed=True):
                step = "accounts:login_verify"
            elif passkeys.staff_passkey_required(user):
                step = "accounts:login_enrol_passkey"
            else:
                step = "accounts:login_enrol"
            return redirect(_with_next(step, self.request))
        services.complete_login(request=self.request, user=user, remember=remember)
        return redirect(self.get_success_url())

    def get_redirect_url(self):
        # Django's LoginView follows any relative "next" (e.g. "oops"); ours only a path on this site.
        candidate = self.request.POST.get("next") or self.request.GET.get("next")
        return candidate if candidate and is_local_path(self.request, candidate) else ""


def second_factor_options(request, user) -> str | None:
    """For the code page and the step-up page: passkey options when the person has a passkey."""
    if not passkeys.has_passkey(user=user):
        return None
    purpose = "step_up" if request.user.is_authenticated else "second_factor"
    return passkeys.assertion_options(request=request, purpose=purpose, user=user)


def _pending_or_restart(request):
    user = services.pending_login_user(request)
    if user is None:
        messages.info(request, "Your sign-in took too long or has not started. Please enter your password again.")
    return user


@never_cache
@sensitive_post_parameters("token")
def login_verify(request):
    """Step 2: a passkey, the code from the authenticator app, or a backup code.

    Under the staff passkey policy a member of staff with a passkey must use it; one with only an
    authenticator app gives its code and then creates a passkey before the sign-in completes.
    """
    user = _pending_or_restart(request)
    if user is None:
        return redirect("accounts:login")
    if not user_has_device(user, confirmed=True):
        return redirect(_with_next("accounts:login_enrol", request))
    passkey_only = passkeys.staff_passkey_required(user) and passkeys.has_passkey(user=user)
    has_codes = services.has_code_factor(user) and not passkey_only
    form = TokenForm(request.POST or None)
    status = 200
    passkey_error = None
    if request.method == "POST":
        if not AxesProxyHandler.is_allowed(request, {"username": user.email}):
            return lockout_response(request)
        status = 400
        if request.POST.get("passkey"):
            try:
                device = passkeys.verify_assertion(
                    request=request, purpose="second_factor", credential_json=request.POST["passkey"], user=user
                )
            except passkeys.PasskeyError as error:
                if getattr(request, "axes_locked_out", False):
                    return lockout_response(request)
                passkey_error = str(error)
            else:
                services.complete_login(request=request, user=user, device=device)
                return redirect(_next_url(request))
        elif not has_codes:
            passkey_error = "Use your passkey to sign in." if passkey_only else "Use your passkey to continue."
        elif form.is_valid():
            try:
                device = services.verify_second_factor(request=request, user=user, token=form.cleaned_data["token"])
            except services.AccountError as error:
                form.add_error("token", str(error))
                status = 429
            else:
                if device is not None and passkeys.staff_passkey_required(user):
                    # Right code, but the admin now needs a passkey: create it before signing in.
                    services.mark_second_factor_passed(request)
                    return redirect(_with_next("accounts:login_enrol_passkey", request))
                if device is not None:
                    services.complete_login(request=request, user=user, device=device)
                    return redirect(_next_url(request))
                if getattr(request, "axes_locked_out", False):
                    return lockout_response(request)
                form.add_error(
                    "token", "That code did not match. Enter the current code from your app, or a backup code."
                )
    context = {
        "form": form,
        "next": _next_url(request),
        "has_codes": has_codes,
        "staff_passkey": passkey_only,
        "passkey_options": second_factor_options(request, user),
        "passkey_error": passkey_error,
    }
    return render(request, "accounts/login_verify.html", context, status=status)


def _qr_data_uri(text: str) -> str:
    """The QR code as an SVG data: URI, made on the server (no third party sees the secret)."""
    buffer = io.BytesIO()
    qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=8).save(buffer)
    return "data:image/svg+xml;base64," + b64encode(buffer.getvalue()).decode()


def _enrolment_page(request, *, device, form, status, template="accounts/enrol.html"):
    context = {
        "form": form,
        "qr_data_uri": _qr_data_uri(device.config_url),
        "secret": _b32_secret(device),
        "next": _next_url(request),
    }
    return render(request, template, context, status=status)


def _b32_secret(device) -> str:
    """The key as authenticator apps expect it when typed: base32, in groups of four."""
    raw = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def _enrolling_device(request, user):
    device = TOTPDevice.objects.filter(pk=request.session.get(SESSION_ENROLMENT), user=user, confirmed=False).first()
    if device is None:
        device = services.start_totp_enrolment(user=user)
        request.session[SESSION_ENROLMENT] = device.pk
    return device


def enrol(request, user, *, confirm, done):
    """Show the QR code until a first code confirms the new device, then return `done(device, codes)`."""
    device = _enrolling_device(request, user)
    form = EnrolForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            codes = confirm(request=request, device=device, token=form.cleaned_data["token"])
        except services.AccountError as error:
            form.add_error("token", str(error))
        else:
            request.session.pop(SESSION_ENROLMENT, None)
            return done(device, codes)
    return _enrolment_page(request, device=device, form=form, status=400 if request.method == "POST" else 200)


@never_cache
@sensitive_post_parameters("token")
def login_enrol(request):
    """Step 2 for staff (or any shopper when MFA is mandatory) without a device: set one up now."""
    user = _pending_or_restart(request)
    if user is None:
        return redirect("accounts:login")
    if user_has_device(user, confirmed=True):
        return redirect(_with_next("accounts:login_verify", request))

    def signed_in(device, codes):
        services.complete_login(request=request, user=user, device=device)
        return _backup_codes_page(request, codes, continue_url=_next_url(request))

    return enrol(request, user, confirm=services.confirm_totp, done=signed_in)


def _backup_codes_page(request, codes, *, continue_url):
    response = render(request, "accounts/backup_codes.html", {"codes": codes, "continue_url": continue_url})
    response["Cache-Control"] = "no-store"
    return response


@never_cache
@login_required
@sensitive_post_parameters("password", "token")
def step_up(request):
    """Confirm it is really you before a sensitive change (good for 10 minutes): the password, and
    the code from the app or a passkey when the account has them."""
    needs_token = services.has_code_factor(request.user)
    form = StepUpForm(request.POST or None, needs_token=needs_token)
    if needs_token and passkeys.has_passkey(user=request.user):
        form.fields["token"].required = False  # the passkey button answers instead
    status = 200
    if request.method == "POST":
        if not AxesProxyHandler.is_allowed(request, {"username": request.user.email}):
            return lockout_response(request)
        status = 400
        if form.is_valid():
            try:
                services.step_up(
                    request=request,
                    user=request.user,
                    password=form.cleaned_data["password"],
                    token=form.cleaned_data.get("token", ""),
                    passkey=request.POST.get("passkey", ""),
                )
            except services.AccountError as error:
                if getattr(request, "axes_locked_out", False):
                    return lockout_response(request)
                form.add_error(None, str(error))
            else:
                return redirect(_next_url(request))
    context = {
        "form": form,
        "next": _next_url(request),
        "passkey_options": second_factor_options(request, request.user),
    }
    return render(request, "accounts/step_up.html", context, status=status)


def step_up_required(view):
    """Sensitive pages: signed in, and re-authenticated within SHOP_STEP_UP_SECONDS."""

    @login_required
    def wrapper(request, *args, **kwargs):
        if not services.step_up_is_fresh(request):
            messages.info(request, "For your security, confirm it is you before continuing.")
            return redirect(f"{reverse('accounts:step_up')}?{urlencode({'next': request.get_full_path()})}")
        return view(request, *args, **kwargs)

    wrapper.__name__ = view.__name__
    wrapper.__doc__ = view.__doc__
    return wrapper


@require_POST
def logout(request):
    services.forget_session(session_key=request.session.session_key)
    response = auth_views.LogoutView.as_view()(request)
    return response


@never_cache
@login_required
def account(request):
    return render(request, "accounts/account.html", {"orders": orders.orders_of(user=request.user)})


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """The link from the reset e-mail. It never signs the person in: the next login still asks
    for the second factor. The reset is audited and ends every session of the account."""

    template_name = "accounts/password_reset_confirm.html"
    form_class = NewPasswordForm
    success_url = reverse_lazy("accounts:login")

    def form_valid(self, form):
        response = super().form_valid(form)
        services.password_changed(request=self.request, user=form.user, how="reset")
        messages.success(self.request, "Your password was changed. Sign in with the new one.")
        return response
