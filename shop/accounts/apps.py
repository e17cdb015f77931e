from django.apps import AppConfig, apps
from django.contrib.admin import apps as admin_apps
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    name = "shop.accounts"
    label = "accounts"
    verbose_name = "Accounts"
    default = True

    def ready(self):
        from django.core.checks import Tags, register

        from . import checks, receivers  # noqa: F401  (receivers: audit of failed logins and lockouts)

        register(checks.check_passkey_relying_party, Tags.security)

        post_migrate.connect(_sync_roles, dispatch_uid="accounts.sync_roles")


def _sync_roles(sender, **kwargs):
    # post_migrate fires once per installed app, in order, each time after Django has created
    # that app's permissions; at the last app every permission the roles name exists.
    # (Django skips apps without models.)
    if sender is [config for config in apps.get_app_configs() if config.models_module][-1]:
        from .roles import sync_roles

        sync_roles()


class OTPAdminConfig(admin_apps.AdminConfig):
    """django.contrib.admin with the OTP-enforcing site as `admin.site`."""

    default = False
    default_site = "shop.accounts.admin_site.ShopAdminSite"
