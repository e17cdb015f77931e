"""The risk engine's tables. Orders and payments are referred to by id and number only (risk
imports neither app): an assessment survives as a record of what was decided and why."""

from django.conf import settings
from django.db import models


class Action(models.TextChoices):
    ALLOW = "allow", "Allow"
    CHALLENGE = "challenge", "Challenge"
    REVIEW = "review", "Hold for review"
    BLOCK = "block", "Block"


class RiskAssessment(models.Model):
    """One scoring: at checkout (before the order exists, then linked to it) or at a payment attempt."""

    class Stage(models.TextChoices):
        CHECKOUT = "checkout", "Checkout"
        PAYMENT = "payment", "Payment attempt"

    stage = models.CharField(max_length=10, choices=Stage.choices)
    order_id = models.PositiveBigIntegerField(null=True, blank=True, db_index=True)
    order_number = models.CharField(max_length=11, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="risk_assessments"
    )
    score = models.PositiveSmallIntegerField()
    action = models.CharField(max_length=10, choices=Action.choices)
    # [{"code": ..., "text": ..., "points": ...}], strongest first: what a reviewer reads.
    reasons = models.JSONField(default=list)
    # The feature vector the score was computed from (numbers and flags, no clear-text identifiers).
    features = models.JSONField(default=dict)
    scored_by = models.CharField(max_length=40, help_text="rules, or the model version that produced the score")
    shadow_score = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="The other scorer's opinion (shadow mode), not acted on."
    )
    shadow_by = models.CharField(max_length=40, blank=True)
    amount_minor = models.PositiveIntegerField(default=0)
    currency = models.CharField(max_length=3, blank=True)
    # Keyed hashes (shop/risk/hashing.py) of who and where: e-mail, shipping address, device,
    # network address, session, card. What a block-list entry from a rejected order is made of.
    identities = models.JSONField(default=dict)
    shipping_hash = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "shipping_hash"], name="risk_assess_user_shipping")]

    def __str__(self):
        return f"{self.get_stage_display()} score {self.score} ({self.action})"


class Review(models.Model):
    """An order held for a fraud analyst. While pending the order is not shipped or handed over."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for a reviewer"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    TRANSITIONS = {
        Status.PENDING: {Status.APPROVED, Status.REJECTED},
        Status.APPROVED: set(),
        Status.REJECTED: set(),
    }

    order_id = models.PositiveBigIntegerField(unique=True)
    order_number = models.CharField(max_length=11)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="risk_reviews"
    )
    assessment = models.ForeignKey(RiskAssessment, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.CharField(max_length=500, blank=True, help_text="Why (for colleagues; no customer data).")

    class Meta:
        ordering = ["created_at"]  # the queue: oldest first
        permissions = [("decide_review", "Can approve or reject orders held for fraud review")]

    def __str__(self):
        return f"Review of order {self.order_number}"


class ListEntry(models.Model):
    """A block- or allow-list entry. The value is a keyed hash (shop/risk/hashing.py), never clear text,
    except address ranges (CIDR), which are network blocks, not a person."""

    class Kind(models.TextChoices):
        CARD = "card", "Card fingerprint"
        EMAIL = "email", "E-mail address"
        SHIPPING = "shipping", "Shipping address"
        DEVICE = "device", "Device"
        NETWORK = "network", "Address range"

    class Verdict(models.TextChoices):
        BLOCK = "block", "Block"
        ALLOW = "allow", "Allow"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    verdict = models.CharField(max_length=5, choices=Verdict.choices)
    value_hash = models.CharField(max_length=64, blank=True, db_index=True)
    network = models.CharField(max_length=43, blank=True, help_text="CIDR, e.g. 203.0.113.0/24")
    hint = models.CharField(max_length=40, blank=True, help_text="What a colleague may see, e.g. a***@example.com")
    reason = models.CharField(max_length=300)
    expires_at = models.DateTimeField(db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="risk_list_entries",
        help_text="The customer whose order led to this entry, if any.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "list entries"
        indexes = [models.Index(fields=["kind", "value_hash"], name="risk_list_lookup")]

    def __str__(self):
        return f"{self.get_verdict_display()} {self.get_kind_display().lower()} {self.hint or self.network}"


class Label(models.Model):
    """What an order turned out to be: the truth the model learns from."""

    class Source(models.TextChoices):
        REVIEW = "review", "Reviewer decision"
        DISPUTE = "dispute", "Chargeback or dispute"
        FRAUD_WARNING = "fraud_warning", "Early fraud warning"
        REFUND = "refund", "Refund marked as fraud"
        COMPLETED = "completed", "Completed without complaint"

    order_id = models.PositiveBigIntegerField(db_index=True)
    source = models.CharField(max_length=15, choices=Source.choices)
    is_fraud = models.BooleanField()
    features = models.JSONField(default=dict, help_text="The features of the order's assessment.")
    scored_at = models.DateTimeField(help_text="When the order was scored: the time-based split uses it.")
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["order_id", "source"], name="risk_label_once_per_source")]

    def __str__(self):
        return (
            f"{'fraud' if self.is_fraud else 'legitimate'} ({self.get_source_display().lower()}) order {self.order_id}"
        )


class ModelVersion(models.Model):
    """A trained model as plain parameters (JSON), evaluated by shop/risk/model.py: never pickled."""

    class Status(models.TextChoices):
        ACTIVE = "active", "In use"
        SHADOW = "shadow", "Shadow (scored, not acted on)"
        RETIRED = "retired", "Retired"
        REJECTED = "rejected", "Not promoted"

    kind = models.CharField(max_length=30)
    status = models.CharField(max_length=10, choices=Status.choices, db_index=True)
    features = models.JSONField(help_text="Feature names, in the order the parameters expect them.")
    parameters = models.JSONField()
    metrics = models.JSONField(default=dict)
    trained_from = models.DateTimeField()
    validated_from = models.DateTimeField()
    validated_until = models.DateTimeField()
    label_count = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.kind} #{self.pk} ({self.get_status_display().lower()})"
