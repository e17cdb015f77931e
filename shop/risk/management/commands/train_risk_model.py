"""Run the nightly training now (what Celery beat runs at 02:41 UTC)."""

from django.core.management.base import BaseCommand

from shop.risk import training


class Command(BaseCommand):
    help = "Train the risk model on the labelled history; promote it only if it beats the one in use."

    def handle(self, *args, **options):
        outcome = training.train()
        if not outcome.get("trained"):
            self.stdout.write(f"Not trained: {outcome['why']}")
            return
        metrics = outcome["metrics"]
        self.stdout.write(
            f"{outcome['kind']}: PR-AUC {metrics['pr_auc']} on the validation weeks against {metrics['baseline']} "
            f"{metrics['baseline_pr_auc']}: {'promoted' if outcome['promoted'] else 'not promoted'}."
        )
