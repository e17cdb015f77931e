"""What operations hears from the other apps: completed erasures (the ledger) and counters."""

from django.db import transaction
from django.dispatch import receiver

from shop.accounts.signals import challenge_failed, challenge_served
from shop.core.signals import csp_violation_reported
from shop.payments.signals import card_testing_refused
from shop.privacy.signals import erasure_completed

from .backup import ledger
from .services import counters


@receiver(erasure_completed, dispatch_uid="operations.erasure_ledger")
def write_erasure_ledger(sender, *, request_id, subject_id, email="", **kwargs):
    # After commit: an erasure rolled back must not be re-applied after a restore.
    transaction.on_commit(lambda: ledger.append(subject_id=subject_id, request_id=request_id, email=email or ""))


@receiver(challenge_served, dispatch_uid="operations.count_challenge_served")
def count_challenge_served(sender, **kwargs):
    counters.bump(name=counters.CHALLENGE_SERVED)


@receiver(challenge_failed, dispatch_uid="operations.count_challenge_failed")
def count_challenge_failed(sender, **kwargs):
    counters.bump(name=counters.CHALLENGE_FAILED)


@receiver(csp_violation_reported, dispatch_uid="operations.count_csp_reports")
def count_csp_report(sender, **kwargs):
    counters.bump(name=counters.CSP_REPORTED)


@receiver(card_testing_refused, dispatch_uid="operations.count_card_testing")
def count_card_testing_refused(sender, **kwargs):
    counters.bump(name=counters.CARD_TESTING_REFUSED)
