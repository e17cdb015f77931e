"""Every write of the cart and of orders. Views call these; nothing else changes a cart or an order."""

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from shop.catalog import selectors as catalog
from shop.catalog import services as catalog_services
from shop.catalog.models import Product, Stock, Store
from shop.core import audit

from . import fraud, hoarding, signals
from .errors import CartError, IllegalTransition, OrderError, OutOfStock, ShareLimit, TooManyOpenOrders
from .models import Cart, CartLine, Order, OrderLine

logger = logging.getLogger(__name__)


# The errors live in errors.py (hoarding and dispatch raise them too); services is where views find them.
__all__ = ["CartError", "IllegalTransition", "OrderError", "OutOfStock", "ShareLimit", "TooManyOpenOrders"]


# --- Cart -------------------------------------------------------------------------------------


def open_cart(*, user=None) -> Cart:
    """The signed-in user's cart (created on first use), or a new cart for an anonymous visitor."""
    if user is not None and user.is_authenticated:
        cart, _ = Cart.objects.get_or_create(user=user)
        return cart
    return Cart.objects.create()


def add_to_cart(*, cart: Cart, product: Product, quantity: int) -> CartLine:
    """Add units of a product, refusing more than one store can supply."""
    if not product.is_active:
        raise CartError("This product is no longer sold.")
    with transaction.atomic():
        cart = Cart.objects.select_for_update().get(pk=cart.pk)
        line = cart.lines.filter(product=product).first()
        in_cart = line.quantity if line else 0
        _check_quantity(product=product, quantity=in_cart + quantity, in_cart=in_cart)
        if line:
            line.quantity = in_cart + quantity
            line.save(update_fields=["quantity"])
        else:
            line = CartLine.objects.create(cart=cart, product=product, quantity=quantity)
        cart.save(update_fields=["updated_at"])
    return line


def set_cart_quantity(*, cart: Cart, product: Product, quantity: int) -> None:
    """Change a line to exactly `quantity` units; 0 removes it."""
    with transaction.atomic():
        cart = Cart.objects.select_for_update().get(pk=cart.pk)
        line = cart.lines.filter(product=product).first()
        if line is None:
            raise CartError("That product is not in your cart any more.")
        if quantity == 0:
            line.delete()
        else:
            _check_quantity(product=product, quantity=quantity, in_cart=None)
            line.quantity = quantity
            line.save(update_fields=["quantity"])
        cart.save(update_fields=["updated_at"])


def remove_from_cart(*, cart: Cart, product: Product) -> None:
    with transaction.atomic():
        cart.lines.filter(product=product).delete()
        cart.save(update_fields=["updated_at"])


def merge_carts(*, source: Cart, target: Cart) -> list[str]:
    """Move an anonymous cart into the user's cart at login; return notes on lines that were capped."""
    notes = []
    with transaction.atomic():
        for line in source.lines.select_related("product"):
            if not line.product.is_active:
                notes.append(f"{line.product.name} is no longer sold and was left out.")
                continue
            existing = target.lines.filter(product=line.product).first()
            wanted = line.quantity + (existing.quantity if existing else 0)
            possible = min(wanted, settings.SHOP_MAX_LINE_QUANTITY, _max_orderable(line.product))
            if possible < wanted:
                notes.append(f"Only {possible} of {line.product.name} can be ordered; your cart was adjusted.")
            if possible <= 0:
                continue
            CartLine.objects.update_or_create(cart=target, product=line.product, defaults={"quantity": possible})
        source.delete()
        target.save(update_fields=["updated_at"])
    return notes


def _max_orderable(product: Product) -> int:
    return catalog.max_orderable(product_ids=[product.pk])[product.pk]


def _check_quantity(*, product: Product, quantity: int, in_cart: int | None) -> None:
    if quantity < 1:
        raise CartError("Choose a quantity of at least 1.")
    limit = settings.SHOP_MAX_LINE_QUANTITY
    if quantity > limit:
        raise CartError(f"You can order at most {limit} of one product.")
    available = _max_orderable(product)
    if quantity > available:
        if available == 0:
            raise CartError(f"{product.name} is out of stock.")
        held = f" and you already have {in_cart} in your cart" if in_cart else ""
        raise CartError(f"Only {available} of {product.name} can be ordered{held}.")


# --- Checkout ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ShippingAddress:
    name: str
    street: str
    postal_code: str
    city: str
    country: str


def delivery_fee_minor(*, fulfillment: str, subtotal_minor: int) -> int:
    if fulfillment != Order.Fulfillment.DELIVERY or subtotal_minor >= settings.SHOP_FREE_DELIVERY_FROM_MINOR:
        return 0
    return settings.SHOP_DELIVERY_FEE_MINOR


