from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

# --- Consent (shop/privacy/consent.py) and retention (shop/privacy/retention.py) -----------------


class ConsentRecord(models.Model):
    """One choice a person made about one purpose: append-only, the proof of consent (GDPR Art. 7).

    The subject is a user or an anonymous visitor (a random id kept in the session). The current
    state of a purpose is the latest record; a record for an older policy version no longer counts.
    Keyed by ids only: no e-mail address or name is stored here.
    """

    class Source(models.TextChoices):
        BANNER = "banner", "Consent banner"
        SIGNUP = "signup", "Sign-up form"
        ACCOUNT = "account", "Account page"
        CHOICES = "choices", "Privacy choices page"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="consent_records"
    )
    visitor_id = models.CharField(max_length=32, blank=True, db_index=True)
    purpose = models.CharField(max_length=40)
    policy_version = models.PositiveIntegerField()
    granted = models.BooleanField()
    at = models.DateTimeField(default=timezone.now)
    source = models.CharField(max_length=20, choices=Source.choices)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["user", "purpose", "-at"], name="consent_user_purpose_at")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(user__isnull=False) | ~models.Q(visitor_id=""), name="consent_has_subject"
            )
        ]

    def __str__(self):
        state = "granted" if self.granted else "refused"
        return f"{self.purpose} v{self.policy_version} {state} ({self.get_source_display()})"


class PageView(models.Model):
    """The first-party analytics: how often each page (by URL pattern, never a real URL) was seen
    per day, counted only for visitors whose analytics consent is current. No personal data."""

    day = models.DateField()
    path = models.CharField(max_length=200, help_text="The URL pattern, e.g. products/<slug:slug>/.")
    count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-day", "path"]
        constraints = [models.UniqueConstraint(fields=["day", "path"], name="pageview_one_per_day_and_path")]

    def __str__(self):
        return f"{self.day} {self.path}: {self.count}"


class RetentionRun(models.Model):
    """One application of one retention policy (shop/privacy/retention.py)."""

    policy = models.CharField(max_length=60)
    rows_affected = models.PositiveIntegerField()
    duration = models.DurationField()
    at = models.DateTimeField(default=timezone.now)
    dry_run = models.BooleanField(default=False)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self):
        return f"{self.policy}: {self.rows_affected} rows{' (dry run)' if self.dry_run else ''}"


# --- Data-subject requests (shop/privacy/services.py) -----------------------------------------


class DataRequest(models.Model):
    """An export (Art. 15/20) or erasure (Art. 17) request: the row is the job's source of truth.

    Answer within a month (Art. 12(3)): `due_at` is 30 days after receipt. `subject` becomes
    null only if the user row is ever deleted; `subject_ref` keeps the id for the record.
    """

    class Kind(models.TextChoices):
        EXPORT = "export", "Export (copy of the data)"
        ERASURE = "erasure", "Erasure"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        DEFERRED = "deferred", "Deferred"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    # Every status change must appear here; anything else raises IllegalTransition.
    TRANSITIONS = {
        Status.PENDING: {Status.RUNNING, Status.DEFERRED, Status.CANCELLED, Status.FAILED},
        Status.RUNNING: {Status.RUNNING, Status.DONE, Status.FAILED, Status.DEFERRED, Status.PENDING},
        Status.DEFERRED: {Status.RUNNING, Status.PENDING, Status.CANCELLED},
        Status.FAILED: {Status.PENDING, Status.RUNNING, Status.CANCELLED},
        Status.DONE: {Status.PENDING},  # a compliance officer reruns a finished request
        Status.CANCELLED: set(),
    }
    OPEN = (Status.PENDING, Status.RUNNING, Status.DEFERRED)

    subject = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="data_requests"
    )
    subject_ref = models.BigIntegerField(help_text="Id of the subject's account, kept after erasure.")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    received_at = models.DateTimeField(default=timezone.now)
    due_at = models.DateTimeField(db_index=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The subject themself, or the compliance officer who filed it on their behalf.",
    )
    identity_check = models.TextField(
        blank=True, help_text="On behalf: how the subject's identity was verified (no copies of documents)."
    )
    notify_email = models.EmailField(
        blank=True, help_text="Erasure: where the confirmation goes; cleared once it is sent."
    )
    archive_path = models.CharField(max_length=300, blank=True)
    archive_expires_at = models.DateTimeField(null=True, blank=True)
    deferred_reason = models.CharField(max_length=300, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    # The job's lease (shop/privacy/jobs.py): whoever holds the token runs the job; it renews the
    # expiry as it works, and the sweeper re-enqueues the request once the expiry has passed.
    lease_token = models.CharField(max_length=32, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Runs started so far (retries included).")
    retry_at = models.DateTimeField(
        null=True, blank=True, help_text="A failed request is run again at this time; empty once retries are used up."
    )

    class Meta:
        ordering = ["due_at", "id"]
        permissions = [("run_datarequest", "Can run data-subject requests and download exports")]

    def __str__(self):
        return f"{self.get_kind_display()} request {self.pk} for account {self.subject_ref}"

    def save(self, *args, **kwargs):
        if self.due_at is None:
            self.due_at = self.received_at + timedelta(days=30)
        super().save(*args, **kwargs)

    def can_become(self, status: str) -> bool:
        return status in self.TRANSITIONS[self.Status(self.status)]

    @property
    def on_behalf(self) -> bool:
        return self.requested_by_id is not None and self.requested_by_id != self.subject_ref

    @property
    def is_overdue(self) -> bool:
        # A request that failed for good is still unanswered: it stays on the officer's list.
        return (self.status in self.OPEN or self.gave_up) and self.due_at < timezone.now()

    @property
    def gave_up(self) -> bool:
        """Failed, and no retry is planned: a person must look at it."""
        return self.status == self.Status.FAILED and self.retry_at is None

    @property
    def archive_ready(self) -> bool:
        return bool(
            self.kind == self.Kind.EXPORT
            and self.status == self.Status.DONE
            and self.archive_path
            and self.archive_expires_at
            and self.archive_expires_at > timezone.now()
        )


class DataRequestEvent(models.Model):
    """The history of a request: each status change with a note (ids and reasons, no personal data)."""

    request = models.ForeignKey(DataRequest, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=10, choices=DataRequest.Status.choices)
    note = models.CharField(max_length=300, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["at", "id"]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M} {self.status}"
