"""Retention of exports, of the personal data of old orders and of inactive accounts: each at its
boundary (a day before and a day after the period), run twice, and as a dry run."""

import io
from datetime import datetime, timedelta

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from shop.accounts.models import User
from shop.orders.models import Order, OrderLine
from shop.payments.models import Payment, Refund
from shop.privacy import retention, services
from shop.privacy.models import DataRequest, RetentionRun
from tests.factories import StoreFactory, UserFactory

pytestmark = pytest.mark.django_db

DAY = timedelta(days=1)


def runs_of(runs):
    return {run.policy: run.rows_affected for run in runs}


# --- Exports (7 days) -------------------------------------------------------------------------


@pytest.fixture
def exports(settings, tmp_path):
    settings.PRIVACY_EXPORT_DIR = tmp_path
    user = UserFactory()
    made = {}
    for name, expires in (("kept", timezone.now() + DAY), ("gone", timezone.now() - DAY)):
        (tmp_path / f"{name}.zip").write_bytes(b"PK")
        made[name] = DataRequest.objects.create(
            subject=user,
            subject_ref=user.pk,
            kind=DataRequest.Kind.EXPORT,
            status=DataRequest.Status.DONE,
            archive_path=f"{name}.zip",
            archive_expires_at=expires,
        )
    return tmp_path, made


def test_exports_go_seven_days_after_they_were_made(exports):
    directory, made = exports

    assert runs_of(retention.apply_all())["expired_exports"] == 1

    assert (directory / "kept.zip").exists() and not (directory / "gone.zip").exists()
    made["gone"].refresh_from_db()
    assert made["gone"].archive_path == "" and made["gone"].archive_expires_at is None
    assert DataRequest.objects.get(pk=made["kept"].pk).archive_path == "kept.zip"
    assert runs_of(retention.apply_all())["expired_exports"] == 0


def test_a_dry_run_keeps_the_exports(exports):
    directory, _ = exports
    out = io.StringIO()

    call_command("apply_retention", "--dry-run", stdout=out)

    assert (directory / "gone.zip").exists()
    assert "expired_exports: would delete 1 row(s)" in out.getvalue()


# --- Orders (SHOP_ORDER_RETENTION_YEARS after the end of the calendar year) ---------------------


def local(*args):
    return timezone.make_aware(datetime(*args))


def make_order(created_at, **extra):
    user = extra.pop("user", None) or UserFactory()
    order = Order.objects.create(
        user=user,
        email=user.email,
        status=extra.pop("status", Order.Status.DELIVERED),
        fulfillment=Order.Fulfillment.DELIVERY,
        store=StoreFactory(),
        shipping_name="Ada Lovelace",
        shipping_street="Teststrasse 7",
        shipping_postal_code="10999",
        shipping_city="Berlin",
        shipping_country="DE",
        alternate_collector="Charles Babbage",
        subtotal_minor=2000,
        delivery_fee_minor=490,
        total_minor=2490,
        currency="EUR",
    )
    Order.objects.filter(pk=order.pk).update(created_at=created_at)
    return Order.objects.get(pk=order.pk)


def personal(order):
    order.refresh_from_db()
    return (
        order.email,
        order.user_id,
        order.shipping_name,
        order.shipping_street,
        order.shipping_postal_code,
        order.shipping_city,
        order.alternate_collector,
    )


def test_an_order_keeps_its_personal_data_until_the_period_after_the_end_of_its_year(settings):
    settings.SHOP_ORDER_RETENTION_YEARS = 10
    settings.SHOP_ORDER_RECORD_YEARS = 12  # the anonymised record stays longer
    order = make_order(local(2014, 3, 15, 12, 0))
    before = personal(order)

    # The period ends on 1 January 2025 (end of 2014 + 10 years): not a day earlier, ...
    assert runs_of(retention.apply_all(now=local(2024, 12, 31, 12, 0)))["order_personal_data"] == 0
    assert personal(order) == before
    # ... not even 10 years and a day after the order itself.
    assert runs_of(retention.apply_all(now=local(2024, 3, 16, 12, 0)))["order_personal_data"] == 0

    # A day after it ends: one UPDATE anonymises it; amounts, dates and the number stay.
    assert runs_of(retention.apply_all(now=local(2025, 1, 2, 12, 0)))["order_personal_data"] == 1
    assert personal(order) == (f"erased-order-{order.pk}@invalid", None, "", "", "", "", "")
    kept = Order.objects.get(pk=order.pk)
    assert (kept.total_minor, kept.subtotal_minor, kept.delivery_fee_minor, kept.currency) == (2490, 2000, 490, "EUR")
    assert (kept.created_at, kept.number, kept.shipping_country) == (order.created_at, order.number, "DE")

    # Run again: nothing more.
    assert runs_of(retention.apply_all(now=local(2025, 1, 2, 12, 0)))["order_personal_data"] == 0


