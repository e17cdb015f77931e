"""Sign-up and e-mail verification, password reset and change, e-mail change.

Every answer to an anonymous form is the same whether or not the address has an account; the
difference lives only in the e-mail that a Celery task sends afterwards (services.py).

The links in our e-mails open a page with a button rather than acting on the GET itself: mail
filters and link scanners fetch links on their own, and must not confirm an address (or move an
account to one) that a person never looked at.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST
from django.views.generic import TemplateView

from . import services
from .forms import ChangePasswordForm, EmailChangeForm, PasswordResetRequestForm, SignUpForm
from .views import step_up_required

# --- Sign-up and verification -----------------------------------------------------------------


@never_cache
@sensitive_post_parameters("password1", "password2")
def sign_up(request):
    if request.user.is_authenticated:
        return redirect("accounts:account")
    form = SignUpForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            services.sign_up(
                request=request,
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password1"],
                marketing_opt_in=form.cleaned_data["marketing"],
            )
            return redirect("accounts:signup_done")
        return render(request, "accounts/signup.html", {"form": form}, status=400)
    return render(request, "accounts/signup.html", {"form": form})


# How long the links in our e-mails work, in the words of the pages that announce them.
_LINK_DAYS = {"days": settings.SHOP_EMAIL_VERIFICATION_MAX_AGE // (24 * 60 * 60)}

signup_done = TemplateView.as_view(template_name="accounts/signup_done.html", extra_context=_LINK_DAYS)


@never_cache
def verify_email(request, token):
    """The link from the sign-up e-mail: a page with one button that confirms the address."""
    try:
        user = services.read_verification_link(token)
        if request.method == "POST":
            user = services.verify_email(request=request, token=token)
            messages.success(request, "Thank you: your e-mail address is confirmed.")
            return redirect("accounts:account" if request.user == user else "accounts:login")
    except services.LinkError as error:
        return _link_failed(request, error, resend=True)
    return render(request, "accounts/verify_email.html", {"already_verified": user.email_verified_at is not None})


@require_POST
@login_required
def resend_verification(request):
    if services.resend_verification(user=request.user):
        messages.success(
            request,
            f"We sent a new confirmation link to {request.user.email}. It can take a few minutes to arrive.",
        )
    else:
        messages.info(request, "Your e-mail address is already confirmed.")
    return redirect("accounts:account")


def _link_failed(request, error, *, resend: bool):
    context = {"error": error, "expired": error.expired, "resend": resend}
    return render(request, "accounts/link_failed.html", context, status=410 if error.expired else 400)


# --- Passwords --------------------------------------------------------------------------------


class PasswordResetView(auth_views.PasswordResetView):
    """Ask for a reset link. The e-mail goes out from a Celery task for every address, known or
    not, so the answer (and its timing) is the same; the task sends nothing for an unknown one."""

    form_class = PasswordResetRequestForm
    template_name = "accounts/password_reset.html"
    success_url = reverse_lazy("accounts:password_reset_done")

    def form_valid(self, form):
        services.request_password_reset(request=self.request, email=form.cleaned_data["email"])
        return redirect(self.get_success_url())

    def form_invalid(self, form):
        return self.render_to_response(self.get_context_data(form=form), status=400)


password_reset = never_cache(PasswordResetView.as_view())


@never_cache
@sensitive_post_parameters("old_password", "new_password1", "new_password2")
@step_up_required
def change_password(request):
    form = ChangePasswordForm(request.user, request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            services.change_password(
                request=request, user=request.user, new_password=form.cleaned_data["new_password1"]
            )
            messages.success(
                request, "Your password was changed. Every other device that was signed in has been signed out."
            )
            return redirect("accounts:account")
        return render(request, "accounts/password_change.html", {"form": form}, status=400)
    return render(request, "accounts/password_change.html", {"form": form})


# --- E-mail address ---------------------------------------------------------------------------


@never_cache
@sensitive_post_parameters("password")
@step_up_required
def change_email(request):
    form = EmailChangeForm(request.POST or None, user=request.user)
    if request.method == "POST":
        if form.is_valid():
            services.request_email_change(request=request, user=request.user, new_email=form.cleaned_data["email"])
            return redirect("accounts:email_change_done")
        return render(request, "accounts/email_change.html", {"form": form}, status=400)
    return render(request, "accounts/email_change.html", {"form": form})


email_change_done = login_required(
    TemplateView.as_view(template_name="accounts/email_change_done.html", extra_context=_LINK_DAYS)
)


@never_cache
def confirm_email_change(request, token):
    """The link sent to the new address: a page with one button that makes the change."""
    try:
        user, new_email = services.read_email_change_link(token)
        if request.method == "POST":
            user = services.change_email(request=request, token=token)
            messages.success(request, f"Done: your account now uses {user.email}. Sign in with it from now on.")
            return redirect("accounts:account" if request.user == user else "accounts:login")
    except services.LinkError as error:
        return _link_failed(request, error, resend=False)
    except services.AccountError as error:
        return render(request, "accounts/link_failed.html", {"error": error}, status=409)
    return render(request, "accounts/email_change_confirm.html", {"new_email": new_email})
