"""Security operations: the incident and breach register, subject notifications, audit-chain
verification runs and the daily counters behind the dashboard."""

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

# GDPR Art. 33(1): the supervisory authority is told within 72 hours of becoming aware.
NOTIFICATION_DEADLINE = timedelta(hours=72)
# Reminders to the DPO and the managers, hours after awareness, until the authority is told.
REMINDER_HOURS = (24, 48, 66)


class Incident(models.Model):
    """A security incident; `is_breach` marks a personal-data breach (Art. 4(12)) and starts the clock."""

    class Category(models.TextChoices):
        CONFIDENTIALITY = "confidentiality", "Confidentiality (data disclosed or accessed)"
        INTEGRITY = "integrity", "Integrity (data altered)"
        AVAILABILITY = "availability", "Availability (data lost or unreachable)"
        ACCOUNT_TAKEOVER = "account_takeover", "Account takeover"
        PAYMENT_FRAUD = "payment_fraud", "Payment fraud"
        OTHER = "other", "Other"

    class Severity(models.TextChoices):
        LOW = "low", "Low"
        MEDIUM = "medium", "Medium"
        HIGH = "high", "High"
        CRITICAL = "critical", "Critical"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CONTAINED = "contained", "Contained"
        CLOSED = "closed", "Closed"

    class Subjects(models.TextChoices):
        NONE = "none", "No data subjects affected"
        LIST = "list", "The accounts listed below"
        ALL_ACCOUNTS = "all_accounts", "Every active shopper account"
        ORDERED_IN_WINDOW = "ordered_in_window", "Shoppers who ordered between detection window start and end"

    DATA_CATEGORIES = (
        ("contact", "Contact data (name, e-mail, phone)"),
        ("address", "Postal addresses"),
        ("orders", "Order history"),
        ("payment", "Payment data (tokens, last 4 digits)"),
        ("credentials", "Credentials (password hashes, MFA secrets)"),
        ("sessions", "Sessions and sign-in records"),
        ("consent", "Consent records"),
    )

    reference = models.CharField(max_length=20, unique=True, editable=False)
    title = models.CharField(max_length=200)
    category = models.CharField(max_length=20, choices=Category.choices)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN, db_index=True)
    description = models.TextField(help_text="What happened, how it was found, what was done.")
    detected_at = models.DateTimeField(help_text="When the incident was first detected.")
    became_aware_at = models.DateTimeField(
        help_text="When the shop became aware that personal data was affected: the 72-hour clock starts here."
    )
    is_breach = models.BooleanField("personal-data breach", default=False)
    affected_data = models.JSONField("affected data categories", default=list, blank=True)
    subjects_scope = models.CharField(
        "affected subjects", max_length=20, choices=Subjects.choices, default=Subjects.NONE
    )
    subject_ids = models.TextField(
        "affected account ids", blank=True, help_text="Account ids separated by commas or spaces (for 'listed')."
    )
    window_start = models.DateTimeField(null=True, blank=True)
    window_end = models.DateTimeField(null=True, blank=True)
    responsible = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    authority_notified_at = models.DateTimeField(null=True, blank=True)
    authority_reference = models.CharField(max_length=100, blank=True)
    reminders_sent = models.JSONField(default=list, blank=True, help_text="Reminder hours already e-mailed.")
    closed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-became_aware_at"]
        permissions = [
            ("view_security_dashboard", "Can view the security dashboard"),
            ("notify_subjects", "Can notify the affected subjects of a breach"),
        ]

    def __str__(self):
        return f"{self.reference} {self.title}"

    @property
    def notification_deadline(self):
        return self.became_aware_at + NOTIFICATION_DEADLINE

    @property
    def notified_in_time(self) -> bool | None:
        if not self.is_breach or self.authority_notified_at is None:
            return None
        return self.authority_notified_at <= self.notification_deadline

    def clock(self, now=None) -> dict:
        """The 72-hour clock as people read it: hours left (or overdue), and whether it still runs."""
        now = now or timezone.now()
        if not self.is_breach:
            return {"state": "none", "text": "Not a personal-data breach"}
        if self.authority_notified_at is not None:
            late = self.authority_notified_at - self.notification_deadline
            if late > timedelta(0):
                return {"state": "late", "text": f"Authority notified {_hours(late)} late"}
            return {"state": "done", "text": "Authority notified within 72 hours"}
        left = self.notification_deadline - now
        if left <= timedelta(0):
            return {"state": "overdue", "text": f"Overdue by {_hours(-left)}: notify the authority now"}
        return {"state": "running", "text": f"{_hours(left)} left to notify the authority"}


def _hours(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60} h {minutes % 60:02d} min"


class IncidentEntry(models.Model):
    """One line of an incident's timeline, written by a person or by the system."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="entries")
    at = models.DateTimeField(default=timezone.now)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    text = models.TextField()

    class Meta:
        ordering = ["at", "id"]
        verbose_name_plural = "incident entries"

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M} {self.text[:40]}"


class SubjectNotification(models.Model):
    """Telling the affected subjects of a breach (Art. 34): one e-mail each, resumable."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft (to be reviewed)"
        REVIEWED = "reviewed", "Reviewed, ready to send"
        SENDING = "sending", "Sending"
        DONE = "done", "Sent to every subject"

    incident = models.OneToOneField(Incident, on_delete=models.CASCADE, related_name="notification")
    subject_line = models.CharField("e-mail subject", max_length=150)
    body = models.TextField(
        help_text="Plain text. $first_name, $shop_name and $reference are replaced; nothing else is evaluated."
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    total = models.PositiveIntegerField(default=0)
    sent = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # A running job renews its lease; the sweeper re-enqueues a job whose lease ran out.
    lease_until = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"Notification of {self.incident.reference}"

    @property
    def percent(self) -> int:
        return 100 if not self.total else int(100 * self.sent / self.total)


class SubjectNotice(models.Model):
    """One delivered e-mail to one affected subject: the proof, and what makes the job resumable."""

    notification = models.ForeignKey(SubjectNotification, on_delete=models.CASCADE, related_name="notices")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    user_ref = models.BigIntegerField(help_text="Account id, kept if the account is erased later.")
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["notification", "user_ref"], name="one_notice_per_subject"),
        ]

    def __str__(self):
        return f"notice to account {self.user_ref} at {self.sent_at:%Y-%m-%d %H:%M}"


class AuditVerification(models.Model):
    """One run of the audit-chain verification (daily by beat, or by hand from the dashboard)."""

    at = models.DateTimeField(default=timezone.now, db_index=True)
    checked = models.PositiveBigIntegerField()
    intact = models.BooleanField()
    broken_seq = models.PositiveBigIntegerField(null=True, blank=True)
    duration = models.DurationField()

    class Meta:
        ordering = ["-at"]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M}: {'intact' if self.intact else f'broken at #{self.broken_seq}'}"


class DailyCounter(models.Model):
    """Counts of events too frequent (or too anonymous) for the audit log: challenges served, CSP reports."""

    day = models.DateField()
    name = models.CharField(max_length=40)
    count = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["day", "name"], name="one_counter_per_day")]

    def __str__(self):
        return f"{self.day} {self.name}: {self.count}"
