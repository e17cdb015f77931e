"""The append-only, hash-chained audit log.

Each event's hash covers its own content and the hash of the event before it, so changing,
removing or reordering any row breaks every link after it. `record()` is the only writer;
`verify()` recomputes the chain.
"""

import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal

from django.db import models, transaction
from django.utils import timezone

from .models import GENESIS_HASH, AuditChainHead, AuditEvent


def record(action: str, *, actor=None, subject=None, data: dict | None = None) -> AuditEvent:
    """Append one event. `actor` is a user (or None), `subject` a model instance (or None).

    Pass ids and codes in `data`, never names, addresses or other personal data.
    """
    with transaction.atomic():
        # Serialise writers on the chain head: the lock is held until this transaction commits.
        # get_or_create: a flushed database (tests, a fresh install) has no head row yet.
        head, _ = AuditChainHead.objects.select_for_update().get_or_create(pk=1)
        event = AuditEvent(
            seq=head.last_seq + 1,
            created_at=timezone.now(),
            action=action,
            actor_id=actor.pk if actor is not None and actor.pk else None,
            subject_type=subject._meta.label_lower if isinstance(subject, models.Model) else "",
            subject_id=str(subject.pk) if isinstance(subject, models.Model) else "",
            # Round-trip through JSON so that what is hashed is exactly what the database gives back.
            data=json.loads(json.dumps(data or {}, default=str), parse_float=_as_stored_number),
            prev_hash=head.last_hash,
        )
        event.hash = compute_hash(event)
        event.save(force_insert=True)
        head.last_seq, head.last_hash = event.seq, event.hash
        head.save(update_fields=["last_seq", "last_hash"])
    return event


def _as_stored_number(text: str) -> float | int:
    """A JSON number as PostgreSQL's jsonb will hand it back, so that its hash still matches.

    jsonb keeps numbers as exact decimals and prints them without an exponent: 1e+20 comes back
    as the integer 100000000000000000000 and -0.0 as 0.0. Hashing Python's spelling instead
    would make verify() report an intact event as altered.
    """
    value = float(text)
    if value == 0:
        return 0.0
    if "e" in text.lower() and value.is_integer():
        return int(Decimal(text))
    return value


def compute_hash(event: AuditEvent) -> str:
    payload = {
        "seq": event.seq,
        "created_at": event.created_at.isoformat(),
        "action": event.action,
        "actor_id": event.actor_id,
        "subject_type": event.subject_type,
        "subject_id": event.subject_id,
        "data": event.data,
        "prev_hash": event.prev_hash,
    }
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class BrokenLink:
    seq: int
    reason: str


def verify() -> tuple[int, BrokenLink | None]:
    """Recompute the whole chain; return how many events were checked and the first broken link."""
    expected_prev = GENESIS_HASH
    checked = 0
    for event in AuditEvent.objects.order_by("seq").iterator(chunk_size=2000):
        if event.seq != checked + 1 or event.prev_hash != expected_prev:
            return checked, BrokenLink(checked + 1, "is missing or does not link to the event before it")
        if compute_hash(event) != event.hash:
            return checked, BrokenLink(event.seq, "its content no longer matches its hash (it was altered)")
        expected_prev = event.hash
        checked += 1
    head = AuditChainHead.objects.filter(pk=1).first() or AuditChainHead()
    if head.last_seq != checked or head.last_hash != expected_prev:
        return checked, BrokenLink(checked + 1, "is missing: the newest events were removed")
    return checked, None
