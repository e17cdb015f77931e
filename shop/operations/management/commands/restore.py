from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from shop.operations.backup.archive import BackupError, list_backups, restore_backup
from shop.operations.backup.crypto import BackupCorrupt


class Command(BaseCommand):
    help = (
        "Restore an encrypted backup over the shop's database and uploaded files, then re-apply every "
        "erasure recorded since the backup. Asks for the database name as confirmation."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", nargs="?", help="the backup file (default: the newest in BACKUP_DIR)")
        parser.add_argument(
            "--confirm", metavar="DATABASE", help="the name of the database to overwrite, instead of the prompt"
        )

    def handle(self, *args, file=None, confirm=None, **options):
        if file:
            path = Path(file)
        else:
            backups = list_backups()
            if not backups:
                raise CommandError("No backup in BACKUP_DIR.")
            path = backups[-1].path
        name = str(connections["default"].settings_dict["NAME"])
        self.stdout.write(f"This replaces ALL data in database {name!r} (and MEDIA_ROOT) with {path.name}.")
        if confirm is None:
            try:
                confirm = input("Type the database name to go ahead: ")
            except EOFError:  # no terminal (a script): --confirm DATABASE is the only way
                confirm = ""
        if confirm.strip() != name:
            raise CommandError("Not confirmed: nothing was changed.")
        try:
            result = restore_backup(path)
        except (BackupError, BackupCorrupt) as error:
            raise CommandError(str(error)) from error
        self.stdout.write(
            self.style.SUCCESS(
                f"Restored the backup of {result['manifest']['created_at']}; "
                f"{len(result['reapplied'])} erasure(s) from the ledger re-applied."
            )
        )
