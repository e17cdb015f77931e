"""Personal data kept by orders (see shop/privacy/registry.py)."""

from shop.privacy.registry import declare

declare(
    "orders.Cart",
    fields=["user", "created_at", "updated_at"],
    purpose="The shopping basket of a signed-in customer.",
    legal_basis="contract (Art. 6(1)(b))",
    subject="user",
    erasure="delete",
)
declare(
    "orders.CartLine",
    fields=["cart", "product", "quantity"],
    purpose="What is in the basket.",
    legal_basis="contract (Art. 6(1)(b))",
    subject="cart__user",
    erasure="delete",
)
declare(
    "orders.Order",
    fields=[
        "user",
        "email",
        "shipping_name",
        "shipping_street",
        "shipping_postal_code",
        "shipping_city",
        "shipping_country",
        "alternate_collector",
        "carrier",
        "tracking_number",
        "placed_session_digest",
        "placed_address_digest",
        "number",
        "status",
        "fulfillment",
        "total_minor",
        "currency",
        "created_at",
    ],
    purpose="Selling, delivering or handing over the goods; invoices and accounting.",
    legal_basis="legal obligation (accounting) (Art. 6(1)(c), Art. 17(3)(b))",
    subject="user",
    erasure="anonymise",
    # Amounts, dates and lines stay for the accounting retention period; the person goes.
    anonymise={
        "email": "erased@invalid",
        "shipping_name": "",
        "shipping_street": "",
        "shipping_postal_code": "",
        "shipping_city": "",
        "alternate_collector": "",
        "tracking_number": "",
        "placed_session_digest": "",
        "placed_address_digest": "",
    },
    keep_reason="Invoices and ledgers must be kept for the accounting retention period; "
    "the order keeps amounts and dates without the customer's contact details.",
)
declare(
    "orders.OrderReturn",
    fields=["order", "refunded_minor", "note", "created_at"],
    purpose="Goods sent back under the right of withdrawal: what was refunded and restocked, and who recorded it.",
    legal_basis="legal obligation (accounting, consumer law) (Art. 6(1)(c))",
    subject="order__user",
    erasure="anonymise",
    anonymise={"note": ""},
    keep_reason="Refunds belong to the accounts; the free-text note is cleared.",
)
