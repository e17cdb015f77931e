from django.apps import AppConfig


class PrivacyConfig(AppConfig):
    name = "shop.privacy"
    label = "privacy"
    verbose_name = "Privacy"
