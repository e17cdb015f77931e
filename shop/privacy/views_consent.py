"""Consent pages: the banner's buttons, the privacy choices page (footer link on every page) and
the account page's list where each consent is withdrawn with one click. Every form is a plain
POST with a CSRF token, so all of it works without JavaScript."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from shop.core.redirects import safe_next

from . import consent
from .models import ConsentRecord

SAVED = "Your privacy choices are saved. You can change them at any time from the page footer."


class BannerForm(forms.Form):
    choice = forms.ChoiceField(choices=[("accept_all", "Accept all"), ("reject_all", "Reject all")])
    next = forms.CharField(required=False)


class ChoicesForm(forms.Form):
    def __init__(self, *args, initial_choices=None, **kwargs):
        super().__init__(*args, **kwargs)
        for key, item in consent.PURPOSES.items():
            record = (initial_choices or {}).get(key)
            self.fields[key] = forms.BooleanField(
                label=item.title, help_text=item.text, required=False, initial=bool(record and record.granted)
            )


def _next_url(request, candidate: str) -> str:
    return safe_next(request, candidate, default="/")


@require_POST
def banner(request):
    """Accept all or reject all, from the banner on any page."""
    form = BannerForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Please choose “Accept all” or “Reject all”, or pick each purpose yourself.")
        return redirect("consent:choices")
    consent.record_all(
        request=request, granted=form.cleaned_data["choice"] == "accept_all", source=ConsentRecord.Source.BANNER
    )
    if request.headers.get("X-Requested-With") == "consent.js":
        return JsonResponse({"saved": True})
    messages.success(request, SAVED)
    return redirect(_next_url(request, form.cleaned_data["next"]))


@never_cache
def choices(request):
    """Each purpose with its text and a box to tick: for everyone, signed in or not."""
    current = consent.choices_for(request)
    form = ChoicesForm(request.POST or None, initial_choices=current)
    if request.method == "POST" and form.is_valid():
        source = ConsentRecord.Source.ACCOUNT if request.user.is_authenticated else ConsentRecord.Source.CHOICES
        for key in consent.PURPOSES:
            record = current.get(key)
            wanted = form.cleaned_data[key]
            if record is None or record.granted != wanted:
                consent.record_choice(request=request, key=key, granted=wanted, source=source)
        messages.success(request, SAVED)
        return redirect("consent:choices")
    return render(request, "privacy/choices.html", {"form": form})


@never_cache
@login_required
def account_consent(request):
    """The shopper's consents: what each is for, the current state and since when."""
    current = consent.choices_for(request)
    rows = [{"purpose": item, "record": current.get(key)} for key, item in consent.PURPOSES.items()]
    history = ConsentRecord.objects.filter(user=request.user)[:50]
    return render(request, "privacy/account_consent.html", {"rows": rows, "history": history})


@require_POST
@login_required
def account_consent_change(request, key):
    """Withdraw (or give) one consent with one click."""
    if key not in consent.PURPOSES:
        raise Http404("There is no such privacy choice.")
    grant = request.POST.get("action") == "grant"
    consent.record_choice(request=request, key=key, granted=grant, source=ConsentRecord.Source.ACCOUNT)
    title = consent.PURPOSES[key].title
    messages.success(request, f"{title}: consent given." if grant else f"{title}: consent withdrawn.")
    return redirect("consent:account")