def test_the_period_is_a_setting_and_counts_whole_calendar_years(settings):
    settings.SHOP_ORDER_RETENTION_YEARS = 6
    settings.SHOP_ORDER_RECORD_YEARS = 8
    late_in_year = make_order(local(2018, 12, 31, 12, 0))  # a day before its year ends
    early_next_year = make_order(local(2019, 1, 1, 12, 0))  # a day after

    assert runs_of(retention.apply_all(now=local(2025, 1, 2, 12, 0)))["order_personal_data"] == 1

    assert personal(late_in_year)[0] == f"erased-order-{late_in_year.pk}@invalid"
    assert personal(early_next_year)[2] == "Ada Lovelace"


def test_an_open_order_keeps_its_data(settings):
    settings.SHOP_ORDER_RETENTION_YEARS = 1
    order = make_order(local(2014, 3, 15, 12, 0), status=Order.Status.PAID)

    assert runs_of(retention.apply_all(now=local(2025, 1, 2, 12, 0)))["order_personal_data"] == 0
    assert personal(order)[2] == "Ada Lovelace"


def test_a_dry_run_leaves_old_orders_alone(settings):
    settings.SHOP_ORDER_RETENTION_YEARS = 1
    order = make_order(local(2014, 3, 15, 12, 0))
    before = personal(order)
    out = io.StringIO()

    call_command("apply_retention", "--dry-run", stdout=out)

    assert personal(order) == before
    assert "order_personal_data: would anonymise 1 row(s)" in out.getvalue()


def _paid_and_refunded(order):
    payment = Payment.objects.create(
        order=order,
        gateway="sandbox",
        reference=f"ch_{order.pk}",
        idempotency_key=f"retention-{order.pk}",
        amount_minor=order.total_minor,
        currency=order.currency,
        status=Payment.Status.CAPTURED,
    )
    Refund.objects.create(
        payment=payment, amount_minor=490, reference=f"re_{order.pk}", idempotency_key=f"r-{order.pk}"
    )
    OrderLine.objects.create(order=order, product_name="Tea", unit_price_minor=1000, quantity=2)
    return payment


def test_retention_end_deletes_the_order_with_its_lines_payments_and_refunds_after_the_record_period(settings):
    """What erasure promises: the anonymised order stays for the accounting period, then goes."""
    settings.SHOP_ORDER_RETENTION_YEARS = 10
    settings.SHOP_ORDER_RECORD_YEARS = 10
    order = make_order(local(2014, 3, 15, 12, 0))
    payment = _paid_and_refunded(order)
    younger = make_order(local(2015, 1, 1, 12, 0))
    open_order = make_order(local(2014, 3, 15, 12, 0), status=Order.Status.PAID)

    assert runs_of(retention.apply_all(now=local(2024, 12, 31, 12, 0)))["order_records"] == 0
    assert Order.objects.filter(pk=order.pk).exists()

    runs = runs_of(retention.apply_all(now=local(2025, 1, 2, 12, 0)))

    assert runs["order_records"] == 1 and runs["order_personal_data"] == 0  # deleted, nothing left to anonymise
    assert not Order.objects.filter(pk=order.pk).exists()
    assert not Payment.objects.filter(pk=payment.pk).exists() and not Refund.objects.filter(payment_id=payment.pk)
    assert not OrderLine.objects.filter(order_id=order.pk).exists()
    assert Order.objects.filter(pk__in=[younger.pk, open_order.pk]).count() == 2
    assert runs_of(retention.apply_all(now=local(2025, 1, 2, 12, 0)))["order_records"] == 0


def test_an_erased_subjects_kept_orders_go_when_the_erasure_note_says(settings):
    settings.SHOP_ORDER_RETENTION_YEARS = 10
    settings.SHOP_ORDER_RECORD_YEARS = 10
    user = UserFactory()
    order = make_order(local(2014, 3, 15, 12, 0), user=user)

    note = services.kept_orders_note(user)

    assert "until 31 December 2024, then deleted" in note
    assert runs_of(retention.apply_all(now=local(2024, 12, 31, 23, 0)))["order_records"] == 0
    assert runs_of(retention.apply_all(now=local(2025, 1, 1, 0, 30)))["order_records"] == 1
    assert not Order.objects.filter(pk=order.pk).exists()


def test_retention_changes_at_most_a_batch_of_rows_per_transaction(settings):
    settings.SHOP_RETENTION_BATCH_SIZE = 3
    settings.SHOP_ORDER_RETENTION_YEARS = 10
    settings.SHOP_ORDER_RECORD_YEARS = 12
    orders = [make_order(local(2014, 3, 15, 12, 0)) for _ in range(7)]
    policy = next(p for p in retention.POLICIES if p.name == "order_personal_data")
    with CaptureQueriesContext(connection) as queries:
        assert retention.apply_policy(policy, now=local(2025, 1, 2, 12, 0)) == 7

    claims = [q["sql"] for q in queries.captured_queries if "FOR UPDATE" in q["sql"]]
    updates = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("UPDATE")]
    if connection.vendor == "postgresql":
        assert len(claims) == 3 and all("SKIP LOCKED" in sql and "LIMIT 3" in sql for sql in claims)
    assert len(updates) == 3  # 3 + 3 + 1 rows, one transaction each
    assert {personal(order)[2] for order in orders} == {""}


# --- Inactive accounts (SHOP_INACTIVE_ACCOUNT_YEARS, warned 30 days before) ---------------------


