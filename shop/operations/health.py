"""Readiness and liveness for the load balancer, built on django-health-check.

- liveness (`/health/live`): the process answers; no dependency is touched, so a slow database
  never gets healthy web processes restarted.
- readiness (`/health/ready`): database, cache, broker, a Celery worker answering a ping, beat's
  last heartbeat, free disk space for exports and backups, and no restore in progress. 200 or 503.

Everyone gets a plain "ok"/"unavailable"; OTP-verified staff get each check's result as JSON
(`?format=json` or `Accept: application/json`). The detail names services and errors, which an
outsider has no business reading.
"""

import dataclasses
import datetime
import shutil

from asgiref.sync import async_to_sync
from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_safe
from health_check.base import HealthCheck
from health_check.checks import Cache, Database
from health_check.contrib.celery import Ping
from health_check.exceptions import ServiceUnavailable

from .backup import ledger

BEAT_HEARTBEAT_KEY = "operations:beat-heartbeat"
# Beat sends the heartbeat every minute; three missed ones mean beat (or every worker) is down.
BEAT_STALE_AFTER = datetime.timedelta(minutes=3)


def _eager() -> bool:
    from shop.celery import app

    return bool(app.conf.task_always_eager)


@dataclasses.dataclass
class Broker(HealthCheck):
    """The Celery broker accepts a connection (embedded mode: in-process, nothing to reach)."""

    def run(self):
        if _eager():
            return
        from shop.celery import app

        try:
            with app.connection_for_write() as connection:
                connection.ensure_connection(max_retries=1, timeout=2)
        except Exception as error:  # kombu raises the transport's own errors
            raise ServiceUnavailable("broker unreachable") from error


@dataclasses.dataclass
class Worker(HealthCheck):
    """At least one Celery worker answers a ping through the broker."""

    def run(self):
        if _eager():
            return
        from shop.celery import app

        Ping(app=app, timeout=datetime.timedelta(seconds=1), limit=1).run()


@dataclasses.dataclass
class BeatHeartbeat(HealthCheck):
    """Beat enqueued its one-minute heartbeat and a worker ran it within the last three minutes."""

    async def run(self):
        if _eager():
            return
        seen = await cache.aget(BEAT_HEARTBEAT_KEY)
        if seen is None:
            raise ServiceUnavailable("no beat heartbeat yet")
        age = timezone.now() - datetime.datetime.fromisoformat(seen)
        if age > BEAT_STALE_AFTER:
            raise ServiceUnavailable(f"last beat heartbeat {int(age.total_seconds())} s ago")


@dataclasses.dataclass
class DiskSpace(HealthCheck):
    """Free space where exports and backups are written."""

    def run(self):
        minimum = settings.HEALTH_MIN_FREE_DISK_MB * 1024 * 1024
        for folder in (settings.PRIVACY_EXPORT_DIR, settings.BACKUP_DIR):
            path = folder
            while not path.exists() and path != path.parent:
                path = path.parent  # not created yet: the disk it will be on
            free = shutil.disk_usage(path).free
            if free < minimum:
                raise ServiceUnavailable(f"{free // (1024 * 1024)} MB free for {folder.name}")


@dataclasses.dataclass
class NoRestoreInProgress(HealthCheck):
    """Not ready while a restore runs or its erasure ledger has not been re-applied."""

    def run(self):
        if ledger.restore_pending():
            raise ServiceUnavailable("restore in progress: erasure ledger not re-applied yet")


READINESS_CHECKS = (Database, Cache, Broker, Worker, BeatHeartbeat, DiskSpace, NoRestoreInProgress)


def run_checks() -> list[tuple[str, str | None]]:
    """Each check's name and its error (None when it passed)."""

    async def gather():
        import asyncio

        return await asyncio.gather(*(check().get_result() for check in READINESS_CHECKS))

    results = async_to_sync(gather)()
    return [(type(result.check).__name__, str(result.error) if result.error else None) for result in results]


def _is_staff(request) -> bool:
    user = request.user
    return user.is_active and user.is_staff and user.is_verified()


@require_safe
def liveness(request):
    response = HttpResponse("ok\n", content_type="text/plain")
    add_never_cache_headers(response)
    return response


@require_safe
def readiness(request):
    results = run_checks()
    healthy = all(error is None for _, error in results)
    status = 200 if healthy else 503
    wants_json = request.GET.get("format") == "json" or "application/json" in request.headers.get("Accept", "")
    if wants_json and _is_staff(request):
        response = JsonResponse(
            {"status": "ok" if healthy else "unavailable", "checks": {name: error or "ok" for name, error in results}},
            status=status,
        )
    else:
        response = HttpResponse("ok\n" if healthy else "unavailable\n", content_type="text/plain", status=status)
    add_never_cache_headers(response)
    return response


def record_beat_heartbeat() -> None:
    cache.set(BEAT_HEARTBEAT_KEY, timezone.now().isoformat(), timeout=None)
