"""Webhook signatures in the common scheme: HMAC-SHA256 over "<timestamp>.<body>".

The header looks like `t=1700000000,v1=<hex>`. A signature is good only if it matches and the
timestamp is within WEBHOOK_TOLERANCE_SECONDS of now, so a captured request cannot be replayed
later; the event id then makes a replay inside the window a no-op.
"""

import hashlib
import hmac
import time

from django.conf import settings

from .base import WebhookSignatureError


def sign(*, secret: str, body: bytes, timestamp: int | None = None) -> str:
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(*, secret: str, body: bytes, header: str, now: float | None = None) -> None:
    parts = dict(item.split("=", 1) for item in (header or "").split(",") if "=" in item)
    try:
        timestamp = int(parts["t"])
        signature = parts["v1"]
    except (KeyError, ValueError):
        raise WebhookSignatureError("missing or malformed signature header") from None
    now = time.time() if now is None else now
    if abs(now - timestamp) > settings.WEBHOOK_TOLERANCE_SECONDS:
        raise WebhookSignatureError("signature timestamp outside the tolerance")
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        raise WebhookSignatureError("signature does not match")
