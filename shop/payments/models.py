from django.conf import settings
from django.db import models


class Payment(models.Model):
    """One attempt to pay for an order through a gateway. The shop keeps the gateway's reference,
    never card data beyond brand and last 4."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        REQUIRES_ACTION = "requires_action", "Waiting for 3-D Secure"
        AUTHORIZED = "authorized", "Authorized"
        CAPTURED = "captured", "Captured"
        VOIDED = "voided", "Voided"
        DECLINED = "declined", "Declined"
        REFUNDED = "refunded", "Refunded"

    # A status never moves backwards: a late or repeated webhook cannot undo a capture.
    TRANSITIONS = {
        Status.PENDING: {Status.REQUIRES_ACTION, Status.AUTHORIZED, Status.CAPTURED, Status.DECLINED, Status.VOIDED},
        # Voided: the order expired or was cancelled while the 3-D Secure check was still open.
        Status.REQUIRES_ACTION: {Status.AUTHORIZED, Status.CAPTURED, Status.DECLINED, Status.VOIDED},
        Status.AUTHORIZED: {Status.CAPTURED, Status.VOIDED},
        Status.CAPTURED: {Status.REFUNDED},
        Status.VOIDED: set(),
        Status.DECLINED: set(),
        Status.REFUNDED: set(),
    }

    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="payments")
    gateway = models.CharField(max_length=20)
    reference = models.CharField(max_length=100, blank=True, db_index=True)
    idempotency_key = models.CharField(max_length=64, unique=True)
    amount_minor = models.PositiveIntegerField()
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING, db_index=True)
    captured_minor = models.PositiveIntegerField(default=0)
    refunded_minor = models.PositiveIntegerField(default=0)
    decline_code = models.CharField(max_length=40, blank=True)
    card_brand = models.CharField(max_length=20, blank=True)
    card_last4 = models.CharField(max_length=4, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        # Refunds are given from the admin by Shop managers only (roles.py).
        permissions = [("refund_payment", "Can refund a payment")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(refunded_minor__lte=models.F("captured_minor")), name="payment_refund_within_capture"
            ),
            models.CheckConstraint(
                condition=models.Q(captured_minor__lte=models.F("amount_minor")), name="payment_capture_within_amount"
            ),
        ]

    def __str__(self):
        return f"{self.get_status_display()} payment {self.pk} for order {self.order_id}"

    def can_become(self, status: str) -> bool:
        return status in self.TRANSITIONS[self.Status(self.status)]

    @property
    def refundable_minor(self) -> int:
        return self.captured_minor - self.refunded_minor


class Refund(models.Model):
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    amount_minor = models.PositiveIntegerField()
    reference = models.CharField(max_length=100, blank=True)
    idempotency_key = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"refund {self.pk} of payment {self.payment_id}"


class PaymentMethod(models.Model):
    """A card saved for later: the gateway's token and what a person needs to recognise it. Nothing else."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="payment_methods")
    gateway = models.CharField(max_length=20)
    token = models.CharField(max_length=100)
    brand = models.CharField(max_length=20)
    last4 = models.CharField(max_length=4)
    exp_month = models.PositiveSmallIntegerField()
    exp_year = models.PositiveSmallIntegerField()
    fingerprint = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["user", "fingerprint"], name="paymentmethod_one_per_card")]

    def __str__(self):
        return f"{self.brand} •••• {self.last4}"


class WebhookEvent(models.Model):
    """Each provider event once: the unique id makes a redelivered event a no-op."""

    gateway = models.CharField(max_length=20)
    event_id = models.CharField(max_length=100)
    type = models.CharField(max_length=60)
    reference = models.CharField(max_length=100, blank=True)
    payload = models.JSONField(default=dict, help_text="The event without anything sensitive.")
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]
        constraints = [models.UniqueConstraint(fields=["gateway", "event_id"], name="webhookevent_once_per_gateway")]

    def __str__(self):
        return f"{self.gateway} {self.type} {self.event_id}"
