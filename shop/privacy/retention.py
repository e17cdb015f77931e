"""Storage limitation (GDPR Art. 5(1)(e)): every retention policy of the shop, in one place.

Each policy names a period and an action and selects the rows past it with one queryset; applying
it is a set-based delete or update (no Python loop over the rows), in batches: each transaction
claims at most `batch_size` due rows (10,000 by default) with `SELECT ... FOR UPDATE SKIP LOCKED`,
applies the action to exactly those rows and commits, so no run holds row locks for long, and two
runs that overlap (a second beat, a slow run meeting the next tick) never take the same rows: a
person is warned once, a row changed once. Applying a policy twice changes nothing more the
second time. Every application is recorded as a `RetentionRun`.

`manage.py apply_retention [--dry-run]` applies them by hand; the Celery beat task
`apply_retention_task` does it daily (settings.CELERY_BEAT_SCHEDULE). Other parts of the shop add
policies with `register(Policy(...))` (the privacy exports, for example).
"""

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from celery import shared_task
from django.conf import settings
from django.contrib.sessions.models import Session
from django.core.mail import EmailMessage, get_connection
from django.db import models, transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Cast, Coalesce, Concat
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from shop.core.mail import template_headers
from shop.core.periodic import run_alone

from .models import ConsentRecord, RetentionRun


@dataclass(frozen=True)
class Policy:
    """name: short and stable (it names the runs). due(now) -> the rows past their period.
    apply(queryset) -> rows affected; the default deletes them."""

    name: str
    period: timedelta
    action: str
    description: str
    due: Callable[[datetime], models.QuerySet] | None
    apply: Callable[[models.QuerySet], int] | None = None
    batch_size: int | None = None  # rows per transaction; None: settings.SHOP_RETENTION_BATCH_SIZE
    # A policy over files instead of rows: sweep(now, dry_run) -> files deleted (or that would be).
    sweep: Callable[[datetime, bool], int] | None = None

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


def _expired_exports(now):
    from .models import DataRequest

    return DataRequest.objects.filter(archive_expires_at__lte=now).exclude(archive_path="")


def _purge_exports(queryset) -> int:
    from . import services

    # One file per export to delete on disk; the rows are few (one per request, live 7 days).
    return services.purge_expired_exports()


def _embedded_mail_files(now, dry_run: bool) -> int:
    from shop.core.mail import purge_mail_files

    return purge_mail_files(older_than=now - timedelta(days=settings.SHOP_MAIL_FILE_DAYS), dry_run=dry_run)


def years_before(moment: datetime, years: int) -> datetime:
    """The same date and time `years` earlier (29 February becomes the 28th)."""
    try:
        return moment.replace(year=moment.year - years)
    except ValueError:
        return moment.replace(year=moment.year - years, day=28)


ORDER_PERSONAL_FIELDS = {
    "shipping_name": "",
    "shipping_street": "",
    "shipping_postal_code": "",
    "shipping_city": "",
    "alternate_collector": "",
    "user": None,
}


