from django.db import models

GENESIS_HASH = "0" * 64


class AuditEvent(models.Model):
    """One security-relevant act, chained to the one before it by a SHA-256 hash.

    Only ids are stored (actor, subject), never personal data, so that erasing a person never
    has to rewrite history. Rows are append-only: on PostgreSQL a trigger refuses UPDATE and
    DELETE (migration 0002), and `manage.py verify_audit_log` finds any row changed behind it.
    """

    seq = models.PositiveBigIntegerField(unique=True, help_text="Position in the chain, 1 for the first event.")
    created_at = models.DateTimeField(db_index=True)
    action = models.CharField(max_length=64, db_index=True)
    actor_id = models.BigIntegerField(null=True, blank=True, help_text="Id of the user who acted, if any.")
    subject_type = models.CharField(max_length=64, blank=True)
    subject_id = models.CharField(max_length=64, blank=True)
    data = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["-seq"]
        # The security dashboard counts events per action and day: with both columns in one
        # index, PostgreSQL answers from the index alone (bench/dashboard.py).
        indexes = [models.Index(fields=["action", "created_at"], name="core_audit_action_created")]

    def __str__(self):
        return f"#{self.seq} {self.action}"


class AuditChainHead(models.Model):
    """The single row that every writer locks, so that two concurrent events never fork the chain."""

    last_seq = models.PositiveBigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default=GENESIS_HASH)

    def __str__(self):
        return f"audit chain head at #{self.last_seq}"
