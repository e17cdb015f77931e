"""Personal data kept by payments (see shop/privacy/registry.py)."""

from shop.privacy.registry import declare

declare(
    "payments.PaymentMethod",
    fields=["user", "gateway", "brand", "last4", "exp_month", "exp_year", "created_at"],
    purpose="Cards saved for faster checkout (the gateway's token, never the card number).",
    legal_basis="consent (Art. 6(1)(a)), given when saving the card",
    subject="user",
    erasure="delete",
    # Detached at the gateway first, so the token cannot be charged any more.
    eraser="shop.payments.personal_data.delete_saved_cards",
)


def delete_saved_cards(*, user, queryset) -> int:
    from . import services

    ids = list(queryset.values_list("pk", flat=True))
    for method_id in ids:
        services.delete_saved_card(user=user, method_id=method_id)
    return len(ids)
