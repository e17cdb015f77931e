"""`manage.py backup` and `manage.py restore`: the database and the uploaded files, encrypted.

What a backup holds: the database (PostgreSQL through `pg_dump --format=custom`, a consistent
snapshot; the SQLite file in embedded mode through SQLite's online backup API) and MEDIA_ROOT
(uploaded product images). Not the data-request exports: they are personal data that lives seven
days and must never come back after an erasure. Not the erasure ledger: it has to outlive the
backups to undo what a restore brings back.
"""

import json
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.db import connections
from django.utils import timezone

from shop.core import audit

from . import crypto, ledger

SUFFIX = ".sfbackup"


class BackupError(Exception):
    """A backup or restore that cannot go ahead; the message says why, for the operator."""


@dataclass(frozen=True)
class Backup:
    path: Path
    created_at: datetime
    size: int


def backup_dir() -> Path:
    folder = Path(settings.BACKUP_DIR)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder


def _key() -> str:
    if not settings.BACKUP_KEY:
        raise BackupError("BACKUP_KEY is not set: backups are always encrypted (see README, Backups).")
    return settings.BACKUP_KEY


def _pg_env(database: dict) -> dict:
    import os

    env = dict(os.environ)
    for variable, name in (("PGHOST", "HOST"), ("PGPORT", "PORT"), ("PGUSER", "USER"), ("PGPASSWORD", "PASSWORD")):
        if database.get(name):
            env[variable] = str(database[name])
    return env


def _run(command: list[str], *, env: dict) -> None:
    # A fixed program and arguments from settings, never a shell: nothing a request can reach.
    result = subprocess.run(command, env=env, capture_output=True, text=True)  # noqa: S603
    if result.returncode != 0:
        raise BackupError(f"{command[0]} failed: {result.stderr.strip()[:500]}")


def _dump_database(folder: Path) -> str:
    database = connections["default"].settings_dict
    if connections["default"].vendor == "postgresql":
        _run(
            ["pg_dump", "--format=custom", "--no-owner", "--file", str(folder / "database.dump"), database["NAME"]],
            env=_pg_env(database),
        )
        return "postgresql"
    if connections["default"].vendor == "sqlite":
        source = sqlite3.connect(database["NAME"])
        target = sqlite3.connect(folder / "db.sqlite3")
        with target:
            source.backup(target)
        source.close()
        target.close()
        return "sqlite"
    raise BackupError(f"no backup method for {connections['default'].vendor}")


def create_backup() -> Backup:
    """Write one encrypted backup into BACKUP_DIR and prune the ones past retention."""
    key = _key()
    folder = backup_dir()
    # Taken before the dump starts: every erasure in the ledger from here on is re-applied.
    created_at = timezone.now()
    name = f"backup-{created_at:%Y%m%dT%H%M%S%fZ}{SUFFIX}"
    with tempfile.TemporaryDirectory(dir=folder, prefix=".work-") as work:
        work = Path(work)
        engine = _dump_database(work)
        manifest = {"created_at": created_at.isoformat(), "engine": engine, "format": 1}
        (work / "manifest.json").write_text(json.dumps(manifest))
        partial = folder / (name + ".part")
        with open(partial, "wb") as out:
            writer = crypto.EncryptingWriter(out, key=key)
            with tarfile.open(fileobj=writer, mode="w|") as tar:
                tar.add(work / "manifest.json", arcname="manifest.json")
                for item in ("database.dump", "db.sqlite3"):
                    if (work / item).exists():
                        tar.add(work / item, arcname=item)
                media = Path(settings.MEDIA_ROOT)
                if media.exists():
                    tar.add(media, arcname="media")
            writer.close()
            out.flush()
        partial.chmod(0o600)
        final = partial.rename(folder / name)
    size = final.stat().st_size
    audit.record("backup.created", data={"file": name, "bytes": size, "engine": engine})
    prune_backups()
    return Backup(path=final, created_at=created_at, size=size)


def list_backups() -> list[Backup]:
    found = []
    for path in sorted(backup_dir().glob(f"backup-*{SUFFIX}")):
        stamp = path.name.removeprefix("backup-").removesuffix(SUFFIX)
        try:
            created = datetime.strptime(stamp, "%Y%m%dT%H%M%S%fZ").replace(tzinfo=UTC)
        except ValueError:
            continue
        found.append(Backup(path=path, created_at=created, size=path.stat().st_size))
    return found