def _closed_orders_before_year_end(now, years: int):
    from shop.orders.models import Order
    from shop.privacy.services import OPEN_ORDER_STATUSES

    # Counted from the end of the order's calendar year: an order of year Y is kept until 1 January
    # of Y + 1 + N (local time), i.e. everything created before 1 January of now - N.
    local = timezone.localtime(now)
    cutoff = local.replace(year=local.year - years, month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    return Order.objects.filter(created_at__lt=cutoff).exclude(status__in=OPEN_ORDER_STATUSES)


def _old_orders(now):
    return _closed_orders_before_year_end(now, settings.SHOP_ORDER_RETENTION_YEARS).exclude(
        email__endswith="@invalid", **ORDER_PERSONAL_FIELDS
    )  # done already


def _orders_past_record_period(now):
    return _closed_orders_before_year_end(now, settings.SHOP_ORDER_RECORD_YEARS)


def _delete_orders(queryset) -> int:
    """Retention end: the accounting period is over, so nothing of the order is needed any more.
    Refunds, payments and returns protect their order, so they go first; lines and pickup codes follow it."""
    from shop.orders.models import OrderReturn
    from shop.payments.models import Payment, Refund

    orders = queryset.values("pk")
    OrderReturn.objects.filter(order__in=orders).delete()
    Refund.objects.filter(payment__order__in=orders).delete()
    Payment.objects.filter(order__in=orders).delete()
    _, per_model = queryset.delete()
    return per_model.get(queryset.model._meta.label, 0)


def _anonymise_orders(queryset) -> int:
    # One UPDATE; amounts, dates, lines and the order number stay for the accounts.
    return queryset.update(
        email=Concat(Value("erased-order-"), Cast("pk", models.CharField()), Value("@invalid")),
        **ORDER_PERSONAL_FIELDS,
    )


INACTIVITY_WARNING = timedelta(days=30)


def _accounts_for_inactivity():
    from shop.accounts.models import User

    from .models import DataRequest

    erased_or_erasing = DataRequest.objects.filter(kind=DataRequest.Kind.ERASURE).exclude(
        status=DataRequest.Status.CANCELLED
    )
    return (
        User.objects.filter(is_staff=False, is_superuser=False)
        .exclude(pk__in=erased_or_erasing.values("subject_id"))
        .alias(last_active=Coalesce("last_login", "date_joined"))
    )


def _inactive_to_warn(now):
    limit = years_before(now, settings.SHOP_INACTIVE_ACCOUNT_YEARS) + INACTIVITY_WARNING
    # Warned once per stretch of inactivity: a sign-in after the warning makes it count no more.
    return _accounts_for_inactivity().filter(
        Q(inactivity_warned_at=None) | Q(inactivity_warned_at__lt=F("last_active")), last_active__lt=limit
    )


def _warn_inactive(queryset) -> int:
    now = timezone.now()
    # Claim the rows before reading whom to mail: rows another run holds are skipped (it mails
    # them), and the mail goes to exactly the rows this run marks, never to a list read unlocked.
    claimed = list(queryset.select_for_update(skip_locked=True).values_list("pk", "email", "last_login", "date_joined"))
    people = [(email, login or joined) for _, email, login, joined in claimed]
    count = queryset.model.objects.filter(pk__in=[row[0] for row in claimed]).update(inactivity_warned_at=now)
    years = settings.SHOP_INACTIVE_ACCOUNT_YEARS
    messages = [
        EmailMessage(
            "Your account will be deleted unless you sign in",
            render_to_string(
                "emails/privacy_inactive_warning.txt",
                {
                    "years": years,
                    "deadline": max(years_before(last_active, -years), now + INACTIVITY_WARNING),
                    "url": settings.SITE_URL + reverse("accounts:login"),
                },
            ),
            None,
            [email],
            headers=template_headers("emails/privacy_inactive_warning.txt"),
        )
        for email, last_active in people
    ]
    if messages:
        get_connection().send_messages(messages)  # a failure rolls the marks back: warned again tomorrow
    return count


def _inactive_to_erase(now):
    return _accounts_for_inactivity().filter(
        last_active__lt=years_before(now, settings.SHOP_INACTIVE_ACCOUNT_YEARS),
        inactivity_warned_at__gte=F("last_active"),
        inactivity_warned_at__lte=now - INACTIVITY_WARNING,
    )


def _erase_inactive(queryset) -> int:
    from . import services

    # Filing is one row per account; the erasure job (shop/privacy/services.py) does the work.
    count = 0
    for user in queryset.only("pk"):
        services.request_erasure(
            subject=user,
            note=f"Filed by the retention policy: no sign-in for {settings.SHOP_INACTIVE_ACCOUNT_YEARS} years.",
        )
        count += 1
    return count


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
    Policy(
        "expired_exports",
        timedelta(days=7),
        "delete",
        "Export archives (copies of a person's data), 7 days after they were made.",
        _expired_exports,
        _purge_exports,
    ),
    Policy(
        "embedded_mail_files",
        timedelta(days=settings.SHOP_MAIL_FILE_DAYS),
        "delete",
        f"E-mail files of the embedded mode under var/mail/, {settings.SHOP_MAIL_FILE_DAYS} days after they were "
        "written (SHOP_MAIL_FILE_DAYS); production sends by SMTP and keeps none.",
        None,
        sweep=_embedded_mail_files,
    ),
    Policy(
        "order_records",
        timedelta(days=365 * settings.SHOP_ORDER_RECORD_YEARS),
        "delete",
        f"Closed orders with their lines, payments and refunds, {settings.SHOP_ORDER_RECORD_YEARS} years after the "
        "end of the order's calendar year (SHOP_ORDER_RECORD_YEARS): the accounting period is over, nothing is kept.",
        _orders_past_record_period,
        _delete_orders,
    ),
    Policy(
        "order_personal_data",
        timedelta(days=365 * settings.SHOP_ORDER_RETENTION_YEARS),
        "anonymise",
        f"Name, address and e-mail of closed orders, {settings.SHOP_ORDER_RETENTION_YEARS} years after the end "
        "of the order's calendar year (SHOP_ORDER_RETENTION_YEARS); amounts and dates stay.",
        _old_orders,
        _anonymise_orders,
    ),
    Policy(
        "inactive_accounts_warning",
        timedelta(days=365 * settings.SHOP_INACTIVE_ACCOUNT_YEARS) - INACTIVITY_WARNING,
        "warn",
        f"E-mail shoppers 30 days before their account reaches {settings.SHOP_INACTIVE_ACCOUNT_YEARS} years "
        "without a sign-in (once).",
        _inactive_to_warn,
        _warn_inactive,
        batch_size=500,  # the mails go out inside the batch's transaction: keep it short
    ),
    Policy(
        "inactive_accounts",
        timedelta(days=365 * settings.SHOP_INACTIVE_ACCOUNT_YEARS),
        "erase",
        f"Shopper accounts without a sign-in for {settings.SHOP_INACTIVE_ACCOUNT_YEARS} years, warned at least "
        "30 days before: an erasure request is filed (never staff).",
        _inactive_to_erase,
        _erase_inactive,
        batch_size=500,
    ),
]


