"""The beat tasks of security operations, and the erasure ledger's hook on privacy."""

from django.core.cache import cache

from shop.core import audit
from shop.operations import health, tasks
from shop.operations.backup import ledger
from shop.operations.models import AuditVerification
from shop.privacy import services as privacy
from tests.factories import UserFactory


def test_the_daily_chain_verification_is_stored_for_the_dashboard(db):
    audit.record("test.event")
    assert tasks.verify_audit_chain.delay().get() is True
    run = AuditVerification.objects.get()
    assert (run.checked, run.intact, run.broken_seq) == (1, True, None)


def test_the_beat_heartbeat_is_what_readiness_reads(db):
    tasks.beat_heartbeat.delay()
    assert cache.get(health.BEAT_HEARTBEAT_KEY)


def test_a_completed_erasure_is_written_to_the_ledger_after_commit(
    db, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.ERASURE_LEDGER_PATH = tmp_path / "erasures.jsonl"
    user = UserFactory(email="gone@example.com")
    request = privacy.request_erasure(subject=user)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        privacy.run_erasure(request_id=request.pk)
    assert ledger.entries() == []  # not before the erasure committed
    for callback in callbacks:
        callback()
    (entry,) = ledger.entries()
    assert entry["subject_id"] == user.pk and entry["request_id"] == request.pk
    assert entry["email_hmac"] == ledger.email_hash("GONE@example.com ")
    assert "gone@example.com" not in settings.ERASURE_LEDGER_PATH.read_text()
