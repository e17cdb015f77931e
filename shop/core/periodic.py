"""Periodic jobs run once at a time, however many beats send them.

Celery beat must run once per deployment, but a second one started by mistake sends every task
twice at every tick, and a slow run can still be going when the next tick comes. Each periodic
task therefore runs inside `exclusive(name)`: a PostgreSQL session-level advisory lock keyed by
the job's name. The second run finds the lock taken and returns at once. The lock lives in the
database connection, so a worker killed mid-run releases it with its connection: no expiry to
guess, no stale lock to clean up. (SQLite in the embedded mode runs tasks in one process: no lock
needed there.)

The lock only keeps two runs of one job apart; the jobs still claim their rows under row locks
(`select_for_update(skip_locked=True)`), so that work is never done twice even without it.
"""

import functools
import hashlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection

logger = logging.getLogger("shop.jobs")


def _key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(f"periodic:{name}".encode()).digest()[:8], "big", signed=True)


@contextmanager
def exclusive(name: str) -> Iterator[bool]:
    """Yield True if this process now holds the job's lock, False if another run holds it."""
    if connection.vendor != "postgresql":
        yield True
        return
    key = _key(name)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        held = cursor.fetchone()[0]
    try:
        yield held
    finally:
        if held:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])


def run_alone(name: str):
    """Decorator for a periodic task: run the body only if no other run of `name` is going on;
    otherwise return None and log that this one stood aside."""

    def decorate(function):
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            with exclusive(name) as held:
                if not held:
                    logger.info("Periodic job %s is already running elsewhere; this run stands aside", name)
                    return None
                return function(*args, **kwargs)

        wrapper.runs_alone = name  # tests/core/test_periodic.py checks every beat task has it
        return wrapper

    return decorate
