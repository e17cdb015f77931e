"""Keyed hashes of the identifiers risk counts and lists: client addresses, devices, e-mails,
shipping addresses and card fingerprints.

HMAC-SHA256 under RISK_HASH_KEY, which the database does not hold: a copy of the risk tables
alone cannot be turned back into addresses by hashing guesses. Values are normalised first so
that "Main St. 1" and "main st 1" count as one address.
"""

import hashlib
import hmac
import re
import unicodedata

from django.conf import settings

_NOT_WORD = re.compile(r"[\W_]+", re.UNICODE)


def keyed(kind: str, value: str) -> str:
    """The hash of one identifier ("" stays ""): kind separates the namespaces (an e-mail never
    collides with a device id)."""
    if not value:
        return ""
    message = f"{kind}:{value}".encode()
    return hmac.new(settings.RISK_HASH_KEY.encode(), message, hashlib.sha256).hexdigest()


def normalise_text(value: str) -> str:
    folded = unicodedata.normalize("NFKC", value).casefold()
    return _NOT_WORD.sub(" ", folded).strip()


def normalise_email(address: str) -> str:
    """Lower case, and without a "+tag": shop+1@example.com and shop+2@ are one mailbox."""
    local, _, domain = address.strip().casefold().rpartition("@")
    return f"{local.split('+', 1)[0]}@{domain}" if local else ""


def email_hash(address: str) -> str:
    return keyed("email", normalise_email(address))


def shipping_hash(*, street: str, postal_code: str, city: str, country: str) -> str:
    if not street:
        return ""
    return keyed("shipping", "|".join(normalise_text(part) for part in (street, postal_code, city, country)))


def device_hash(device_id: str) -> str:
    return keyed("device", device_id)


def address_hash(address: str) -> str:
    return keyed("address", address)


def session_hash(session_key: str) -> str:
    return keyed("session", session_key)


def card_hash(fingerprint: str) -> str:
    return keyed("card", fingerprint)
