"""What the sandbox provider keeps: tokens and charges. Never a card number or a security code.

The browser tokenizes the card (shop/payments/gateways/sandbox/static fields.js): it sends only
the test card's outcome, brand, last 4 and expiry. The fingerprint is made here from those same
values, never from the number: a hash of the number would give the number back by brute force.
"""

import hashlib
import secrets

from django.db import models


def new_token() -> str:
    return "tok_" + secrets.token_urlsafe(24)


def card_fingerprint(*, brand: str, last4: str, exp_month: int, exp_year: int) -> str:
    """The sandbox's stand-in for a provider's card fingerprint: stable per test card, free of its digits.

    Built only from what the token row already shows in clear, so it reveals nothing more.
    """
    seen = f"sandbox-card:{brand}:{last4}:{exp_month:02d}/{exp_year}".encode()
    return "fp_" + hashlib.sha256(seen).hexdigest()[:32]


def new_reference() -> str:
    return "ch_" + secrets.token_urlsafe(18)


class SandboxToken(models.Model):
    class Outcome(models.TextChoices):
        SUCCESS = "success", "Success"
        GENERIC_DECLINE = "generic_decline", "Generic decline"
        INSUFFICIENT_FUNDS = "insufficient_funds", "Insufficient funds"
        EXPIRED_CARD = "expired_card", "Expired card"
        REQUIRES_3DS = "requires_3ds", "Requires 3-D Secure"

    token = models.CharField(max_length=64, unique=True, default=new_token, editable=False)
    outcome = models.CharField(max_length=30, choices=Outcome.choices)
    brand = models.CharField(max_length=20)
    last4 = models.CharField(max_length=4)
    exp_month = models.PositiveSmallIntegerField()
    exp_year = models.PositiveSmallIntegerField()
    fingerprint = models.CharField(max_length=64)
    # A one-time token is used up by its first charge; a saved card's token can be charged again.
    reusable = models.BooleanField(default=False)
    used_at = models.DateTimeField(null=True, blank=True)
    detached_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.brand} •••• {self.last4} ({self.get_outcome_display()})"


class SandboxCharge(models.Model):
    class Status(models.TextChoices):
        REQUIRES_ACTION = "requires_action", "Requires 3-D Secure"
        AUTHORIZED = "authorized", "Authorized"
        CAPTURED = "captured", "Captured"
        DECLINED = "declined", "Declined"
        VOIDED = "voided", "Voided"

    reference = models.CharField(max_length=64, unique=True, default=new_reference, editable=False)
    token = models.ForeignKey(SandboxToken, on_delete=models.PROTECT, related_name="charges")
    amount_minor = models.PositiveIntegerField()
    currency = models.CharField(max_length=3)
    capture = models.BooleanField(help_text="Capture at once (delivery) or only authorize (pickup).")
    status = models.CharField(max_length=20, choices=Status.choices)
    decline_code = models.CharField(max_length=40, blank=True)
    captured_minor = models.PositiveIntegerField(default=0)
    refunded_minor = models.PositiveIntegerField(default=0)
    # The same key always answers with the same charge: a retried request never charges twice.
    idempotency_key = models.CharField(max_length=100, unique=True)
    return_url = models.CharField(max_length=300, blank=True)
    saved_token = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(refunded_minor__lte=models.F("captured_minor")),
                name="sandboxcharge_refund_within_capture",
            ),
        ]

    def __str__(self):
        return f"{self.reference} ({self.status})"


class SandboxOperation(models.Model):
    """Captures, voids and refunds, once per idempotency key."""

    charge = models.ForeignKey(SandboxCharge, on_delete=models.CASCADE, related_name="operations")
    kind = models.CharField(max_length=20)
    amount_minor = models.PositiveIntegerField(default=0)
    reference = models.CharField(max_length=64, unique=True, default=new_reference, editable=False)
    idempotency_key = models.CharField(max_length=100, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"{self.kind} {self.reference}"
