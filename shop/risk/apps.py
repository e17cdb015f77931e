from django.apps import AppConfig


class RiskConfig(AppConfig):
    name = "shop.risk"
    label = "risk"
    verbose_name = "Fraud risk"
