"""E-mail delivery of the embedded mode: every message lands as a file under var/mail/, and the
`make run` terminal says that it did.

The terminal shows who it went to, the subject and the file, not the body: bodies carry pickup
codes, reset and verification links, which must not end up in a terminal log or scrollback.
"""

import logging

from django.core.mail.backends.filebased import EmailBackend as FileBackend

logger = logging.getLogger("shop.mail")


class FileAndConsoleEmailBackend(FileBackend):
    def send_messages(self, email_messages):
        sent = super().send_messages(email_messages)
        for message in email_messages or []:
            logger.info("E-mail to %s, %r: saved in %s", ", ".join(message.to), message.subject, self._fname)
        return sent