def place_order(
    *,
    cart: Cart,
    email: str,
    fulfillment: str,
    user=None,
    pickup_store: Store | None = None,
    shipping: ShippingAddress | None = None,
    alternate_collector: str = "",
    placement: hoarding.Placement | None = None,
    client=None,
) -> Order:
    """Turn the cart into an order awaiting payment, taking the units from one store's stock for
    the payment window (SHOP_PAYMENT_WINDOW_MINUTES; lifecycle.expire_unpaid gives them back).

    Stock rows are locked (in a fixed order, so two checkouts cannot deadlock) and re-checked
    under the lock: two shoppers racing for the last unit get one order and one clear refusal.
    The cart row is locked too, so a double-clicked "Place order" makes one order, not two, and
    the open-order limits of one session are counted under that lock (hoarding.py).
    No e-mail goes out now: the receipt is sent when the payment succeeds.
    """
    placement = placement or hoarding.Placement()
    if fulfillment == Order.Fulfillment.PICKUP and (pickup_store is None or not pickup_store.pickup_enabled):
        raise OrderError("Choose a store for pickup.")
    if fulfillment == Order.Fulfillment.DELIVERY and shipping is None:
        raise OrderError("Enter a delivery address.")
    assessment = _assess_checkout(
        cart, email=email, fulfillment=fulfillment, user=user, shipping=shipping, client=client
    )
    with transaction.atomic():
        cart = Cart.objects.select_for_update().get(pk=cart.pk)
        lines = list(cart.lines.select_related("product"))
        if not lines:
            raise CartError("Your cart is empty.")
        inactive = [line.product.name for line in lines if not line.product.is_active]
        if inactive:
            raise CartError(f"No longer sold, please remove from your cart: {', '.join(inactive)}.")
        hoarding.check_open_orders(user=user, placement=placement)
        wanted = {line.product_id: line.quantity for line in lines}
        store = _take_stock(wanted=wanted, fulfillment=fulfillment, pickup_store=pickup_store)

        currency = settings.SHOP_CURRENCY
        if any(line.product.currency != currency for line in lines):
            raise CartError("Your cart holds a product in another currency; please remove it.")
        subtotal = sum(line.line_total_minor for line in lines)
        fee = delivery_fee_minor(fulfillment=fulfillment, subtotal_minor=subtotal)
        address = shipping if fulfillment == Order.Fulfillment.DELIVERY else None
        order = Order.objects.create(
            user=user if user is not None and user.is_authenticated else None,
            email=email,
            fulfillment=fulfillment,
            store=store,
            shipping_name=address.name if address else "",
            shipping_street=address.street if address else "",
            shipping_postal_code=address.postal_code if address else "",
            shipping_city=address.city if address else "",
            shipping_country=address.country if address else "",
            alternate_collector=alternate_collector[:100] if fulfillment == Order.Fulfillment.PICKUP else "",
            subtotal_minor=subtotal,
            delivery_fee_minor=fee,
            total_minor=subtotal + fee,
            currency=currency,
            payment_due_at=timezone.now() + timedelta(minutes=settings.SHOP_PAYMENT_WINDOW_MINUTES),
            placed_session_digest=placement.session_digest,
            placed_address_digest=placement.address_digest,
        )
        OrderLine.objects.bulk_create(
            OrderLine(
                order=order,
                product=line.product,
                product_name=line.product.name,
                unit_price_minor=line.product.price_minor,
                quantity=line.quantity,
            )
            for line in lines
        )
        cart.lines.all().delete()
        cart.save(update_fields=["updated_at"])
        if assessment is not None:
            fraud.link(assessment=assessment, order=order)
        audit.record(
            "order.placed",
            actor=order.user,
            subject=order,
            data={"fulfillment": fulfillment, "store_id": store.pk, "total_minor": order.total_minor},
        )
    return order


def _assess_checkout(cart: Cart, *, email, fulfillment, user, shipping, client):
    """The risk engine's opinion of this checkout (shop/orders/fraud.py); raises OrderError on a block."""
    lines = list(cart.lines.select_related("product__category"))
    if not lines:
        return None  # the empty cart is refused below
    subtotal = sum(line.line_total_minor for line in lines)
    total = subtotal + delivery_fee_minor(fulfillment=fulfillment, subtotal_minor=subtotal)
    return fraud.assess_checkout(
        lines=lines,
        email=email,
        fulfillment=fulfillment,
        user=user,
        shipping=shipping,
        total_minor=total,
        currency=settings.SHOP_CURRENCY,
        client=client,
    )


