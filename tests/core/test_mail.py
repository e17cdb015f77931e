"""The mail log names each message by id and template, never its recipient, subject or body; the
embedded mode's mail files are purged by retention."""

import logging
import os
import time
from datetime import timedelta

import pytest
from django.core import mail
from django.core.mail import EmailMessage
from django.core.mail.backends.locmem import EmailBackend as MemoryBackend
from django.utils import timezone

from shop.core.mail import FileAndConsoleEmailBackend, MailLogMixin, template_headers
from shop.privacy import retention, services
from tests.factories import UserFactory


def _message():
    return EmailMessage(
        "Your order ABCDE-12345 is ready",
        "Pickup code: K7QM-2XRD",
        "shop@localhost",
        ["ann@example.com"],
        headers=template_headers("emails/pickup_ready.txt"),
    )


def test_embedded_mail_is_kept_as_a_file_and_logged_by_id_and_template_only(tmp_path, caplog):
    backend = FileAndConsoleEmailBackend(file_path=str(tmp_path))
    message = _message()

    with caplog.at_level(logging.INFO, logger="shop.mail"):
        assert backend.send_messages([message]) == 1

    saved = list(tmp_path.iterdir())
    assert len(saved) == 1 and "K7QM-2XRD" in saved[0].read_text()
    message_id = message.extra_headers["Message-ID"]
    assert f"Message-ID: {message_id}" in saved[0].read_text()  # the log line finds the file
    assert message_id in caplog.text and "emails/pickup_ready.txt" in caplog.text
    for secret in ("ann@example.com", "ABCDE-12345", "K7QM-2XRD", "ann"):
        assert secret not in caplog.text


def test_the_smtp_mail_log_names_the_message_and_not_the_recipient(caplog):
    class LoggingMemoryBackend(MailLogMixin, MemoryBackend):
        """The mixin the production SMTP backend uses, over Django's in-memory backend."""

    with caplog.at_level(logging.INFO, logger="shop.mail"):
        LoggingMemoryBackend().send_messages([_message()])

    sent = mail.outbox[-1]
    assert sent.extra_headers["Message-ID"] in caplog.text and "1 recipient(s)" in caplog.text
    assert "ann@example.com" not in caplog.text and "ABCDE-12345" not in caplog.text


@pytest.mark.django_db
def test_the_shops_own_mails_name_their_template(settings, tmp_path, caplog):
    settings.PRIVACY_EXPORT_DIR = tmp_path / "exports"
    settings.PRIVACY_EXPORT_SPOOL_DIR = tmp_path / "spool"
    settings.EMAIL_BACKEND = "shop.core.mail.FileAndConsoleEmailBackend"
    settings.EMAIL_FILE_PATH = tmp_path / "mail"
    user = UserFactory(email="zoe.private@example.com")
    request = services.request_export(subject=user)

    with caplog.at_level(logging.INFO, logger="shop.mail"):
        services.run_export(request_id=request.pk)

    assert "template emails/privacy_export_ready.txt" in caplog.text
    assert "zoe" not in caplog.text


@pytest.mark.django_db
def test_embedded_mail_files_are_purged_after_the_retention_period(settings, tmp_path):
    settings.EMAIL_BACKEND = "shop.core.mail.FileAndConsoleEmailBackend"
    settings.EMAIL_FILE_PATH = tmp_path
    settings.SHOP_MAIL_FILE_DAYS = 7
    old, recent = tmp_path / "old.log", tmp_path / "recent.log"
    for path, age in ((old, timedelta(days=7, hours=1)), (recent, timedelta(days=6, hours=23))):
        path.write_text("To: ann@example.com")
        stamp = time.time() - age.total_seconds()
        os.utime(path, (stamp, stamp))

    dry = {run.policy: run.rows_affected for run in retention.apply_all(dry_run=True)}
    assert dry["embedded_mail_files"] == 1 and old.exists()

    runs = {run.policy: run.rows_affected for run in retention.apply_all(now=timezone.now())}

    assert runs["embedded_mail_files"] == 1
    assert not old.exists() and recent.exists()


@pytest.mark.django_db
def test_production_mail_files_are_not_the_shops_to_purge(settings, tmp_path):
    settings.EMAIL_BACKEND = "shop.core.mail.SMTPEmailBackend"
    settings.EMAIL_FILE_PATH = tmp_path
    (tmp_path / "unrelated").write_text("x")
    os.utime(tmp_path / "unrelated", (0, 0))

    assert {run.policy: run.rows_affected for run in retention.apply_all()}["embedded_mail_files"] == 0
    assert (tmp_path / "unrelated").exists()
