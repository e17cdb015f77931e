"""Signals other apps listen to (privacy imports none of them)."""

from django.dispatch import Signal

# Sent inside the transaction that marks an erasure done: request_id, subject_id, email (the
# address the subject had; receivers must not store it in clear).
erasure_completed = Signal()
