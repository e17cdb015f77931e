"""The boundary to a payment provider: dataclasses in, dataclasses out, nothing of the provider leaks.

A gateway never sees an order, and the shop never sees a card number: the browser hands card
details to the provider's own fields (an iframe or the provider's script), which return a
token; the shop charges the token. One setting, PAYMENT_GATEWAY, names the implementation.
"""

from dataclasses import dataclass, field
from typing import Protocol


class GatewayError(Exception):
    """The provider could not be reached or answered something unexpected: try again later."""


class WebhookSignatureError(Exception):
    """A webhook whose signature is missing, wrong or too old."""


@dataclass(frozen=True)
class Card:
    brand: str
    last4: str
    exp_month: int
    exp_year: int
    fingerprint: str


@dataclass(frozen=True)
class ChargeRequest:
    amount_minor: int
    currency: str
    token: str
    idempotency_key: str
    capture: bool  # False: authorize only (pickup orders are captured at handover)
    return_url: str  # where the shopper comes back after a 3-D Secure challenge
    description: str = ""
    save_card: bool = False
    three_d_secure: bool = False  # ask the bank to challenge the shopper (the risk engine wants it)


# ChargeResult.status values
AUTHORIZED = "authorized"
CAPTURED = "captured"
REQUIRES_ACTION = "requires_action"
DECLINED = "declined"
VOIDED = "voided"


@dataclass(frozen=True)
class ChargeResult:
    status: str
    reference: str = ""
    action_url: str = ""  # with REQUIRES_ACTION: send the shopper here
    decline_code: str = ""  # with DECLINED: generic_decline, insufficient_funds, expired_card, ...
    card: Card | None = None
    saved_token: str = ""  # a reusable token when the shopper asked to save the card


@dataclass(frozen=True)
class RefundResult:
    reference: str
    succeeded: bool


@dataclass(frozen=True)
class WebhookEvent:
    id: str
    type: str  # payment.captured, payment.authorized, payment.failed, payment.voided, refund.succeeded
    reference: str  # the charge it is about
    created: int  # provider's timestamp (seconds)
    amount_minor: int = 0
    data: dict = field(default_factory=dict)  # nothing sensitive


@dataclass(frozen=True)
class ClientConfig:
    """What the payment page needs to show the provider's card fields."""

    template: str  # the partial that renders the provider's fields
    context: dict
    # Extra CSP sources for the payment page only, e.g. {"frame-src": [...], "script-src": [...]}.
    csp: dict
    # Scripts the payment page may load: (url, Subresource Integrity hash), listed in one place.
    scripts: tuple[tuple[str, str], ...] = ()


class Gateway(Protocol):
    name: str

    def charge(self, request: ChargeRequest) -> ChargeResult: ...

    def confirm_action(self, *, reference: str) -> ChargeResult:
        """After the shopper returns from a 3-D Secure challenge: the charge's current state."""

    def capture(self, *, reference: str, amount_minor: int, idempotency_key: str) -> ChargeResult: ...

    def void(self, *, reference: str, idempotency_key: str) -> ChargeResult: ...

    def refund(self, *, reference: str, amount_minor: int, idempotency_key: str) -> RefundResult: ...

    def detach(self, *, token: str) -> None:
        """Forget a saved card at the provider."""

    def client_config(self, *, request) -> ClientConfig: ...

    def parse_webhook(self, *, body: bytes, headers) -> WebhookEvent:
        """Verify the signature (raise WebhookSignatureError) and return the event."""
