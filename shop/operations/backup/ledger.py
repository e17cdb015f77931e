"""The erasure ledger: one line per completed erasure, kept OUTSIDE the backups.

A restore brings back the database as it was; everyone erased since then would come back with
it. Each completed erasure therefore appends {at, subject id, request id, keyed hash of the
address} to this file (ERASURE_LEDGER_PATH, on storage the backups do not contain), and
`manage.py restore` re-applies every entry newer than the backup before the shop answers a
request again (the restore marker keeps readiness and every page at 503 until then).

No personal data: ids, and an HMAC of the address under ERASURE_LEDGER_KEY, so an entry can be
matched to guest orders of the same address without the ledger revealing it.
"""

import fcntl
import hashlib
import hmac
import json
import os
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.utils import timezone


def path() -> Path:
    return Path(settings.ERASURE_LEDGER_PATH)


def _marker() -> Path:
    return path().with_name(path().name + ".restore-pending")


def email_hash(email: str) -> str:
    key = settings.ERASURE_LEDGER_KEY.encode()
    return hmac.new(key, email.strip().lower().encode(), hashlib.sha256).hexdigest()


def append(*, subject_id: int, request_id: int, email: str = "") -> dict:
    entry = {
        "at": timezone.now().isoformat(),
        "subject_id": subject_id,
        "request_id": request_id,
        "email_hmac": email_hash(email) if email else "",
    }
    target = path()
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "a", encoding="utf-8") as ledger:
        fcntl.flock(ledger, fcntl.LOCK_EX)  # several workers on one host append whole lines
        ledger.write(json.dumps(entry, sort_keys=True) + "\n")
        ledger.flush()
        os.fsync(ledger.fileno())
    return entry


def entries(*, since: datetime | None = None) -> list[dict]:
    if not path().exists():
        return []
    result = []
    with open(path(), encoding="utf-8") as ledger:
        for line in ledger:
            line = line.strip()
            if not line:
                continue
            entry = json.loads(line)
            if since is None or datetime.fromisoformat(entry["at"]) >= since:
                result.append(entry)
    return result


def mark_restore_pending(backup_created_at: str) -> None:
    _marker().parent.mkdir(parents=True, exist_ok=True)
    _marker().write_text(backup_created_at)


def clear_restore_pending() -> None:
    _marker().unlink(missing_ok=True)


def restore_pending() -> bool:
    return _marker().exists()
