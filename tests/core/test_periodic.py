"""Periodic jobs run alone: a second beat's copy of a task stands aside while the first runs."""

import pytest
from django.conf import settings
from django.db import connections

from shop.celery import app
from shop.core import periodic
from tests.concurrency import run_at_once


def test_every_beat_task_runs_alone():
    app.loader.import_default_modules()
    missing = []
    for entry, schedule in settings.CELERY_BEAT_SCHEDULE.items():
        task = app.tasks[schedule["task"]]
        if not getattr(task.run, "runs_alone", None):
            missing.append(entry)
    assert not missing, f"wrap these periodic tasks in shop.core.periodic.run_alone: {missing}"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_lock_is_held_by_one_connection_at_a_time_and_freed_afterwards():
    import threading

    inside = threading.Event()
    leave = threading.Event()

    def first():
        with periodic.exclusive("test-job") as held:
            inside.set()
            leave.wait(timeout=30)
            return held

    def second():
        inside.wait(timeout=30)
        with periodic.exclusive("test-job") as held:
            leave.set()
            return held

    assert run_at_once([first, second]) == [True, False]
    with periodic.exclusive("test-job") as held:  # released with the first run
        assert held
    connections.close_all()
