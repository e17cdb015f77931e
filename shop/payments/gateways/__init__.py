from django.conf import settings
from django.utils.module_loading import import_string

from .base import Gateway

GATEWAYS = {
    "sandbox": "shop.payments.gateways.sandbox.gateway.SandboxGateway",
    "stripe": "shop.payments.gateways.stripe.gateway.StripeGateway",
}


def get_gateway(name: str | None = None) -> Gateway:
    """The configured gateway (settings.PAYMENT_GATEWAY), or the one a stored payment used."""
    return import_string(GATEWAYS[name or settings.PAYMENT_GATEWAY])()
