from django.apps import AppConfig


class SandboxGatewayConfig(AppConfig):
    """A local stand-in for a card payment provider, kept apart from the shop's own code.

    It has its own URL prefix (/sandbox-gateway/), templates, static files and CSP, and it knows
    nothing of orders: the shop reaches it only through gateways.base, as it would a real provider.
    """

    name = "shop.payments.gateways.sandbox"
    label = "sandbox_gateway"
    verbose_name = "Sandbox payment gateway"
    default_auto_field = "django.db.models.BigAutoField"