def prune_backups(*, now: datetime | None = None) -> list[Path]:
    """Delete backups older than BACKUP_RETENTION_DAYS, never the newest one."""
    from shop.privacy.models import RetentionRun

    started = time.monotonic()
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.BACKUP_RETENTION_DAYS)
    backups = list_backups()
    removed = []
    for backup in backups[:-1]:
        if backup.created_at < cutoff:
            backup.path.unlink(missing_ok=True)
            removed.append(backup.path)
    # Listed with the other retention policies' runs (Privacy -> Retention runs).
    RetentionRun.objects.create(
        policy="backups", rows_affected=len(removed), duration=timedelta(seconds=time.monotonic() - started)
    )
    if removed:
        audit.record("backup.pruned", data={"files": [p.name for p in removed]})
    return removed


def _unpack(path: Path, work: Path) -> dict:
    """Decrypt and unpack into `work`; nothing is touched before every chunk has authenticated."""
    plain = work / "backup.tar"
    with open(path, "rb") as source, open(plain, "wb") as out:
        shutil.copyfileobj(crypto.DecryptingReader(source, key=_key()), out, crypto.CHUNK)
    with tarfile.open(plain) as tar:
        tar.extractall(work / "content", filter="data")
    plain.unlink()
    return json.loads((work / "content" / "manifest.json").read_text())


def restore_backup(path: Path, *, target_database: dict | None = None, stdout=None) -> dict:
    """Restore `path` over the shop's database and media (or only into `target_database`).

    Over the shop's own database the erasure ledger is re-applied before the restore marker is
    cleared, so the shop never serves an erased person's data again.
    """
    path = Path(path)
    if not path.exists():
        raise BackupError(f"no such backup: {path}")
    with tempfile.TemporaryDirectory(dir=backup_dir(), prefix=".restore-") as work:
        work = Path(work)
        manifest = _unpack(path, work)
        content = work / "content"
        if target_database is not None:
            _restore_database(content, manifest, target_database, clean=False)
            return {"manifest": manifest, "reapplied": []}
        ledger.mark_restore_pending(manifest["created_at"])
        connections.close_all()
        _restore_database(content, manifest, connections["default"].settings_dict, clean=True)
        media = Path(settings.MEDIA_ROOT)
        if (content / "media").exists():
            shutil.rmtree(media, ignore_errors=True)
            shutil.copytree(content / "media", media)
    reapplied = reapply_ledger(since=datetime.fromisoformat(manifest["created_at"]))
    audit.record(
        "backup.restored",
        data={"file": path.name, "backup_created_at": manifest["created_at"], "erasures_reapplied": len(reapplied)},
    )
    ledger.clear_restore_pending()
    return {"manifest": manifest, "reapplied": reapplied}


def _restore_database(content: Path, manifest: dict, database: dict, *, clean: bool) -> None:
    if manifest["engine"] == "postgresql":
        if database.get("ENGINE") != "django.db.backends.postgresql":
            raise BackupError("this backup is of a PostgreSQL database")
        command = ["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction"]
        if clean:
            command += ["--clean", "--if-exists"]
        _run([*command, "--dbname", database["NAME"], str(content / "database.dump")], env=_pg_env(database))
    else:
        if database.get("ENGINE") != "django.db.backends.sqlite3":
            raise BackupError("this backup is of an SQLite database")
        shutil.copyfile(content / "db.sqlite3", database["NAME"])


def reapply_ledger(*, since: datetime) -> list[int]:
    """Erase again everyone the ledger says was erased at or after `since`. Returns their ids."""
    from django.contrib.auth import get_user_model

    from shop.privacy import services as privacy
    from shop.privacy.models import DataRequest

    reapplied = []
    for entry in ledger.entries(since=since):
        subject_id = entry["subject_id"]
        done = DataRequest.objects.filter(
            subject_ref=subject_id, kind=DataRequest.Kind.ERASURE, status=DataRequest.Status.DONE
        ).exists()
        user = get_user_model().objects.filter(pk=subject_id).first()
        if done or user is None:
            continue
        request = privacy.request_erasure(
            subject=user, note="Re-applied from the erasure ledger after a restore from backup."
        )
        privacy.run_erasure(request_id=request.pk)
        reapplied.append(subject_id)
    return reapplied
