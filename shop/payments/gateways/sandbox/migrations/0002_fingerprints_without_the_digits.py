"""Tokens stored an unkeyed SHA-256 of the full card number: replace it with the digit-free fingerprint.

The formula is the one of models.card_fingerprint at the time of writing, frozen here.
"""

import hashlib

from django.db import migrations


def _fingerprint(token) -> str:
    seen = f"sandbox-card:{token.brand}:{token.last4}:{token.exp_month:02d}/{token.exp_year}".encode()
    return "fp_" + hashlib.sha256(seen).hexdigest()[:32]


def replace_fingerprints(apps, schema_editor):
    SandboxToken = apps.get_model("sandbox_gateway", "SandboxToken")
    for token in SandboxToken.objects.only("pk", "brand", "last4", "exp_month", "exp_year").iterator():
        SandboxToken.objects.filter(pk=token.pk).update(fingerprint=_fingerprint(token))


class Migration(migrations.Migration):
    dependencies = [("sandbox_gateway", "0001_initial")]

    # Irreversible on purpose: the old values must not come back.
    operations = [migrations.RunPython(replace_fingerprints, migrations.RunPython.noop)]
