"""Every write of the cart and of orders. Views call these; nothing else changes a cart or an order."""

import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.utils import timezone

from shop.catalog import selectors as catalog
from shop.catalog import services as catalog_services
from shop.catalog.models import Product, Stock, Store
from shop.core import audit

from . import guest_links
from .models import Cart, CartLine, Order, OrderLine

logger = logging.getLogger(__name__)


class OrderError(Exception):
    """A request the shop must refuse; `str(error)` is a message for the shopper."""


class CartError(OrderError):
    pass


class OutOfStock(OrderError):
    pass


class IllegalTransition(OrderError):
    pass


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
) -> Order:
    """Turn the cart into an order awaiting payment, taking the units from one store's stock.

    Stock rows are locked (in a fixed order, so two checkouts cannot deadlock) and re-checked
    under the lock: two shoppers racing for the last unit get one order and one clear refusal.
    The cart row is locked too, so a double-clicked "Place order" makes one order, not two.
    """
    if fulfillment == Order.Fulfillment.PICKUP and (pickup_store is None or not pickup_store.pickup_enabled):
        raise OrderError("Choose a store for pickup.")
    if fulfillment == Order.Fulfillment.DELIVERY and shipping is None:
        raise OrderError("Enter a delivery address.")
    with transaction.atomic():
        cart = Cart.objects.select_for_update().get(pk=cart.pk)
        lines = list(cart.lines.select_related("product"))
        if not lines:
            raise CartError("Your cart is empty.")
        inactive = [line.product.name for line in lines if not line.product.is_active]
        if inactive:
            raise CartError(f"No longer sold, please remove from your cart: {', '.join(inactive)}.")
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
        audit.record(
            "order.placed",
            actor=order.user,
            subject=order,
            data={"fulfillment": fulfillment, "store_id": store.pk, "total_minor": order.total_minor},
        )
        from .tasks import send_order_confirmation

        send_order_confirmation.delay_on_commit(order.pk)
    return order


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
    for store_id in candidates:
        store_rows = by_store.get(store_id, [])
        if len(store_rows) == len(wanted) and all(row.quantity >= wanted[row.product_id] for row in store_rows):
            for row in store_rows:
                row.quantity = F("quantity") - wanted[row.product_id]
            Stock.objects.bulk_update(store_rows, ["quantity"])
            catalog_services.catalogue_changed()  # bulk_update sends no signal: stock shows on pages
            return Store.objects.get(pk=store_id)
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
    """Lock the order and move it to `status`, or raise IllegalTransition. Caller holds the transaction."""
    locked = Order.objects.select_for_update().get(pk=order.pk)
    if not locked.can_become(status):
        raise IllegalTransition(
            f"Order {locked.number} is {locked.get_status_display().lower()} and cannot become "
            f"{Order.Status(status).label.lower()}."
        )
    locked.status = status
    locked.save(update_fields=["status", "updated_at"])
    return locked


def mark_order_paid(*, order: Order) -> Order:
    """The gateway captured the money, or (pickup) authorized it until handover."""
    with transaction.atomic():
        order = _transition(order, Order.Status.PAID)
        audit.record("order.paid", subject=order, data={"total_minor": order.total_minor})
    return order


def cancel_order(*, order: Order, actor=None, reason: str = "") -> Order:
    """Cancel an order that has not left the shop, put its units back on the store's shelf, and
    release a payment that was only authorized."""
    from shop.payments import services as payments

    with transaction.atomic():
        order = _transition(order, Order.Status.CANCELLED)
        payments.void_for_order(order_id=order.pk)
        for line in order.lines.exclude(product=None).order_by("product_id"):
            Stock.objects.filter(store=order.store, product_id=line.product_id).update(
                quantity=F("quantity") + line.quantity
            )
        catalog_services.catalogue_changed()
        audit.record("order.cancelled", actor=actor, subject=order, data={"reason": reason[:200]})
    return order


# --- E-mail -----------------------------------------------------------------------------------


def send_order_confirmation(*, order_id: int) -> bool:
    """Send the confirmation once. Returns False when it had already gone (the task ran twice)."""
    with transaction.atomic():
        order = Order.objects.select_for_update().select_related("store").get(pk=order_id)
        if order.confirmation_sent_at is not None:
            return False
        link = order.get_absolute_url() if order.user_id else guest_links.url_for(order)
        context = {
            "order": order,
            "lines": list(order.lines.all()),
            "order_url": settings.SITE_URL + link,
            "shop_name": settings.SHOP_NAME,
        }
        message = EmailMultiAlternatives(
            subject=f"{settings.SHOP_NAME}: we received your order {order.number}",
            body=render_to_string("emails/order_confirmation.txt", context),
            to=[order.email],
        )
        message.attach_alternative(render_to_string("emails/order_confirmation.html", context), "text/html")
        message.send()
        order.confirmation_sent_at = timezone.now()
        order.save(update_fields=["confirmation_sent_at"])
    logger.info("Order confirmation sent for order id %s", order_id)
    return True
