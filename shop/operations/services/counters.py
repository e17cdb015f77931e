"""Daily counters for events the audit log should not carry one row each for."""

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from ..models import DailyCounter

CHALLENGE_SERVED = "challenge.served"
CHALLENGE_FAILED = "challenge.failed"
CSP_REPORTED = "csp.reported"
CARD_TESTING_REFUSED = "payment.card_testing_refused"


def bump(*, name: str, by: int = 1, day=None) -> None:
    """Add to today's counter: one UPDATE, or an INSERT the first time today (race-safe)."""
    day = day or timezone.localdate()
    if DailyCounter.objects.filter(day=day, name=name).update(count=F("count") + by):
        return
    try:
        with transaction.atomic():
            DailyCounter.objects.create(day=day, name=name, count=by)
    except IntegrityError:  # another request created today's row first
        DailyCounter.objects.filter(day=day, name=name).update(count=F("count") + by)
