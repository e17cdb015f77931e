"""Storage limitation (GDPR Art. 5(1)(e)): every retention policy of the shop, in one place.

Each policy names a period and an action and selects the rows past it with one queryset; applying
it is one set-based delete or update (no Python loop over the rows). Applying a policy twice
changes nothing more the second time. Every application is recorded as a `RetentionRun`.

`manage.py apply_retention [--dry-run]` applies them by hand; the Celery beat task
`apply_retention_task` does it daily (settings.CELERY_BEAT_SCHEDULE). Other parts of the shop add
policies with `register(Policy(...))` (the privacy exports, for example).
"""

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from celery import shared_task
from django.contrib.sessions.models import Session
from django.db import models, transaction
from django.utils import timezone

from .models import ConsentRecord, RetentionRun


@dataclass(frozen=True)
class Policy:
    """name: short and stable (it names the runs). due(now) -> the rows past their period.
    apply(queryset) -> rows affected; the default deletes them."""

    name: str
    period: timedelta
    action: str
    description: str
    due: Callable[[datetime], models.QuerySet]
    apply: Callable[[models.QuerySet], int] | None = None

    def run(self, queryset: models.QuerySet) -> int:
        if self.apply is not None:
            return self.apply(queryset)
        _, per_model = queryset.delete()
        return per_model.get(queryset.model._meta.label, 0)


def _anonymous_carts(now):
    from shop.orders.models import Cart

    return Cart.objects.filter(user=None, updated_at__lt=now - timedelta(days=30))


def _unverified_accounts(now):
    from shop.accounts.models import User

    # Never staff, and never an account that placed an order (those keep their accounting link).
    return User.objects.filter(
        email_verified_at=None, is_staff=False, is_superuser=False, date_joined__lt=now - timedelta(days=30)
    ).exclude(pk__in=_users_with_orders())


def _users_with_orders():
    from shop.orders.models import Order

    return Order.objects.filter(user__isnull=False).values("user_id")


def _delete_unverified_accounts(queryset) -> int:
    # The sign-up's consent record belongs to an address nobody confirmed: it goes with the account.
    ConsentRecord.objects.filter(user__in=queryset.values("pk")).delete()
    _, per_model = queryset.delete()
    return per_model.get(queryset.model._meta.label, 0)


def _lockout_records(model_name):
    def due(now):
        from django.apps import apps

        return apps.get_model("axes", model_name).objects.filter(attempt_time__lt=now - timedelta(days=90))

    return due


def _expired_sessions(now):
    return Session.objects.filter(expire_date__lt=now)


def _session_listings(now):
    from shop.accounts.models import UserSession

    # "Where you are signed in" rows whose session has ended and is gone.
    return UserSession.objects.exclude(
        session_key__in=Session.objects.filter(expire_date__gte=now).values("session_key")
    )


POLICIES: list[Policy] = [
    Policy(
        "anonymous_carts",
        timedelta(days=30),
        "delete",
        "Carts of anonymous visitors, 30 days after the last change.",
        _anonymous_carts,
    ),
    Policy(
        "unverified_accounts",
        timedelta(days=30),
        "delete",
        "Shopper accounts whose e-mail address was never confirmed, 30 days after sign-up (not with orders).",
        _unverified_accounts,
        _delete_unverified_accounts,
    ),
    Policy(
        "lockout_attempts",
        timedelta(days=90),
        "delete",
        "Failed-login counters (django-axes), 90 days after the attempt.",
        _lockout_records("AccessAttempt"),
    ),
    Policy(
        "lockout_failure_log",
        timedelta(days=90),
        "delete",
        "Failed-login log (django-axes), 90 days after the attempt.",
        _lockout_records("AccessFailureLog"),
    ),
    Policy(
        "access_log",
        timedelta(days=90),
        "delete",
        "Login log (django-axes), 90 days after the login.",
        _lockout_records("AccessLog"),
    ),
    Policy("expired_sessions", timedelta(0), "delete", "Sessions past their expiry date.", _expired_sessions),
    Policy(
        "session_listings",
        timedelta(0),
        "delete",
        "The account's list of signed-in devices, once the session has ended.",
        _session_listings,
    ),
]


def register(policy: Policy) -> None:
    """Add a policy (once: registering a name again replaces the earlier one)."""
    POLICIES[:] = [existing for existing in POLICIES if existing.name != policy.name] + [policy]


def apply_all(*, dry_run: bool = False, now: datetime | None = None) -> list[RetentionRun]:
    """Apply every policy (or count what it would do, with dry_run) and record one run per policy."""
    now = now or timezone.now()
    runs = []
    for policy in POLICIES:
        started = time.monotonic()
        queryset = policy.due(now)
        if dry_run:
            rows = queryset.count()
        else:
            with transaction.atomic():
                rows = policy.run(queryset)
        runs.append(
            RetentionRun.objects.create(
                policy=policy.name,
                rows_affected=rows,
                duration=timedelta(seconds=time.monotonic() - started),
                at=now,
                dry_run=dry_run,
            )
        )
    return runs


@shared_task(name="shop.privacy.retention.apply_retention_task", acks_late=True)
def apply_retention_task() -> int:
    """The daily beat task. Idempotent: a second run the same day finds nothing more to do."""
    return sum(run.rows_affected for run in apply_all())
