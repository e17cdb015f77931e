from django.core.management.base import BaseCommand, CommandError

from shop.core import audit


class Command(BaseCommand):
    help = "Recompute the audit log's hash chain and name the first broken link, if any."

    def handle(self, *args, **options):
        checked, broken = audit.verify()
        if broken:
            raise CommandError(
                f"Audit log is NOT intact: event #{broken.seq} {broken.reason}. {checked} event(s) before it verified."
            )
        self.stdout.write(self.style.SUCCESS(f"Audit log intact: {checked} event(s) verified."))
