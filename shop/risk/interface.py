"""The one module orders and payments use to consult the risk engine.

Facts go in as dataclasses (risk imports neither orders nor payments: they describe the order or
the payment attempt themselves), an `Assessment` comes out. A reviewer's decision is announced
back through the signals below, which orders handles (approve: release, reject: cancel and
void or refund through its own services).

    assessment = interface.assess_order(facts=OrderFacts(...))      # at checkout, before the order
    interface.link_order(assessment=assessment, order_id=..., order_number=...)
    assessment = interface.assess_payment(facts=PaymentAttemptFacts(...))  # before each charge
    interface.record_payment_result(...)                             # after the gateway answered
    interface.is_held(order_id=...)                                  # may it ship / be handed over?
"""

from dataclasses import dataclass, field
from datetime import datetime

from django.dispatch import Signal

# Sent (inside the reviewer's transaction) with order_id=, reviewer=, note=.
review_approved = Signal()
review_rejected = Signal()

# What a refused shopper reads: the same words whichever signal fired, so nobody learns which one.
NEUTRAL_ORDER_REFUSAL = "We could not accept this order. Please contact us if you think this is a mistake."


@dataclass(frozen=True)
class Client:
    """Where a request came from. `address` only from the trusted proxy (accounts.lockout.client_ip)."""

    session_key: str = ""
    address: str = ""
    device_id: str = ""  # the long-lived device cookie (shop/risk/device.py)


@dataclass(frozen=True)
class LineFacts:
    product_id: int
    category_slug: str
    quantity: int
    unit_price_minor: int


@dataclass(frozen=True)
class AccountFacts:
    """Filled in by risk from the accounts tables when left out (the simulator passes its own)."""

    age_days: float
    email_verified: bool
    has_mfa: bool
    hours_since_credential_change: float | None  # e-mail or password changed or reset
    session_age_minutes: float | None  # how long ago this session signed in


@dataclass(frozen=True)
class OrderFacts:
    user_id: int | None
    email: str
    fulfillment: str  # "delivery" or "pickup"
    total_minor: int
    currency: str
    lines: tuple[LineFacts, ...]
    client: Client
    shipping_street: str = ""
    shipping_postal_code: str = ""
    shipping_city: str = ""
    shipping_country: str = ""
    prior_orders: int = 0  # this customer's paid and completed orders
    prior_max_minor: int = 0  # the largest of them
    account: AccountFacts | None = None
    now: datetime | None = None


@dataclass(frozen=True)
class PaymentAttemptFacts:
    order_id: int
    order_number: str
    user_id: int | None
    amount_minor: int
    currency: str
    client: Client
    card_fingerprint: str = ""  # known before the charge for a saved card only
    card_country: str = ""
    shipping_country: str = ""
    # The gateway's own checks, where it reports them: "pass", "fail" or "".
    cvc_check: str = ""
    address_check: str = ""
    gateway_risk_level: str = ""  # Stripe: normal, elevated, highest
    now: datetime | None = None


@dataclass(frozen=True)
class Reason:
    code: str
    text: str  # in a reviewer's words
    points: int


@dataclass(frozen=True)
class Assessment:
    score: int
    action: str  # allow, challenge, review, block
    reasons: tuple[Reason, ...] = ()
    id: int | None = None
    features: dict = field(default_factory=dict, compare=False)

    @property
    def blocked(self) -> bool:
        return self.action == "block"

    @property
    def held(self) -> bool:
        return self.action == "review"

    @property
    def wants_three_d_secure(self) -> bool:
        # A held order is looked at by a person anyway; a challenge is for the grey zone below it.
        return self.action == "challenge"


class OrderSummary(dict):
    """What the review desk shows of an order, supplied by orders (see `set_order_summary_source`)."""


_order_summary_source = None


def set_order_summary_source(source) -> None:
    """Orders registers `source(order_id) -> dict | None` at start-up: the review desk shows the
    order and the customer's history without risk importing orders."""
    global _order_summary_source
    _order_summary_source = source


def order_summary(order_id: int) -> dict | None:
    return _order_summary_source(order_id) if _order_summary_source is not None else None


def assess_order(*, facts: OrderFacts) -> Assessment:
    from . import services

    return services.assess_order(facts=facts)


def link_order(*, assessment: Assessment, order_id: int, order_number: str) -> None:
    from . import services

    services.link_order(assessment=assessment, order_id=order_id, order_number=order_number)


def assess_payment(*, facts: PaymentAttemptFacts) -> Assessment:
    from . import services

    return services.assess_payment(facts=facts)


def record_payment_result(
    *, order_id: int, user_id: int | None, client: Client, card_fingerprint: str, declined: bool, now=None
) -> None:
    from . import velocity

    velocity.record_payment_result(
        user_id=user_id, client=client, card_fingerprint=card_fingerprint, declined=declined, now=now
    )


def is_held(*, order_id: int) -> bool:
    from . import selectors

    return selectors.is_held(order_id=order_id)


def record_label(*, order_id: int, source: str, is_fraud: bool, actor=None) -> None:
    """A dispute, an early fraud warning, or a refund a manager marked as fraud: the truth about an order."""
    from . import services

    services.record_label(order_id=order_id, source=source, is_fraud=is_fraud, actor=actor)
