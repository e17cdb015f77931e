from django.apps import AppConfig


class OperationsConfig(AppConfig):
    name = "shop.operations"
    label = "operations"
    verbose_name = "Security operations"

    def ready(self):
        from . import receivers  # noqa: F401  (erasure ledger, activity counters)