def register(policy: Policy) -> None:
    """Add a policy (once: registering a name again replaces the earlier one)."""
    POLICIES[:] = [existing for existing in POLICIES if existing.name != policy.name] + [policy]


def apply_policy(policy: Policy, *, now: datetime, on_batch: Callable[[int, float], None] | None = None) -> int:
    """Apply one policy in batches; each batch is the due rows this transaction could lock.

    The batch is claimed with SKIP LOCKED: rows another run is working on are left to it, and once
    it commits they are no longer due. The action then runs on exactly the claimed rows (filtered by
    `due` again), so whatever it does, mail included, concerns only rows this run changed.
    `on_batch(rows, seconds)` hears how long each batch held its locks (bench/retention.py).
    """
    if policy.sweep is not None:
        return policy.sweep(now, False)
    size = policy.batch_size or settings.SHOP_RETENTION_BATCH_SIZE
    total = 0
    while True:
        started = time.monotonic()
        with transaction.atomic():
            due = policy.due(now)
            claimed = list(due.select_for_update(skip_locked=True).values_list("pk", flat=True)[:size])
            if not claimed:
                break
            changed = policy.run(policy.due(now).filter(pk__in=claimed))
            total += changed
        if on_batch is not None:
            on_batch(changed, time.monotonic() - started)
        if len(claimed) < size:
            break
    return total


def apply_all(*, dry_run: bool = False, now: datetime | None = None) -> list[RetentionRun]:
    """Apply every policy (or count what it would do, with dry_run) and record one run per policy."""
    now = now or timezone.now()
    runs = []
    for policy in POLICIES:
        started = time.monotonic()
        if dry_run:
            rows = policy.sweep(now, True) if policy.sweep is not None else policy.due(now).count()
        else:
            rows = apply_policy(policy, now=now)
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
@run_alone("privacy.apply_retention")
def apply_retention_task() -> int:
    """The daily beat task. Idempotent: a second run the same day finds nothing more to do, and a
    second run at the same time (a second beat) stands aside."""
    return sum(run.rows_affected for run in apply_all())
