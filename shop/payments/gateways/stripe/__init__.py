"""Stripe as the shop's payment gateway (PAYMENT_GATEWAY=stripe): gateway.StripeGateway.

Installed as a small app (apps.StripeGatewayConfig) only so that its card-fields partial and
its glue script are found; it has no models and no URLs.
"""
