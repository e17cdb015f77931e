"""The payment page of an order: the gateway's card fields, a token, one payment per attempt.

The page never holds card data: the gateway's own fields (an iframe or the provider's script)
hand back a token, and this view charges the token through services.pay_order.
"""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from shop.core.client_address import client_address
from shop.orders import selectors as orders
from shop.orders.models import Order
from shop.risk.device import client_of

from . import gateways, integrity, services
from .forms import PayForm
from .gateways.base import GatewayError
from .models import Payment, PaymentMethod

# Set after a declined payment: the next attempt in this session carries the proof-of-work check.
SESSION_CHALLENGE_KEY = "payments.challenge_next"


def _order_or_404(request, number) -> Order:
    order = orders.visible_order(number=number, user=request.user, session=request.session)
    if order is None:
        raise Http404("No such order")  # another person's order looks like one that does not exist
    return order


def _limiter(request) -> services.DeclineLimiter:
    if not request.session.session_key:
        request.session.save()
    return services.DeclineLimiter(
        session_key=request.session.session_key,
        user_id=request.user.pk if request.user.is_authenticated else None,
        address=client_address(request),
    )


def _saved_cards(request, gateway_name: str):
    """The signed-in shopper's cards saved with the gateway in use (none for guests)."""
    if not request.user.is_authenticated:
        return None
    return PaymentMethod.objects.filter(user=request.user, gateway=gateway_name)


def _page(request, order, *, form=None, error: str = "", status: int = 200):
    gateway = gateways.get_gateway()
    client = gateway.client_config(request=request)
    can_save = request.user.is_authenticated
    needs_challenge = bool(request.session.get(SESSION_CHALLENGE_KEY))
    # A new idempotency key for every page shown: each press of Pay on it is one attempt, and
    # pressing twice (or a retried request) sends the same key, so it charges once.
    fresh = PayForm(
        initial={"idempotency_key": services.new_idempotency_key(), "save_card": "save_card" in request.POST},
        can_save_card=can_save,
        needs_challenge=needs_challenge,
        saved_cards=_saved_cards(request, gateway.name),
    )
    if form is not None:
        fresh._errors = form.errors  # show what was wrong with the refused attempt
    # A 3-D Secure check left open (the shopper went back, or closed the tab): offer to finish it.
    waiting = order.payments.filter(status=Payment.Status.REQUIRES_ACTION).first()
    context = {
        "order": order,
        "continue_url": services.action_url(payment=waiting) if waiting else "",
        "form": fresh,
        "error": error,
        "gateway_template": client.template,
        "payment_scripts": integrity.payment_page_scripts(client.scripts),
        **client.context,
    }
    response = render(request, "payments/pay.html", context, status=status)
    # The gateway's own sources (its iframe, its script) are allowed on this page only.
    response._csp_update = client.csp
    return response


def _after(request, order: Order, payment: Payment):
    """Where a payment attempt leads: the order page, the 3-D Secure page, or the form again."""
    if payment.status in (Payment.Status.CAPTURED, Payment.Status.AUTHORIZED):
        request.session.pop(SESSION_CHALLENGE_KEY, None)
        card = f" with {payment.card_brand.title()} •••• {payment.card_last4}" if payment.card_last4 else ""
        if payment.status == Payment.Status.AUTHORIZED:
            messages.success(request, f"Payment authorized{card}; you pay when you collect your order.")
        else:
            messages.success(request, f"Paid{card}. Thank you! Your order is on its way soon.")
        return redirect(order.get_absolute_url())
    if payment.status == Payment.Status.REQUIRES_ACTION:
        url = services.action_url(payment=payment)
        if url:
            return redirect(url)
        messages.error(request, "Your bank's check could not be started. Please try again.")
        return redirect("pay:pay", number=order.number)
    if payment.status == Payment.Status.DECLINED:
        request.session[SESSION_CHALLENGE_KEY] = True
        return None
    order.refresh_from_db()
    if order.status in (Order.Status.EXPIRED, Order.Status.CANCELLED):
        messages.error(
            request,
            f"Your payment arrived after order {order.number} was {order.get_status_display().lower()}, so it was "
            "given back to your card in full. Please order again.",
        )
        return redirect(order.get_absolute_url())
    messages.info(request, f"This payment is {payment.get_status_display().lower()}.")
    return redirect(order.get_absolute_url())


@never_cache
@require_http_methods(["GET", "POST"])
def pay(request, number):
    order = _order_or_404(request, number)
    if order.status != Order.Status.AWAITING_PAYMENT:
        messages.info(request, f"Order {order.number} is {order.get_status_display().lower()}: nothing to pay.")
        return redirect(order.get_absolute_url())
    if order.payment_due_at is not None and order.payment_due_at <= timezone.now():
        messages.error(
            request,
            f"The time to pay for order {order.number} has run out; its items are back on sale. Please order again.",
        )
        return redirect(order.get_absolute_url())
    if request.method == "GET":
        return _page(request, order)

    form = PayForm(
        request.POST,
        can_save_card=request.user.is_authenticated,
        needs_challenge=bool(request.session.get(SESSION_CHALLENGE_KEY)),
        saved_cards=_saved_cards(request, gateways.get_gateway().name),
    )
    if not form.is_valid():
        return _page(request, order, form=form, status=400)
    key = form.cleaned_data["idempotency_key"]
    try:
        payment = services.pay_order(
            order=order,
            token=form.cleaned_data["token"],
            idempotency_key=key,
            return_url=reverse("pay:return", args=[order.number, key]),
            user=request.user,
            save_card=form.cleaned_data.get("save_card", False),
            limiter=_limiter(request),
            client=client_of(request),
        )
    except services.TooManyDeclines as error:
        return _page(request, order, error=str(error), status=429)
    except services.PaymentError as error:
        return _page(request, order, error=str(error), status=409)
    except GatewayError:
        return _page(
            request,
            order,
            error="The payment could not be processed, and nothing was charged. Please enter your card again.",
            status=502,
        )
    response = _after(request, order, payment)
    if response is not None:
        return response
    return _page(request, order, error=services.decline_message(payment.decline_code), status=402)


@never_cache
@require_GET
def pay_return(request, number, key):
    """Back from the 3-D Secure page: ask the gateway how it ended."""
    order = _order_or_404(request, number)
    payment = order.payments.filter(idempotency_key=key).first()
    if payment is None:
        raise Http404("No such payment")
    try:
        payment = services.complete_action(payment=payment)
    except GatewayError:
        messages.error(request, "We could not reach the payment provider. Please try again in a moment.")
        return redirect(order.get_absolute_url())
    response = _after(request, order, payment)
    if response is not None:
        return response
    messages.error(request, services.decline_message(payment.decline_code))
    return redirect("pay:pay", number=order.number)
