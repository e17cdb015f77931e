from django.core.management.base import BaseCommand, CommandError

from shop.operations.backup.archive import BackupError, create_backup


class Command(BaseCommand):
    help = "Write an encrypted backup (database and uploaded files) into BACKUP_DIR, then prune old ones."

    def handle(self, *args, **options):
        try:
            backup = create_backup()
        except BackupError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(self.style.SUCCESS(f"Backup written: {backup.path} ({backup.size} bytes)."))
