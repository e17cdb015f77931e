"""A fake gateway for service and view tests, and helpers that make orders ready to pay.

FakeGateway answers like a provider would, from the token: "tok_ok" succeeds (captured or
authorized, as asked), "tok_decline" is declined. It records every call so a test can count
charges, voids, refunds and detaches. `use_fake_gateway` patches gateways.get_gateway to hand
out one instance (install_fake_gateway).
"""

import itertools
import threading

from shop.orders import services as orders
from shop.payments import gateways
from shop.payments.gateways import base
from tests.factories import ProductFactory, StockFactory, StoreFactory

ADDRESS = orders.ShippingAddress(
    name="Ada Lovelace", street="Unter den Linden 1", postal_code="10117", city="Berlin", country="DE"
)
CARD = base.Card(brand="Visa", last4="4242", exp_month=12, exp_year=2030, fingerprint="fp-visa-4242")


class FakeGateway:
    name = "sandbox"

    def __init__(self):
        self.calls: list[tuple[str, dict]] = []
        self._lock = threading.Lock()
        self._numbers = itertools.count(1)
        self.refund_succeeds = True

    def _record(self, kind: str, **details) -> int:
        with self._lock:
            self.calls.append((kind, details))
            return next(self._numbers)

    def count(self, kind: str) -> int:
        return sum(1 for call, _ in self.calls if call == kind)

    def charge(self, request: base.ChargeRequest) -> base.ChargeResult:
        number = self._record(
            "charge",
            token=request.token,
            capture=request.capture,
            key=request.idempotency_key,
            three_d_secure=request.three_d_secure,
        )
        reference = f"ch_fake_{number}"
        if request.token == "tok_decline":
            return base.ChargeResult(
                status=base.DECLINED, reference=reference, decline_code="generic_decline", card=CARD
            )
        return base.ChargeResult(
            status=base.CAPTURED if request.capture else base.AUTHORIZED,
            reference=reference,
            card=CARD,
            saved_token=f"pm_fake_{number}" if request.save_card else "",
        )

    def confirm_action(self, *, reference: str) -> base.ChargeResult:
        return base.ChargeResult(status=base.CAPTURED, reference=reference)

    def capture(self, *, reference: str, amount_minor: int, idempotency_key: str) -> base.ChargeResult:
        self._record("capture", reference=reference, amount_minor=amount_minor)
        return base.ChargeResult(status=base.CAPTURED, reference=reference)

    def void(self, *, reference: str, idempotency_key: str) -> base.ChargeResult:
        self._record("void", reference=reference)
        return base.ChargeResult(status=base.VOIDED, reference=reference)

    def refund(self, *, reference: str, amount_minor: int, idempotency_key: str) -> base.RefundResult:
        number = self._record("refund", reference=reference, amount_minor=amount_minor, key=idempotency_key)
        return base.RefundResult(reference=f"re_fake_{number}", succeeded=self.refund_succeeds)

    def detach(self, *, token: str) -> None:
        self._record("detach", token=token)

    def client_config(self, *, request) -> base.ClientConfig:
        return base.ClientConfig(template="", context={}, csp={})

    def parse_webhook(self, *, body: bytes, headers) -> base.WebhookEvent:
        raise base.WebhookSignatureError("the fake gateway takes no webhooks")


def install_fake_gateway(monkeypatch) -> FakeGateway:
    """Make gateways.get_gateway hand out one FakeGateway (for a module's `fake_gateway` fixture)."""
    fake = FakeGateway()
    monkeypatch.setattr(gateways, "get_gateway", lambda name=None: fake)
    return fake


def order_awaiting_payment(*, fulfillment="delivery", price_minor=5000, quantity=1, user=None, email=None):
    """A placed order (awaiting payment) for one product, for delivery or for pickup."""
    store = StoreFactory(pickup_enabled=True, ships_orders=True)
    product = ProductFactory(price_minor=price_minor)
    StockFactory(store=store, product=product, quantity=quantity + 10)
    cart = orders.open_cart()
    orders.add_to_cart(cart=cart, product=product, quantity=quantity)
    return orders.place_order(
        cart=cart,
        email=email or (user.email if user else "shopper@example.com"),
        fulfillment=fulfillment,
        user=user,
        pickup_store=store if fulfillment == "pickup" else None,
        shipping=ADDRESS if fulfillment == "delivery" else None,
    )
