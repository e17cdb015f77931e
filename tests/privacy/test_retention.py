"""Retention: each policy at its boundary (a day before and a day after the period), dry runs
that change nothing, idempotent runs, and the record of every run."""

import io
from datetime import timedelta

import pytest
from axes.models import AccessAttempt, AccessLog
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.utils import timezone

from shop.accounts.models import User, UserSession
from shop.orders.models import Cart, Order
from shop.privacy import retention
from shop.privacy.models import ConsentRecord, RetentionRun
from tests.factories import StoreFactory, UserFactory

pytestmark = pytest.mark.django_db

DAY = timedelta(days=1)


def ago(days: int, extra: timedelta = timedelta(0)):
    return timezone.now() - timedelta(days=days) + extra


@pytest.fixture
def aged():
    """Rows on both sides of every period: `kept` a day inside it, `gone` a day past it."""
    rows = {}
    carts = [Cart.objects.create() for _ in range(3)]
    Cart.objects.filter(pk=carts[0].pk).update(updated_at=ago(30, DAY))
    Cart.objects.filter(pk=carts[1].pk).update(updated_at=ago(30, -DAY))
    owned = Cart.objects.create(user=UserFactory())
    Cart.objects.filter(pk=owned.pk).update(updated_at=ago(400))
    rows["carts"] = {"kept": [carts[0].pk, carts[2].pk, owned.pk], "gone": [carts[1].pk]}

    fresh = UserFactory(email_verified_at=None, date_joined=ago(30, DAY))
    stale = UserFactory(email_verified_at=None, date_joined=ago(30, -DAY))
    verified = UserFactory(date_joined=ago(400))
    staff = UserFactory(email_verified_at=None, is_staff=True, date_joined=ago(400))
    buyer = UserFactory(email_verified_at=None, date_joined=ago(400))
    Order.objects.create(
        user=buyer,
        email=buyer.email,
        fulfillment="pickup",
        store=StoreFactory(),
        subtotal_minor=100,
        total_minor=100,
        currency="EUR",
    )
    ConsentRecord.objects.create(user=stale, purpose="marketing_email", policy_version=1, granted=True, source="signup")
    rows["users"] = {"kept": [fresh.pk, verified.pk, staff.pk, buyer.pk], "gone": [stale.pk]}

    for model, extra in ((AccessAttempt, {"failures_since_start": 1}), (AccessLog, {})):
        base = {"user_agent": "", "path_info": "/", **extra}
        recent = model.objects.create(username="a@example.com", ip_address="192.0.2.1", **base)
        old = model.objects.create(username="b@example.com", ip_address="192.0.2.2", **base)
        model.objects.filter(pk=recent.pk).update(attempt_time=ago(90, DAY))
        model.objects.filter(pk=old.pk).update(attempt_time=ago(90, -DAY))
        rows[model.__name__] = {"kept": [recent.pk], "gone": [old.pk]}

    Session.objects.create(session_key="live" * 8, session_data="", expire_date=timezone.now() + DAY)
    Session.objects.create(session_key="dead" * 8, session_data="", expire_date=timezone.now() - DAY)
    UserSession.objects.create(user=verified, session_key="live" * 8)
    UserSession.objects.create(user=verified, session_key="dead" * 8)
    rows["sessions"] = {"kept": ["live" * 8], "gone": ["dead" * 8]}
    return rows


def remaining(aged):
    return {
        "carts": set(Cart.objects.values_list("pk", flat=True)),
        "users": set(User.objects.values_list("pk", flat=True)),
        "AccessAttempt": set(AccessAttempt.objects.values_list("pk", flat=True)),
        "AccessLog": set(AccessLog.objects.values_list("pk", flat=True)),
        "sessions": set(Session.objects.values_list("session_key", flat=True)),
    }


def test_each_policy_deletes_what_is_past_its_period_and_keeps_what_is_not(aged):
    runs = {run.policy: run.rows_affected for run in retention.apply_all()}

    left = remaining(aged)
    for name, sides in aged.items():
        assert set(sides["kept"]) <= left[name], name
        assert not set(sides["gone"]) & left[name], name
    assert runs["anonymous_carts"] == 1 and runs["unverified_accounts"] == 1
    assert runs["lockout_attempts"] == 1 and runs["access_log"] == 1 and runs["expired_sessions"] == 1
    assert list(UserSession.objects.values_list("session_key", flat=True)) == ["live" * 8]
    assert not ConsentRecord.objects.exists()  # the unconfirmed sign-up's record went with it


def test_a_second_run_finds_nothing_more(aged):
    retention.apply_all()
    before = remaining(aged)

    runs = retention.apply_all()

    assert remaining(aged) == before
    assert {run.rows_affected for run in runs} == {0}


def test_dry_run_changes_nothing_and_says_what_would_happen(aged):
    before = remaining(aged)
    out = io.StringIO()

    call_command("apply_retention", "--dry-run", stdout=out)

    assert remaining(aged) == before
    text = out.getvalue()
    assert "anonymous_carts: would delete 1 row(s)" in text
    assert "unverified_accounts: would delete 1 row(s)" in text
    assert "Dry run: nothing was changed." in text
    assert set(RetentionRun.objects.values_list("dry_run", flat=True)) == {True}


def test_every_run_is_recorded_with_its_duration(aged):
    call_command("apply_retention", stdout=io.StringIO())

    runs = RetentionRun.objects.filter(dry_run=False)
    assert {run.policy for run in runs} == {policy.name for policy in retention.POLICIES}
    assert all(run.duration >= timedelta(0) for run in runs)
    assert runs.get(policy="anonymous_carts").rows_affected == 1


def test_the_beat_task_applies_the_policies(aged):
    from shop.privacy.retention import apply_retention_task

    assert apply_retention_task.delay().get() >= 5
    assert not Cart.objects.filter(pk__in=aged["carts"]["gone"]).exists()


def test_another_part_of_the_shop_can_register_a_policy(monkeypatch):
    monkeypatch.setattr(retention, "POLICIES", list(retention.POLICIES))
    policy = retention.Policy(
        "test_carts", timedelta(days=1), "delete", "Every anonymous cart.", lambda now: Cart.objects.filter(user=None)
    )
    retention.register(policy)
    retention.register(policy)
    Cart.objects.create()

    runs = [run for run in retention.apply_all() if run.policy == "test_carts"]

    assert [run.rows_affected for run in runs] == [1]
