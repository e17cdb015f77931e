"""Periodic work runs once even when two runs overlap (a second beat started by mistake sends every
task twice at every tick): each person is mailed once, each row is changed once."""

import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connections, transaction
from django.utils import timezone

from shop.accounts.models import User
from shop.privacy import retention
from tests.concurrency import run_at_once
from tests.factories import UserFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

PEOPLE = 200


def _inactive_people(count: int) -> list[int]:
    long_ago = timezone.now() - timedelta(days=3 * 365)
    users = [UserFactory() for _ in range(count)]
    ids = [user.pk for user in users]
    User.objects.filter(pk__in=ids).update(last_login=long_ago, date_joined=long_ago)
    return ids


def _policy(name: str) -> retention.Policy:
    return next(policy for policy in retention.POLICIES if policy.name == name)


def test_two_overlapping_warning_runs_mail_each_inactive_person_once(settings):
    settings.SHOP_INACTIVE_ACCOUNT_YEARS = 3
    ids = _inactive_people(PEOPLE)
    policy = _policy("inactive_accounts_warning")

    def one_run():
        return retention.apply_policy(policy, now=timezone.now())

    counts = run_at_once([one_run, one_run])

    assert sum(counts) == PEOPLE, counts
    recipients = [message.to[0] for message in mail.outbox]
    assert len(recipients) == PEOPLE and len(set(recipients)) == PEOPLE
    assert set(User.objects.filter(pk__in=ids).exclude(inactivity_warned_at=None).values_list("pk", flat=True)) == set(
        ids
    )


def test_the_policy_itself_mails_only_the_rows_it_marked_when_called_twice_at_once(settings):
    settings.SHOP_INACTIVE_ACCOUNT_YEARS = 3
    _inactive_people(50)
    policy = _policy("inactive_accounts_warning")

    def one_run():
        with transaction.atomic():
            return policy.run(policy.due(timezone.now()))  # no batching around it

    counts = run_at_once([one_run, one_run])

    assert sum(counts) == 50 and len(mail.outbox) == 50 == len({m.to[0] for m in mail.outbox})


def test_a_second_retention_task_at_the_same_time_stands_aside(settings):
    """Two beats send the daily task twice: one run does the work, the other returns at once."""
    settings.SHOP_INACTIVE_ACCOUNT_YEARS = 3
    _inactive_people(20)
    started = threading.Event()
    release = threading.Event()
    original = retention.apply_all

    def slow_apply_all(**kwargs):
        started.set()
        release.wait(timeout=30)
        return original(**kwargs)

    results = []

    def first_run():
        try:
            results.append(retention.apply_retention_task())
        finally:
            connections.close_all()  # this thread's own connection

    retention.apply_all = slow_apply_all
    try:
        first = threading.Thread(target=first_run)
        first.start()
        assert started.wait(timeout=30)
        second = retention.apply_retention_task()  # the other beat's message, while the first runs
        release.set()
        first.join(timeout=60)
    finally:
        retention.apply_all = original
        connections.close_all()

    assert second is None and results and results[0] >= 20
    assert len(mail.outbox) == 20
