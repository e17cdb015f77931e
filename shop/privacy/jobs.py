"""The machinery under data-request jobs: leases, retries with back-off, and what the sweeper picks.

The DataRequest row is the job's source of truth, not the broker message. A worker that starts a
request takes a *lease* under the row lock: a random token and an expiry PRIVACY_LEASE_SECONDS
ahead, renewed before every step. While the lease is live nobody else runs the request (a second
message, the sweeper's re-enqueue, an officer's "run again" all find it held and return). A worker
killed mid-job stops renewing; once the expiry passes, the sweeper (every minute) enqueues the
request again and the next worker takes a new lease and resumes, because every step is idempotent.
So a lost worker costs at most one lease plus one sweep interval, not the broker's one-hour
visibility timeout.

A job that raises is FAILED with a `retry_at` (1, 5, 25 minutes later); the sweeper runs it again
then. After PRIVACY_MAX_ATTEMPTS runs it stays FAILED with no retry: the compliance queue shows it
as failed (and overdue once its answer is due) until an officer runs it again.
"""

import secrets
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from .models import DataRequest


class LeaseLost(Exception):
    """Another run holds the request now (this one was too slow to renew): stop without writing."""


def lease_length() -> timedelta:
    return timedelta(seconds=settings.PRIVACY_LEASE_SECONDS)


def max_attempts() -> int:
    return settings.PRIVACY_MAX_ATTEMPTS


def retry_delay(attempts: int) -> timedelta:
    """Back-off after the n-th failed run: 1, 5, 25 minutes, ..."""
    return timedelta(minutes=5 ** max(attempts - 1, 0))


def is_held(request: DataRequest, *, now: datetime | None = None) -> bool:
    now = now or timezone.now()
    return bool(
        request.status == DataRequest.Status.RUNNING
        and request.lease_token
        and request.lease_expires_at
        and request.lease_expires_at > now
    )


def take_lease(request: DataRequest) -> str | None:
    """Give the locked `request` a new lease; None if a live lease is held by another run.

    The caller holds the row lock (select_for_update), so two workers can never both see the
    request free: the second waits for the first to commit and then finds its live lease.
    """
    now = timezone.now()
    if is_held(request, now=now):
        return None
    request.lease_token = secrets.token_hex(16)
    request.lease_expires_at = now + lease_length()
    request.attempts += 1
    request.retry_at = None
    request.save(update_fields=["lease_token", "lease_expires_at", "attempts", "retry_at", "updated_at"])
    return request.lease_token


def renew(*, request_id: int, token: str) -> None:
    """Push the expiry out again; LeaseLost if the lease is no longer ours. Its own short statement,
    outside any long transaction, so the new expiry is visible to the sweeper at once."""
    renewed = DataRequest.objects.filter(pk=request_id, lease_token=token, status=DataRequest.Status.RUNNING).update(
        lease_expires_at=timezone.now() + lease_length()
    )
    if not renewed:
        raise LeaseLost(f"Data request {request_id}: the lease was taken over.")


class Lease:
    """A run's hold on its request, for code that works in many small pieces: `keep()` renews at
    most every third of the lease length (cheap to call per row chunk), and raises LeaseLost if
    another run has taken over."""

    def __init__(self, *, request_id: int, token: str):
        self.request_id = request_id
        self.token = token
        self._renewed = time.monotonic()

    def keep(self, *, now: bool = False) -> None:
        if now or time.monotonic() - self._renewed >= lease_length().total_seconds() / 3:
            renew(request_id=self.request_id, token=self.token)
            self._renewed = time.monotonic()


def release(request: DataRequest) -> None:
    """Forget the lease of the locked `request` (its run finished or failed); the caller saves."""
    request.lease_token = ""
    request.lease_expires_at = None


def plan_retry(request: DataRequest) -> str:
    """After a failed run of the locked `request`: set when it runs again (or that it will not),
    and return the note for its history."""
    release(request)
    if request.attempts < max_attempts():
        request.retry_at = timezone.now() + retry_delay(request.attempts)
        minutes = int(retry_delay(request.attempts).total_seconds() // 60)
        return f"Run {request.attempts} of {max_attempts()} failed; retried in {minutes} minute(s)."
    request.retry_at = None
    return f"Failed {request.attempts} times; no more retries. A compliance officer must run it again."


def due_for_sweep(*, now: datetime | None = None) -> list[DataRequest]:
    """Requests whose job is not running although it should be.

    - pending for longer than PRIVACY_SWEEP_AFTER_MINUTES (the message was lost, or the broker was
      down when the request was filed);
    - running with an expired lease (the worker was killed), or with no lease at all for that long;
    - failed with a retry that is due;
    - deferred erasures (the sweep checks whether their orders have closed).
    """
    now = now or timezone.now()
    grace = now - timedelta(minutes=settings.PRIVACY_SWEEP_AFTER_MINUTES)
    running = Q(status=DataRequest.Status.RUNNING)
    lost = running & (Q(lease_expires_at__lte=now) | Q(lease_expires_at=None, updated_at__lte=grace))
    pending = Q(status=DataRequest.Status.PENDING, updated_at__lte=grace)
    retry = Q(status=DataRequest.Status.FAILED, retry_at__lte=now)
    deferred = Q(status=DataRequest.Status.DEFERRED)
    return list(DataRequest.objects.filter(lost | pending | retry | deferred).order_by("id"))
