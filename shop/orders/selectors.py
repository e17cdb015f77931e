"""Reads of carts and orders shared by views, services and the context processor."""

from dataclasses import dataclass

from django.db.models import Prefetch, QuerySet, Sum

from shop.catalog import selectors as catalog

from .models import Cart, CartLine, Order

# The session key under which an anonymous visitor's cart id is kept (server-side, not in a cookie).
SESSION_CART_KEY = "cart_id"
# Order numbers a guest placed in this session: they may see those orders without a link.
SESSION_GUEST_ORDERS_KEY = "guest_orders"


def find_cart(*, user, session) -> Cart | None:
    if user.is_authenticated:
        return Cart.objects.filter(user=user).first()
    cart_id = session.get(SESSION_CART_KEY)
    if cart_id is None:
        return None
    return Cart.objects.filter(pk=cart_id, user=None).first()


def cart_item_count(*, user, session) -> int:
    if user.is_authenticated:
        lines = CartLine.objects.filter(cart__user=user)
    elif session.get(SESSION_CART_KEY):
        lines = CartLine.objects.filter(cart_id=session[SESSION_CART_KEY], cart__user=None)
    else:
        return 0
    return lines.aggregate(n=Sum("quantity"))["n"] or 0


@dataclass(frozen=True)
class CartView:
    lines: list[CartLine]
    subtotal_minor: int
    currency: str
    max_orderable: dict[int, int]

    @property
    def item_count(self) -> int:
        return sum(line.quantity for line in self.lines)

    @property
    def quantities(self) -> dict[int, int]:
        return {line.product_id: line.quantity for line in self.lines}

    def shortages(self) -> list[CartLine]:
        return [line for line in self.lines if line.quantity > self.max_orderable.get(line.product_id, 0)]


def cart_view(*, cart: Cart | None, currency: str) -> CartView:
    """A cart's lines with their products, and how many of each one store can still supply: 3 queries."""
    if cart is None:
        return CartView(lines=[], subtotal_minor=0, currency=currency, max_orderable={})
    lines = list(cart.lines.select_related("product", "product__category"))
    return CartView(
        lines=lines,
        subtotal_minor=sum(line.line_total_minor for line in lines),
        currency=currency,
        max_orderable=catalog.max_orderable(product_ids=[line.product_id for line in lines]),
    )


def orders_of(*, user) -> QuerySet[Order]:
    return Order.objects.filter(user=user).select_related("store").prefetch_related("lines")


def order_with_lines(*, number: str) -> Order | None:
    return Order.objects.select_related("store").prefetch_related(Prefetch("lines")).filter(number=number).first()


def visible_order(*, number: str, user, session) -> Order | None:
    """The order if this visitor may see it (its owner, or the guest who placed it in this session)."""
    order = order_with_lines(number=number)
    if order is None:
        return None
    if order.user_id is not None:
        return order if user.is_authenticated and user.pk == order.user_id else None
    return order if number in session.get(SESSION_GUEST_ORDERS_KEY, []) else None
