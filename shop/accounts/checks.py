"""System checks of accounts: the passkey relying party must be a real HTTPS site in production."""

from django.conf import settings
from django.core.checks import Error

# Passkeys are bound to this host for good: changing it later makes every registered passkey useless.
E_PASSKEY_ORIGIN = "accounts.E001"


def check_passkey_relying_party(app_configs, **kwargs):
    if not settings.PRODUCTION:
        return []
    origin, rp_id = settings.SHOP_PASSKEY_ORIGIN, settings.SHOP_PASSKEY_RP_ID
    host_is_address = rp_id.replace(".", "").isdigit() or ":" in rp_id or rp_id in {"", "localhost"}
    if origin.startswith("https://") and not host_is_address:
        return []
    return [
        Error(
            f"SITE_URL ({settings.SITE_URL!r}) cannot be the passkeys' relying party in production.",
            hint="Set SITE_URL to the shop's public https:// address with its domain name, e.g. "
            "https://shop.example.com. Passkeys are bound to that domain (never an IP address or localhost).",
            id=E_PASSKEY_ORIGIN,
        )
    ]
