"""Nobody can hoard the shelves (OWASP OAT-021, denial of inventory).

Every order starts unpaid and holds its units until it is paid or the payment window ends. So an
unpaid order is bounded twice:

- how many may be open at once per session, per account and per client address (the address as
  the trusted proxy reports it, `accounts.lockout.client_ip`; its limit is higher than the others so
  one office behind a NAT is not locked out by three colleagues);
- what share of one store's units of a product it may take (at least one unit).

Past one open unpaid order, checkout also asks for the proof-of-work challenge sign-up uses.

The session key and the address are never stored: an unpaid order keeps a keyed digest of each
(`salted_hmac`, under SECRET_KEY), and forgets both as soon as it is paid, cancelled or expires.
"""

from dataclasses import dataclass

from django.conf import settings
from django.db.models import Q
from django.utils.crypto import salted_hmac

from .errors import TooManyOpenOrders
from .models import Order


def _digest(kind: str, value: str) -> str:
    return salted_hmac(f"shop.orders.hoarding.{kind}", value).hexdigest() if value else ""


@dataclass(frozen=True)
class Placement:
    """Where a checkout comes from: the visitor's session key and client address."""

    session_key: str = ""
    address: str = ""

    @property
    def session_digest(self) -> str:
        return _digest("session", self.session_key)

    @property
    def address_digest(self) -> str:
        return _digest("address", self.address)


def open_unpaid_orders(*, user, placement: Placement):
    """The open unpaid orders of this account, this session or this address."""
    match = Q(pk__in=[])
    if user is not None and user.is_authenticated:
        match |= Q(user_id=user.pk)
    if placement.session_key:
        match |= Q(placed_session_digest=placement.session_digest)
    if placement.address:
        match |= Q(placed_address_digest=placement.address_digest)
    return Order.objects.filter(match, status=Order.Status.AWAITING_PAYMENT)


def counts(*, user, placement: Placement) -> dict[str, int]:
    unpaid = Order.objects.filter(status=Order.Status.AWAITING_PAYMENT)
    result = {"session": 0, "address": 0, "account": 0}
    if placement.session_key:
        result["session"] = unpaid.filter(placed_session_digest=placement.session_digest).count()
    if placement.address:
        result["address"] = unpaid.filter(placed_address_digest=placement.address_digest).count()
    if user is not None and user.is_authenticated:
        result["account"] = unpaid.filter(user_id=user.pk).count()
    return result


def check_open_orders(*, user, placement: Placement) -> None:
    """Raise TooManyOpenOrders when one more unpaid order would pass a limit."""
    have = counts(user=user, placement=placement)
    limits = {
        "session": settings.SHOP_UNPAID_ORDERS_PER_SESSION,
        "account": settings.SHOP_UNPAID_ORDERS_PER_ACCOUNT,
        "address": settings.SHOP_UNPAID_ORDERS_PER_ADDRESS,
    }
    for kind in ("session", "account", "address"):
        if have[kind] >= limits[kind]:
            raise TooManyOpenOrders(
                f"You already have {have[kind]} unpaid orders open. Pay for one of them or cancel it, "
                "then place this order. Unpaid orders are also cancelled by themselves when their time to pay runs out."
            )


def needs_challenge(*, user, placement: Placement) -> bool:
    have = counts(user=user, placement=placement)
    return max(have.values()) >= settings.SHOP_CHECKOUT_CHALLENGE_FROM_UNPAID


def max_units(store_quantity: int) -> int:
    """The most units of one product one unpaid order may take from a store holding `store_quantity`."""
    return max(1, store_quantity * settings.SHOP_UNPAID_STOCK_SHARE_PERCENT // 100)
