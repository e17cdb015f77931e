"""Saved cards' fingerprints become HMAC-SHA256 under CARD_FINGERPRINT_KEY (shop/payments/fingerprints.py).

Sandbox cards stored an unkeyed SHA-256 of the card number: it is dropped and replaced by the key
over the sandbox's digit-free fingerprint (made from brand, last 4 and expiry, as the sandbox now
does). Other gateways stored the provider's own fingerprint: it is keyed in place. Two saved
cards of one person that now coincide keep the newest.
"""

import hashlib
import hmac

from django.conf import settings
from django.db import migrations


def _keyed(gateway: str, fingerprint: str) -> str:
    message = f"{gateway}:{fingerprint}".encode()
    return hmac.new(settings.CARD_FINGERPRINT_KEY.encode(), message, hashlib.sha256).hexdigest()


def _sandbox(method) -> str:
    seen = f"sandbox-card:{method.brand}:{method.last4}:{method.exp_month:02d}/{method.exp_year}".encode()
    return "fp_" + hashlib.sha256(seen).hexdigest()[:32]


def key_fingerprints(apps, schema_editor):
    PaymentMethod = apps.get_model("payments", "PaymentMethod")
    targets: dict[int, str] = {}
    seen: set[tuple[int, str]] = set()
    for method in PaymentMethod.objects.order_by("-created_at", "-pk").iterator():
        source = _sandbox(method) if method.gateway == "sandbox" else method.fingerprint or method.token
        keyed = _keyed(method.gateway, source)
        if (method.user_id, keyed) in seen:
            method.delete()
            continue
        seen.add((method.user_id, keyed))
        targets[method.pk] = keyed
    # Placeholders first, so that values moving between rows never trip the unique constraint.
    for pk in targets:
        PaymentMethod.objects.filter(pk=pk).update(fingerprint=f"rekey-{pk}")
    for pk, keyed in targets.items():
        PaymentMethod.objects.filter(pk=pk).update(fingerprint=keyed)


class Migration(migrations.Migration):
    dependencies = [("payments", "0002_payment_refund_permission")]

    # Irreversible on purpose: the unkeyed values must not come back.
    operations = [migrations.RunPython(key_fingerprints, migrations.RunPython.noop)]
