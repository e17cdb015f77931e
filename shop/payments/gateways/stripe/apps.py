from django.apps import AppConfig


class StripeGatewayConfig(AppConfig):
    """Stripe's card element on the payment page: the partial and the script that drive it.

    Kept beside the gateway rather than in the shop's templates, so that everything Stripe-specific
    lives under gateways/stripe/ and the shop's own pages stay provider-neutral.
    """

    name = "shop.payments.gateways.stripe"
    label = "stripe_gateway"
    verbose_name = "Stripe payment gateway"
