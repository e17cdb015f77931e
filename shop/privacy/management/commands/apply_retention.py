from django.core.management.base import BaseCommand

from shop.privacy import retention


class Command(BaseCommand):
    help = "Apply every retention policy (shop/privacy/retention.py); --dry-run only counts what it would do."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Change nothing; print what would happen.")

    def handle(self, *args, dry_run, **options):
        policies = {policy.name: policy for policy in retention.POLICIES}
        runs = retention.apply_all(dry_run=dry_run)
        verb = "would" if dry_run else "did"
        for run in runs:
            policy = policies[run.policy]
            self.stdout.write(f"{run.policy}: {verb} {policy.action} {run.rows_affected} row(s) — {policy.description}")
        if dry_run:
            self.stdout.write("Dry run: nothing was changed.")
