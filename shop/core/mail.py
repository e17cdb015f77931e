"""The mail log, and e-mail delivery of the embedded mode.

Every message the shop sends is logged as one line naming its Message-ID and its template, never
the recipient, the subject (subjects carry order numbers) or the body (bodies carry pickup codes,
reset and verification links). The Message-ID is fixed before sending, so the line in the log,
the file under var/mail/ and the copy the SMTP server keeps all carry the same id: support can
follow one message without the log holding anyone's address.

Senders name their template with `template_headers("emails/x.txt")` as the message's headers.

In the embedded mode every message lands as a file under var/mail/ (purged after
SHOP_MAIL_FILE_DAYS by the retention policy `embedded_mail_files`).
"""

import logging
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.core.mail.backends.filebased import EmailBackend as FileBackend
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend
from django.core.mail.message import make_msgid
from django.core.mail.utils import DNS_NAME

logger = logging.getLogger("shop.mail")

TEMPLATE_HEADER = "X-Storefront-Template"


def template_headers(template: str) -> dict[str, str]:
    """Headers that name the message's template in the mail log."""
    return {TEMPLATE_HEADER: template}


def _stamp(message) -> str:
    headers = message.extra_headers
    if "Message-ID" not in headers:
        headers["Message-ID"] = make_msgid(domain=DNS_NAME)
    return headers["Message-ID"]


class MailLogMixin:
    """Log each message by id and template once the backend has sent it."""

    def send_messages(self, email_messages):
        messages = list(email_messages or [])
        for message in messages:
            _stamp(message)
        sent = super().send_messages(messages)
        for message in messages:
            self.log(message)
        return sent

    def log(self, message) -> None:
        template = message.extra_headers.get(TEMPLATE_HEADER, "unnamed")
        logger.info(
            "E-mail %s sent: template %s, %d recipient(s)",
            message.extra_headers["Message-ID"],
            template,
            len(message.recipients()),
        )


class SMTPEmailBackend(MailLogMixin, SMTPBackend):
    """Django's SMTP backend with the mail log (production, EMAIL_URL)."""


class FileAndConsoleEmailBackend(MailLogMixin, FileBackend):
    """The embedded mode: a file per message under var/mail/, announced on the console by id."""

    def log(self, message) -> None:
        template = message.extra_headers.get(TEMPLATE_HEADER, "unnamed")
        logger.info("E-mail %s saved in %s: template %s", message.extra_headers["Message-ID"], self._fname, template)


def purge_mail_files(*, older_than: datetime, dry_run: bool = False) -> int:
    """Delete the embedded mode's mail files last written before `older_than` (files only)."""
    if settings.EMAIL_BACKEND != "shop.core.mail.FileAndConsoleEmailBackend":
        return 0
    directory = Path(settings.EMAIL_FILE_PATH)
    if not directory.is_dir():
        return 0
    cutoff = older_than.timestamp()
    count = 0
    for path in directory.iterdir():
        if path.is_file() and path.stat().st_mtime < cutoff:
            if not dry_run:
                path.unlink(missing_ok=True)
            count += 1
    return count
