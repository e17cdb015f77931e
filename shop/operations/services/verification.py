"""Audit-chain verification runs, stored so the dashboard can say when the chain was last checked."""

import time
from datetime import timedelta

from shop.core import audit

from ..models import AuditVerification


def verify_audit_chain() -> AuditVerification:
    started = time.monotonic()
    checked, broken = audit.verify()
    return AuditVerification.objects.create(
        checked=checked,
        intact=broken is None,
        broken_seq=broken.seq if broken else None,
        duration=timedelta(seconds=time.monotonic() - started),
    )
