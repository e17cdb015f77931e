"""Saved cards' fingerprints at rest: keyed, so they never lead back to a card number.

A fingerprint tells two saved cards apart ("this card is already saved"). An unkeyed hash of
the card number is no secret: with the stored last 4 digits and the issuer's prefix, the number
space left is small enough to search in seconds (PCI DSS 3.5.1). So the shop stores only an
HMAC under CARD_FINGERPRINT_KEY, which the database does not hold, over the gateway's own
fingerprint (Stripe's card.fingerprint; the sandbox's, which does not depend on the digits).
"""

import hashlib
import hmac

from django.conf import settings


def keyed_fingerprint(*, gateway: str, fingerprint: str) -> str:
    message = f"{gateway}:{fingerprint}".encode()
    return hmac.new(settings.CARD_FINGERPRINT_KEY.encode(), message, hashlib.sha256).hexdigest()
