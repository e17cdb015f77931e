"""Encrypted backups, restore, retention, the erasure ledger and the restore drill."""

import io
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from shop.operations.backup import archive, crypto, ledger
from shop.privacy import services as privacy
from tests.factories import UserFactory

KEY = "k" * 40


@pytest.fixture
def backup_settings(settings, tmp_path):
    settings.BACKUP_DIR = tmp_path / "backups"
    settings.BACKUP_KEY = KEY
    settings.ERASURE_LEDGER_PATH = tmp_path / "ledger" / "erasures.jsonl"
    settings.MEDIA_ROOT = tmp_path / "media"
    (tmp_path / "media" / "products").mkdir(parents=True)
    (tmp_path / "media" / "products" / "mug.jpg").write_bytes(b"\xff\xd8 a product image")
    return settings


def _encrypt(data: bytes, key: str = KEY) -> bytes:
    out = io.BytesIO()
    writer = crypto.EncryptingWriter(out, key=key)
    writer.write(data)
    writer.close()
    return out.getvalue()


def _decrypt(blob: bytes, key: str = KEY) -> bytes:
    return crypto.DecryptingReader(io.BytesIO(blob), key=key).read()


def test_the_cipher_round_trips_several_chunks(monkeypatch):
    monkeypatch.setattr(crypto, "CHUNK", 1000)
    data = bytes(range(256)) * 20  # 5 chunks
    blob = _encrypt(data)
    assert data[:100] not in blob
    assert _decrypt(blob) == data


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda blob: blob[:-1], id="cut-inside-a-chunk"),
        pytest.param(lambda blob: blob[:-7] + bytes([blob[-7] ^ 1]) + blob[-6:], id="one-bit-flipped"),
        pytest.param(lambda blob: blob + b"x", id="data-appended"),
    ],
)
def test_an_altered_backup_is_refused(tamper):
    with pytest.raises(crypto.BackupCorrupt):
        _decrypt(tamper(_encrypt(b"orders and accounts" * 100)))


def test_a_backup_cut_at_a_chunk_boundary_is_refused(monkeypatch):
    monkeypatch.setattr(crypto, "CHUNK", 100)
    blob = _encrypt(b"x" * 350)  # chunks of 100, 100, 100, and the last one of 50
    header = len(crypto.MAGIC) + 24
    chunk = 4 + 100 + 16
    with pytest.raises(crypto.BackupCorrupt, match="cut short"):
        _decrypt(blob[: header + 2 * chunk])


def test_the_wrong_key_is_refused():
    with pytest.raises(crypto.BackupCorrupt, match="does not authenticate"):
        _decrypt(_encrypt(b"secret"), key="z" * 40)


def test_a_short_key_is_refused():
    with pytest.raises(ValueError, match="at least 32"):
        _encrypt(b"secret", key="short")


@pytest.mark.django_db
def test_backup_refuses_to_run_without_a_key(backup_settings):
    backup_settings.BACKUP_KEY = ""
    with pytest.raises(CommandError, match="BACKUP_KEY is not set"):
        call_command("backup", stdout=io.StringIO())


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_backup_erase_restore_and_the_subject_is_still_erased(backup_settings):
    User = get_user_model()
    erased, kept = UserFactory(email="erase.me@example.com"), UserFactory(email="stays@example.com")
    backup = archive.create_backup()
    assert backup.path.parent == backup_settings.BACKUP_DIR
    assert b"erase.me@example.com" not in backup.path.read_bytes()

    request = privacy.request_erasure(subject=erased)
    privacy.run_erasure(request_id=request.pk)
    assert User.objects.get(pk=erased.pk).email != "erase.me@example.com"
    (entry,) = ledger.entries()
    assert entry["subject_id"] == erased.pk
    assert "erase.me" not in backup_settings.ERASURE_LEDGER_PATH.read_text()

    (backup_settings.MEDIA_ROOT / "products" / "mug.jpg").unlink()
    result = archive.restore_backup(backup.path)

    assert result["reapplied"] == [erased.pk]
    assert not User.objects.filter(email="erase.me@example.com").exists()
    assert User.objects.get(pk=kept.pk).email == "stays@example.com"
    assert (backup_settings.MEDIA_ROOT / "products" / "mug.jpg").read_bytes() == b"\xff\xd8 a product image"
    assert not ledger.restore_pending()
    # A second restore of the same backup re-applies the same erasure again.
    assert archive.restore_backup(backup.path)["reapplied"] == [erased.pk]
    assert not User.objects.filter(email="erase.me@example.com").exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_restore_asks_for_the_database_name_first(backup_settings):
    from django.db import connection

    UserFactory()
    call_command("backup", stdout=io.StringIO())
    with pytest.raises(CommandError, match="Not confirmed"):
        call_command("restore", confirm="wrong", stdout=io.StringIO())
    out = io.StringIO()
    call_command("restore", confirm=connection.settings_dict["NAME"], stdout=out)
    assert "0 erasure(s) from the ledger re-applied" in out.getvalue()


@pytest.mark.django_db
def test_backups_past_retention_are_deleted_but_never_the_newest(backup_settings):
    folder = archive.backup_dir()
    now = timezone.now()
    names = []
    for days in (60, 40, 35):
        stamp = now - timedelta(days=days)
        names.append(folder / f"backup-{stamp:%Y%m%dT%H%M%S%fZ}{archive.SUFFIX}")
        names[-1].write_bytes(b"old")
    backup_settings.BACKUP_RETENTION_DAYS = 30
    assert archive.prune_backups(now=now) == names[:2]
    assert [b.path for b in archive.list_backups()] == names[2:]
    from shop.privacy.models import RetentionRun

    assert RetentionRun.objects.get(policy="backups").rows_affected == 2


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_restore_drill_compares_row_counts_and_verifies_the_audit_chain(backup_settings):
    from shop.core import audit

    for _ in range(3):
        audit.record("test.event", data={"n": 1})
    UserFactory()
    out = io.StringIO()
    call_command("restore_drill", stdout=out)
    assert "Audit log intact: 3 event(s) verified." in out.getvalue()
    assert "Restore drill passed" in out.getvalue()
