from django.conf import settings


def payment_test_mode(request) -> dict:
    """True while the sandbox takes the payments: every storefront and admin page then says so."""
    return {"payment_test_mode": settings.PAYMENT_GATEWAY == "sandbox"}
