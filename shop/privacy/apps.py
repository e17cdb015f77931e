from django.apps import AppConfig


class PrivacyConfig(AppConfig):
    name = "shop.privacy"
    label = "privacy"
    verbose_name = "Privacy"

    def ready(self):
        from django.utils.module_loading import autodiscover_modules

        # Each app's shop/<app>/personal_data.py declares its models (shop/privacy/registry.py).
        autodiscover_modules("personal_data")
        from . import (
            consent,  # noqa: F401  (merges a visitor's consent choices at login)
            receivers,  # noqa: F401  (a closed order resumes its owner's deferred erasure)
        )
