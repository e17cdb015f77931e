"""Production fails closed: every unsafe combination of settings is a system check error.

The checks run with every management command (so `make serve` stops at `migrate`), with
`check --deploy` in CI, and once more when the WSGI application loads (shop/wsgi.py), so a
gunicorn started by hand refuses to serve too. Each message names the setting that fixes it.
"""

import hmac
import ipaddress

from django.conf import settings
from django.core.checks import Error, register
from django.core.exceptions import ImproperlyConfigured


def production_errors() -> list[Error]:
    """What is unsafe about these settings in production (nothing outside production)."""
    if not settings.PRODUCTION:
        return []
    return [*_payment_errors(), *_proxy_errors(), *_key_errors()]


def _payment_errors() -> list[Error]:
    if settings.PAYMENT_GATEWAY == "sandbox" and not settings.SANDBOX_IN_PRODUCTION:
        return [
            Error(
                "Production is set to take payments through the sandbox gateway, which accepts made-up "
                "cards and takes no money.",
                hint="Set PAYMENT_GATEWAY=stripe with the STRIPE_* keys, or, for a demo that takes no "
                "money, SANDBOX_IN_PRODUCTION=true (every page then shows a test-mode banner).",
                id="shop.E001",
            )
        ]
    if settings.SANDBOX_IN_PRODUCTION and settings.PAYMENT_GATEWAY != "sandbox":
        return [
            Error(
                f"SANDBOX_IN_PRODUCTION=true while PAYMENT_GATEWAY={settings.PAYMENT_GATEWAY}: unclear whether "
                "this deployment takes real payments.",
                hint="Remove SANDBOX_IN_PRODUCTION for real payments, or set PAYMENT_GATEWAY=sandbox for a demo.",
                id="shop.E002",
            )
        ]
    return []


def _proxy_errors() -> list[Error]:
    header, direct = settings.SHOP_TRUSTED_PROXY_HEADER, settings.SHOP_TRUSTED_PROXY_NONE
    if not header and not direct:
        return [
            Error(
                "No trusted-proxy decision: behind a proxy every shopper would share the proxy's address, "
                "so one attacker's failed logins would lock everyone out.",
                hint="Set TRUSTED_PROXY_HEADER=HTTP_X_FORWARDED_FOR (and TRUSTED_PROXY_ADDRESSES to the proxy's "
                "addresses) behind a reverse proxy, or TRUSTED_PROXY_NONE=true if clients connect directly.",
                id="shop.E003",
            )
        ]
    if header and direct:
        return [
            Error(
                "TRUSTED_PROXY_HEADER and TRUSTED_PROXY_NONE=true are both set.",
                hint="Keep TRUSTED_PROXY_HEADER behind a reverse proxy, or TRUSTED_PROXY_NONE=true without one.",
                id="shop.E004",
            )
        ]
    if header:
        if not header.startswith("HTTP_"):
            return [
                Error(
                    f"TRUSTED_PROXY_HEADER={header} is not a request header name as Django sees it.",
                    hint="Use the META name, e.g. HTTP_X_FORWARDED_FOR for X-Forwarded-For.",
                    id="shop.E005",
                )
            ]
        if not settings.SHOP_TRUSTED_PROXY_ADDRESSES:
            return [
                Error(
                    "TRUSTED_PROXY_ADDRESSES is empty, so the forwarded header would never be believed.",
                    hint="Set TRUSTED_PROXY_ADDRESSES to the proxy's addresses, e.g. 127.0.0.1,::1.",
                    id="shop.E006",
                )
            ]
        for entry in settings.SHOP_TRUSTED_PROXY_ADDRESSES:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                return [
                    Error(
                        f"TRUSTED_PROXY_ADDRESSES holds {entry!r}, which is not an address or network.",
                        hint="List addresses or networks, comma-separated: 127.0.0.1,::1,10.0.0.0/24.",
                        id="shop.E007",
                    )
                ]
    return []


def _key_errors() -> list[Error]:
    other_keys = (settings.SECRET_KEY, settings.PICKUP_CODE_KEY)
    if any(hmac.compare_digest(settings.CARD_FINGERPRINT_KEY.encode(), key.encode()) for key in other_keys):
        return [
            Error(
                "CARD_FINGERPRINT_KEY is the same as SECRET_KEY or PICKUP_CODE_KEY.",
                hint="Give CARD_FINGERPRINT_KEY its own random value (e.g. python -c "
                "'import secrets; print(secrets.token_urlsafe(32))').",
                id="shop.E008",
            )
        ]
    return []


@register()
def check_production_settings(app_configs, **kwargs) -> list[Error]:
    return production_errors()


def refuse_unsafe_production() -> None:
    """Raise before serving a single request if production is configured unsafely."""
    errors = production_errors()
    if errors:
        raise ImproperlyConfigured(" ".join(f"{error.id}: {error.msg} {error.hint}" for error in errors))