def _take_stock(*, wanted: dict[int, int], fulfillment: str, pickup_store: Store | None) -> Store:
    """Lock the candidate stores' stock rows, pick the first store that has it all, decrement it."""
    if fulfillment == Order.Fulfillment.PICKUP:
        candidates = [pickup_store.pk]
    else:
        candidates = list(Store.objects.filter(ships_orders=True).order_by("pk").values_list("pk", flat=True))
    rows = list(
        Stock.objects.select_for_update()
        .filter(store_id__in=candidates, product_id__in=wanted)
        .select_related("product")
        .order_by("store_id", "product_id")
    )
    by_store: dict[int, list[Stock]] = {}
    for row in rows:
        by_store.setdefault(row.store_id, []).append(row)
    too_much: list[str] = []
    for store_id in candidates:
        store_rows = by_store.get(store_id, [])
        if len(store_rows) == len(wanted) and all(row.quantity >= wanted[row.product_id] for row in store_rows):
            over = [row for row in store_rows if wanted[row.product_id] > hoarding.max_units(row.quantity)]
            if over:
                too_much = [f"{hoarding.max_units(row.quantity)} of {row.product.name}" for row in over]
                continue
            for row in store_rows:
                row.quantity = F("quantity") - wanted[row.product_id]
            Stock.objects.bulk_update(store_rows, ["quantity"])
            catalog_services.catalogue_changed()  # bulk_update sends no signal: stock shows on pages
            return Store.objects.get(pk=store_id)
    if too_much:
        raise ShareLimit(
            f"Until it is paid, one order can reserve at most {', '.join(too_much)} from a store. "
            "Lower the quantity, pay for this order, then order the rest."
        )
    if fulfillment == Order.Fulfillment.PICKUP:
        short = _shortfall(wanted, by_store.get(pickup_store.pk, []))
        raise OutOfStock(
            f"{pickup_store.name} no longer has enough of: {short}. Lower the quantity or choose another store."
        )
    raise OutOfStock("We can no longer ship all of your cart in one parcel. Lower a quantity or choose pickup.")


def _shortfall(wanted: dict[int, int], rows: list[Stock]) -> str:
    have = {row.product_id: row for row in rows}
    names = Product.objects.in_bulk(wanted)
    return ", ".join(
        f"{names[pid].name} (only {have[pid].quantity if pid in have else 0} left)"
        for pid, qty in wanted.items()
        if pid not in have or have[pid].quantity < qty
    )


# --- Order lifecycle --------------------------------------------------------------------------


def _transition(order: Order, status: str) -> Order:
    """Lock the order and move it to `status`, or raise IllegalTransition. Caller holds the transaction.

    Leaving "awaiting payment" forgets the session and address digests (they only count open
    unpaid orders); reaching a closed status stamps closed_at and, after commit, sends order_closed.
    """
    locked = Order.objects.select_for_update().get(pk=order.pk)
    if not locked.can_become(status):
        raise IllegalTransition(
            f"Order {locked.number} is {locked.get_status_display().lower()} and cannot become "
            f"{Order.Status(status).label.lower()}."
        )
    locked.status = status
    fields = ["status", "updated_at"]
    if locked.placed_session_digest or locked.placed_address_digest:
        locked.placed_session_digest = locked.placed_address_digest = ""
        fields += ["placed_session_digest", "placed_address_digest"]
    if status in Order.CLOSED_STATUSES and locked.closed_at is None:
        locked.closed_at = timezone.now()
        fields.append("closed_at")
        order_id, user_id = locked.pk, locked.user_id
        transaction.on_commit(
            lambda: signals.order_closed.send(sender=Order, order_id=order_id, user_id=user_id, status=status)
        )
    locked.save(update_fields=fields)
    return locked


def mark_order_paid(*, order: Order) -> Order:
    """The gateway captured the money, or (pickup) authorized it until handover: the shopper's
    receipt is the first e-mail the order sends (nothing goes to a typed address before payment)."""
    with transaction.atomic():
        order = _transition(order, Order.Status.PAID)
        order.paid_at = timezone.now()
        order.save(update_fields=["paid_at"])
        audit.record("order.paid", subject=order, data={"total_minor": order.total_minor})
        from .tasks import send_order_confirmation

        send_order_confirmation.delay_on_commit(order.pk)
    return order


def restock(order: Order) -> int:
    """Put an order's units back on its store's shelf (stock rows in product order). Returns the units."""
    units = 0
    for line in order.lines.exclude(product=None).order_by("product_id"):
        Stock.objects.filter(store=order.store, product_id=line.product_id).update(
            quantity=F("quantity") + line.quantity
        )
        units += line.quantity
    catalog_services.catalogue_changed()  # update() sends no signal: the shelves on cached pages move on
    return units


def cancel_order(*, order: Order, actor=None, reason: str = "") -> Order:
    """Cancel an order that has not left the shop, put its units back on the store's shelf,
    release a payment that was only authorized (or still in 3-D Secure), and refund one that was
    captured (a Shop manager cancelling a paid delivery order: lifecycle.cancel_paid_order)."""
    from shop.payments import services as payments

    with transaction.atomic():
        order = _transition(order, Order.Status.CANCELLED)
        payments.void_for_order(order_id=order.pk)
        refund = payments.refund_for_order(order_id=order.pk, actor=actor, key=f"cancel-{order.pk}")
        restock(order)
        audit.record(
            "order.cancelled",
            actor=actor,
            subject=order,
            data={"reason": reason[:200], "refund_id": refund.pk if refund else None},
        )
    return order
