"""Saved cards on the account: see them (signed in), delete one (a fresh step-up and a POST).

The shop holds only the gateway's token and what a person needs to recognise the card (brand,
last 4, expiry); deleting removes the row and detaches the token at the gateway.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache

from shop.accounts.views import step_up_required

from . import services
from .gateways.base import GatewayError
from .models import PaymentMethod


def _cards_of(user):
    return PaymentMethod.objects.filter(user=user).order_by("-created_at")


@never_cache
@login_required
def card_list(request, *, status: int = 200):
    return render(request, "payments/cards.html", {"cards": _cards_of(request.user)}, status=status)


@never_cache
@step_up_required
def delete_card(request, method_id: int):
    """GET asks "are you sure?"; POST deletes. After a step-up the shopper comes back to the GET."""
    method = _cards_of(request.user).filter(pk=method_id).first()
    if method is None:
        if request.method == "POST":
            messages.error(request, "That card is not saved on your account any more.")
            return card_list(request, status=404)
        raise Http404("No such card on this account.")
    if request.method == "POST":
        try:
            services.delete_saved_card(user=request.user, method_id=method.pk)
        except services.PaymentError as error:
            messages.error(request, str(error))
            return card_list(request, status=404)
        except GatewayError:
            messages.error(
                request, "We could not reach the payment provider, so the card is still saved. Try again later."
            )
            return card_list(request, status=503)
        messages.success(request, f"Your {method.brand} card ending in {method.last4} was removed.")
        return redirect("cards:list")
    return render(request, "payments/card_delete.html", {"card": method})
