"""Export archives as files: written on a worker, served by any web node, through Django's storage API.

The archive is first built in a local spool file (`<request id>-<lease token>.part` under
PRIVACY_EXPORT_SPOOL_DIR), then handed to the `exports` storage (settings.STORAGES): a folder in
the embedded mode and in CI, a shared volume or an S3-compatible bucket (django-storages) when web
and worker nodes do not share a disk. A spool file holds personal data, so it never outlives its
run: it is deleted when the run fails, and `purge_stale_parts` deletes any whose run is no longer
live (a killed worker's), which the sweeper calls every minute.
"""

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import FileSystemStorage, storages

from .models import DataRequest


class ExportFileStorage(FileSystemStorage):
    """The filesystem storage for exports: PRIVACY_EXPORT_DIR (outside MEDIA_ROOT, no URL: archives
    are served only by the permission-checking views). The folder is read when used, not when the
    storage is built, so a changed setting takes effect."""

    @property
    def base_location(self):
        return self._value_or_setting(self._location, settings.PRIVACY_EXPORT_DIR)

    @property
    def location(self):
        return os.path.abspath(self.base_location)

    @property
    def base_url(self):
        return None


def storage():
    return storages["exports"]


def spool_dir() -> Path:
    path = Path(settings.PRIVACY_EXPORT_SPOOL_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextmanager
def spooled(*, request_id: int, token: str) -> Iterator[Path]:
    """A spool file for one run; deleted if the block raises."""
    part = spool_dir() / f"{request_id}-{token}.part"
    try:
        yield part
    except BaseException:
        part.unlink(missing_ok=True)
        raise


def publish(part: Path, *, name: str) -> str:
    """Move a finished spool file into the storage; returns the stored name."""
    try:
        with part.open("rb") as handle:
            stored = storage().save(name, File(handle, name=name))
    finally:
        part.unlink(missing_ok=True)
    return stored


def open_archive(name: str):
    """The stored archive, opened for reading, or None if it is not there (any more)."""
    if not name or not storage().exists(name):
        return None
    return storage().open(name, "rb")


def delete(name: str) -> None:
    if name:
        storage().delete(name)


def purge_stale_parts() -> int:
    """Delete spool files whose run is over: a killed or failed worker's `.part` with personal data."""
    directory = Path(settings.PRIVACY_EXPORT_SPOOL_DIR)
    if not directory.is_dir():
        return 0
    live = {
        f"{pk}-{token}.part"
        for pk, token in DataRequest.objects.filter(status=DataRequest.Status.RUNNING)
        .exclude(lease_token="")
        .values_list("pk", "lease_token")
    }
    # A run takes its lease before it creates its file, but the query above may predate a lease
    # taken a moment ago: leave files that were written to within the last minute.
    recent = time.time() - 60
    count = 0
    for part in directory.glob("*.part"):
        if part.name not in live and part.stat().st_mtime < recent:
            part.unlink(missing_ok=True)
            count += 1
    return count
