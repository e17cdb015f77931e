from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.core.management.base import BaseCommand, CommandError

from shop.accounts.models import User
from shop.core import audit
from shop.core.mail import template_headers
from shop.privacy import consent


class Command(BaseCommand):
    help = (
        "Send a newsletter to every active, confirmed account whose current marketing e-mail consent "
        "is granted (and to nobody else)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--subject", required=True)
        parser.add_argument("--body-file", required=True, help="A plain-text file with the message.")
        parser.add_argument("--dry-run", action="store_true", help="Only count the recipients.")

    def handle(self, *args, subject, body_file, dry_run, **options):
        try:
            with open(body_file, encoding="utf-8") as handle:
                body = handle.read()
        except OSError as error:
            raise CommandError(f"Cannot read the body file: {error}") from error
        if not subject.strip() or not body.strip():
            raise CommandError("The subject and the body must not be empty.")
        recipients = consent.marketing_recipients(
            User.objects.filter(is_active=True).exclude(email_verified_at=None)
        ).order_by("pk")
        if dry_run:
            self.stdout.write(f"Would send to {recipients.count()} consenting recipient(s).")
            return
        sent = 0
        with get_connection() as connection:
            for email in recipients.values_list("email", flat=True).iterator(chunk_size=500):
                message = EmailMessage(
                    subject,
                    body,
                    settings.DEFAULT_FROM_EMAIL,
                    [email],
                    connection=connection,
                    headers=template_headers("newsletter (send_newsletter --body-file)"),
                )
                sent += message.send()
        audit.record("newsletter.sent", data={"recipients": sent})
        self.stdout.write(f"Sent to {sent} consenting recipient(s).")