def inactive_for(delta, **extra):
    user = UserFactory(**extra)
    User.objects.filter(pk=user.pk).update(last_login=timezone.now() - delta, date_joined=timezone.now() - delta)
    return User.objects.get(pk=user.pk)


def three_years():
    now = timezone.now()
    return now - retention.years_before(now, 3)


def test_an_account_is_warned_thirty_days_before_three_years_without_sign_in(settings):
    settings.SHOP_INACTIVE_ACCOUNT_YEARS = 3
    warning_at = three_years() - timedelta(days=30)
    not_yet = inactive_for(warning_at - DAY)
    due = inactive_for(warning_at + DAY)
    never_signed_in = UserFactory()
    User.objects.filter(pk=never_signed_in.pk).update(last_login=None, date_joined=timezone.now() - warning_at - DAY)
    staff = inactive_for(warning_at + DAY, is_staff=True)

    runs = runs_of(retention.apply_all())

    assert runs["inactive_accounts_warning"] == 2 and runs["inactive_accounts"] == 0
    warned = set(User.objects.exclude(inactivity_warned_at=None).values_list("pk", flat=True))
    assert warned == {due.pk, never_signed_in.pk}
    assert sorted(m.to[0] for m in mail.outbox) == sorted([due.email, never_signed_in.email])
    assert "sign in before" in mail.outbox[0].body
    assert not_yet.pk not in warned and staff.pk not in warned

    # Warned once: the next run sends nothing.
    assert runs_of(retention.apply_all())["inactive_accounts_warning"] == 0
    assert len(mail.outbox) == 2


def test_a_warned_account_is_erased_after_three_years_and_not_a_day_before(
    settings, django_capture_on_commit_callbacks
):
    settings.SHOP_INACTIVE_ACCOUNT_YEARS = 3
    period = three_years()
    not_yet = inactive_for(period - DAY, inactivity_warned_at=timezone.now() - timedelta(days=29))
    due = inactive_for(period + DAY)
    User.objects.filter(pk=due.pk).update(inactivity_warned_at=timezone.now() - timedelta(days=31))
    unwarned = inactive_for(period + DAY * 5)  # warned today, erased in 30 days at the earliest
    staff = inactive_for(period * 2, is_staff=True, inactivity_warned_at=timezone.now() - timedelta(days=400))
    order = make_order(timezone.now() - period, user=due)

    with django_capture_on_commit_callbacks(execute=True):
        runs = runs_of(retention.apply_all())

    assert runs["inactive_accounts"] == 1 and runs["inactive_accounts_warning"] == 1
    request = DataRequest.objects.get(subject=due)
    assert request.kind == DataRequest.Kind.ERASURE and request.status == DataRequest.Status.DONE
    assert "retention policy" in request.events.first().note
    due.refresh_from_db()
    assert due.email == f"erased-{due.pk}@invalid" and not due.is_active
    assert Order.objects.filter(pk=order.pk, total_minor=2490).exists()
    assert not DataRequest.objects.exclude(subject=due).exists()
    assert User.objects.get(pk=unwarned.pk).inactivity_warned_at is not None
    assert User.objects.get(pk=not_yet.pk).is_active and User.objects.get(pk=staff.pk).is_active

    # Run again: nothing more (the erased account is not filed again).
    runs = runs_of(retention.apply_all())
    assert runs["inactive_accounts"] == 0 and runs["inactive_accounts_warning"] == 0
    assert DataRequest.objects.count() == 1


def test_signing_in_after_the_warning_keeps_the_account(settings):
    settings.SHOP_INACTIVE_ACCOUNT_YEARS = 3
    user = inactive_for(three_years() + DAY)
    User.objects.filter(pk=user.pk).update(
        inactivity_warned_at=timezone.now() - timedelta(days=40), last_login=timezone.now() - timedelta(days=2)
    )

    runs = runs_of(retention.apply_all())

    assert runs["inactive_accounts"] == 0 and runs["inactive_accounts_warning"] == 0
    assert not DataRequest.objects.exists()


def test_a_dry_run_warns_and_erases_nobody(settings):
    settings.SHOP_INACTIVE_ACCOUNT_YEARS = 3
    warned = inactive_for(three_years() + DAY)
    User.objects.filter(pk=warned.pk).update(inactivity_warned_at=timezone.now() - timedelta(days=31))
    unwarned = inactive_for(three_years() + DAY)
    out = io.StringIO()

    call_command("apply_retention", "--dry-run", stdout=out)

    assert User.objects.get(pk=unwarned.pk).inactivity_warned_at is None
    assert not DataRequest.objects.exists() and not mail.outbox
    assert "inactive_accounts_warning: would warn 1 row(s)" in out.getvalue()
    assert "inactive_accounts: would erase 1 row(s)" in out.getvalue()
    assert set(RetentionRun.objects.values_list("dry_run", flat=True)) == {True}


def test_services_file_the_erasure_with_the_policys_note():
    user = UserFactory()
    request = services.request_erasure(subject=user, note="Filed by the retention policy.")
    assert request.events.get().note == "Filed by the retention policy."
