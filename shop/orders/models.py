import secrets

from django.conf import settings
from django.db import models
from django.urls import reverse

from shop.catalog.models import Product, Store


class Cart(models.Model):
    """A basket in the database: a signed-in user's, or an anonymous visitor's (found via the session).

    `updated_at` lets the retention job delete anonymous carts nobody came back to.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="cart"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    def __str__(self):
        return f"Cart {self.pk}"


class CartLine(models.Model):
    cart = models.ForeignKey(Cart, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(Product, on_delete=models.CASCADE)
    quantity = models.PositiveIntegerField()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["cart", "product"], name="cartline_one_per_product"),
            models.CheckConstraint(condition=models.Q(quantity__gt=0), name="cartline_quantity_positive"),
        ]

    def __str__(self):
        return f"{self.quantity} x {self.product}"

    @property
    def line_total_minor(self) -> int:
        return self.product.price_minor * self.quantity


# Countries we deliver to (ISO 3166 alpha-2).
COUNTRIES = [("DE", "Germany"), ("AT", "Austria"), ("NL", "Netherlands"), ("FR", "France"), ("BE", "Belgium")]

# Crockford's base32: no I, L, O or U, so a number read aloud or typed is not misread.
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_order_number() -> str:
    """A public order number that says nothing about how many orders exist (50 random bits)."""
    raw = "".join(secrets.choice(CROCKFORD) for _ in range(10))
    return f"{raw[:5]}-{raw[5:]}"


class Order(models.Model):
    class Status(models.TextChoices):
        AWAITING_PAYMENT = "awaiting_payment", "Awaiting payment"
        PAID = "paid", "Paid"
        READY_FOR_PICKUP = "ready_for_pickup", "Ready for pickup"
        COLLECTED = "collected", "Collected"
        SHIPPED = "shipped", "Shipped"
        DELIVERED = "delivered", "Delivered"
        RETURNED = "returned", "Returned"
        CANCELLED = "cancelled", "Cancelled"
        EXPIRED = "expired", "Expired (not paid in time)"

    class Fulfillment(models.TextChoices):
        DELIVERY = "delivery", "Delivery"
        PICKUP = "pickup", "Pickup in store"

    # Every status change must appear here; anything else raises IllegalTransition.
    # Who moves each one is in README "Order lifecycle"; tests/orders/test_lifecycle_walk.py checks
    # that every status that is not closed has a service, desk action or beat task leaving it.
    TRANSITIONS = {
        Status.AWAITING_PAYMENT: {Status.PAID, Status.CANCELLED, Status.EXPIRED},
        Status.PAID: {Status.READY_FOR_PICKUP, Status.SHIPPED, Status.CANCELLED},
        Status.READY_FOR_PICKUP: {Status.COLLECTED, Status.CANCELLED},
        Status.SHIPPED: {Status.DELIVERED, Status.RETURNED},
        Status.DELIVERED: {Status.RETURNED},  # within the right of withdrawal (14 days)
        Status.COLLECTED: set(),
        Status.RETURNED: set(),
        Status.CANCELLED: set(),
        Status.EXPIRED: set(),
    }
    # The order's fulfilment is over: nothing is reserved, shipped or waiting any more. A deferred
    # erasure of its owner may go on, and retention may reach it (signals.order_closed is sent).
    CLOSED_STATUSES = frozenset({Status.COLLECTED, Status.DELIVERED, Status.RETURNED, Status.CANCELLED, Status.EXPIRED})

    number = models.CharField(max_length=11, unique=True, default=new_order_number, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="orders"
    )
    email = models.EmailField("contact e-mail")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.AWAITING_PAYMENT, db_index=True)
    fulfillment = models.CharField(max_length=10, choices=Fulfillment.choices)
    store = models.ForeignKey(
        Store,
        on_delete=models.PROTECT,
        related_name="orders",
        help_text="Where the units were taken from: the pickup store, or the store that ships.",
    )
    shipping_name = models.CharField(max_length=200, blank=True)
    shipping_street = models.CharField(max_length=200, blank=True)
    shipping_postal_code = models.CharField(max_length=20, blank=True)
    shipping_city = models.CharField(max_length=100, blank=True)
    shipping_country = models.CharField(max_length=2, blank=True, choices=COUNTRIES)
    subtotal_minor = models.PositiveIntegerField()
    delivery_fee_minor = models.PositiveIntegerField(default=0)
    total_minor = models.PositiveIntegerField()
    currency = models.CharField(max_length=3)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    confirmation_sent_at = models.DateTimeField(null=True, blank=True)
    # Click & collect (shop/orders/pickup.py). A name only: who else may collect the order.
    alternate_collector = models.CharField(
        "someone else collects", max_length=100, blank=True, help_text="Name only; the clerk checks it on an ID."
    )
    ready_at = models.DateTimeField(null=True, blank=True)
    pickup_deadline = models.DateTimeField(null=True, blank=True, db_index=True)
    collected_at = models.DateTimeField(null=True, blank=True)
    collected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    pickup_locked_at = models.DateTimeField(
        null=True, blank=True, help_text="Set after too many wrong pickup codes; a Shop manager releases it."
    )
    wrong_code_count = models.PositiveSmallIntegerField(default=0)
    reminder_sent_at = models.DateTimeField(null=True, blank=True)
    collected_notice_sent_at = models.DateTimeField(null=True, blank=True)
    expiry_notice_sent_at = models.DateTimeField(null=True, blank=True)
    # Pickup hand-over: the clerk ticked that they checked an ID (when the desk asked for it).
    id_checked = models.BooleanField(default=False)
    # The payment window (shop/orders/lifecycle.py): unpaid past this, the order expires.
    payment_due_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # While the order is unpaid: keyed digests of the session and client address that placed it,
    # so open unpaid orders can be counted per session and address (shop/orders/hoarding.py).
    # Both are emptied as soon as the order leaves "awaiting payment".
    placed_session_digest = models.CharField(max_length=64, blank=True, db_index=True, editable=False)
    placed_address_digest = models.CharField(max_length=64, blank=True, db_index=True, editable=False)
    paid_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_notice_sent_at = models.DateTimeField(null=True, blank=True)
    # Delivery (shop/orders/dispatch.py).
    carrier = models.CharField(max_length=20, blank=True)
    tracking_number = models.CharField(max_length=40, blank=True)
    shipped_at = models.DateTimeField(null=True, blank=True)
    shipped_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    shipped_notice_sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    delivered_notice_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [
            # The clerk's pickup desk in the admin (shop/orders/desk.py); Store clerks and Shop managers.
            ("use_pickup_desk", "Can find and hand over pickup orders at the pickup desk"),
            # The dispatch desk (shop/orders/dispatch_desk.py); Warehouse staff and Shop managers.
            ("use_dispatch_desk", "Can pack, ship and mark delivered orders at the dispatch desk"),
            # Cancel a paid order with a refund, record a return (Shop managers).
            ("cancel_paid_order", "Can cancel a paid order with a full refund, and record returns"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(total_minor=models.F("subtotal_minor") + models.F("delivery_fee_minor")),
                name="order_total_is_subtotal_plus_fee",
            )
        ]

    def __str__(self):
        return self.number

    def get_absolute_url(self):
        return reverse("orders:order_detail", args=[self.number])

    @property
    def is_pickup(self) -> bool:
        return self.fulfillment == self.Fulfillment.PICKUP

    def can_become(self, status: str) -> bool:
        return status in self.TRANSITIONS[self.Status(self.status)]

    @property
    def is_closed(self) -> bool:
        return self.status in self.CLOSED_STATUSES


class OrderLine(models.Model):
    """What was bought, frozen at the time of the order: later price or name changes don't touch it."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(Product, null=True, on_delete=models.SET_NULL, related_name="+")
    product_name = models.CharField(max_length=200)
    unit_price_minor = models.PositiveIntegerField()
    quantity = models.PositiveIntegerField()

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return f"{self.quantity} x {self.product_name}"

    @property
    def line_total_minor(self) -> int:
        return self.unit_price_minor * self.quantity


class PickupCode(models.Model):
    """One issue of an order's pickup codes. Only digests are stored (see shop/orders/pickup.py):
    the QR token's SHA-256 and an HMAC of the typed code; the codes themselves are derived from
    `nonce` under PICKUP_CODE_KEY when the owner's page or the e-mail shows them again."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="pickup_codes")
    nonce = models.BinaryField(max_length=16, editable=False)
    qr_digest = models.CharField(max_length=64, unique=True, editable=False)
    typed_digest = models.CharField(max_length=64, editable=False)
    issued_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    mailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-issued_at", "-id"]

    def __str__(self):
        return f"Pickup code {self.pk} of order {self.order_id}"


class OrderReturn(models.Model):
    """Goods sent back (EU right of withdrawal): what came back, what was refunded, who recorded it."""

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="returns")
    refunded_minor = models.PositiveIntegerField()
    restocked_units = models.PositiveIntegerField(default=0)
    note = models.CharField(max_length=300, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"Return of order {self.order_id}"
