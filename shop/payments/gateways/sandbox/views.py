"""The sandbox provider's own pages: the card-fields iframe, the token endpoint, the 3-D Secure page.

Card numbers are typed into the iframe and stay in the browser: fields.js sends the token
endpoint only the test card's outcome, brand, last 4 and expiry (the fingerprint is made here).
"""

import json
import re

from csp.decorators import csp_replace
from django.http import HttpResponseBadRequest, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from .gateway import authenticate, is_local_path
from .models import SandboxCharge, SandboxToken, card_fingerprint

_MAX_TOKEN_BODY = 1024
_FIELDS = {"outcome", "brand", "last4", "exp_month", "exp_year"}
_BRANDS = {"visa", "mastercard", "amex", "unknown"}
_CARD_NUMBER_LIKE = re.compile(r"\d{13,19}")


def own_origin(request) -> str:
    """The origin the shop's pages are served from: the only one the sandbox talks to."""
    return f"{request.scheme}://{request.get_host()}"


@never_cache
@xframe_options_sameorigin  # this page alone may be framed, and only by the shop's own pages
@csp_replace({"frame-ancestors": ["'self'"]})
def card_fields(request):
    return render(request, "sandbox_gateway/card_fields.html", {"parent_origin": own_origin(request)})


def _refuse(message: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


@csrf_exempt  # a cross-site request is refused by its Origin below; the iframe sends no CSRF token
@require_POST
def create_token(request):
    """Swap a tokenized card (never its number) for a one-time token."""
    if request.headers.get("Origin") != own_origin(request):
        return _refuse("Cards are tokenized only from the sandbox's own card fields.", status=403)
    if request.content_type != "application/json" or len(request.body) > _MAX_TOKEN_BODY:
        return _refuse("Send a small JSON object.")
    try:
        card = json.loads(request.body)
    except (ValueError, RecursionError):
        return _refuse("Send a small JSON object.")
    if not isinstance(card, dict) or set(card) != _FIELDS:
        # A body with a "number", "pan", "cvc" or anything else is refused outright, never stored.
        return _refuse("Send exactly: " + ", ".join(sorted(_FIELDS)) + ".")
    for value in card.values():
        if _CARD_NUMBER_LIKE.search(re.sub(r"[\s.-]", "", str(value))):
            return _refuse("That looks like a card number. The sandbox never accepts card numbers.")
    try:
        exp_month, exp_year = int(card["exp_month"]), int(card["exp_year"])
    except (TypeError, ValueError):
        return _refuse("exp_month and exp_year must be numbers.")
    if (
        card["outcome"] not in SandboxToken.Outcome.values
        or card["brand"] not in _BRANDS
        or not re.fullmatch(r"\d{4}", str(card["last4"]))
        or not 1 <= exp_month <= 12
        or not 2000 <= exp_year <= 2100
    ):
        return _refuse("Those card details are not valid.")
    token = SandboxToken.objects.create(
        outcome=card["outcome"],
        brand=card["brand"],
        last4=card["last4"],
        exp_month=exp_month,
        exp_year=exp_year,
        fingerprint=card_fingerprint(brand=card["brand"], last4=card["last4"], exp_month=exp_month, exp_year=exp_year),
    )
    return JsonResponse({"token": token.token, "brand": token.brand, "last4": token.last4}, status=201)


@never_cache
@require_http_methods(["GET", "POST"])
def three_d_secure(request, reference):
    """The sandbox bank's challenge page: the shopper completes or fails it, then goes back to the shop."""
    charge = get_object_or_404(SandboxCharge.objects.select_related("token"), reference=reference)
    back = request.POST.get("return") if request.method == "POST" else request.GET.get("return")
    if not back or not is_local_path(back) or back != charge.return_url:
        return HttpResponseBadRequest("The return address of this 3-D Secure check is not valid.")
    if request.method == "POST" and charge.status == SandboxCharge.Status.REQUIRES_ACTION:
        decision = request.POST.get("decision")
        if decision not in {"complete", "fail"}:
            return HttpResponseBadRequest("Choose to complete or fail the authentication.")
        authenticate(reference=charge.reference, succeeded=decision == "complete")
        return redirect(back)
    if request.method == "POST":
        return redirect(back)
    return render(
        request,
        "sandbox_gateway/three_d_secure.html",
        {
            "charge": charge,
            "amount": f"{charge.amount_minor // 100}.{charge.amount_minor % 100:02d}",
            "return_url": back,
            "open": charge.status == SandboxCharge.Status.REQUIRES_ACTION,
        },
    )
