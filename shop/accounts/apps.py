from django.apps import AppConfig, apps
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    name = "shop.accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self):
        post_migrate.connect(_sync_roles, dispatch_uid="accounts.sync_roles")


def _sync_roles(sender, **kwargs):
    # post_migrate fires once per installed app, in order, each time after Django has created
    # that app's permissions; at the last app every permission the roles name exists.
    # (Django skips apps without models.)
    if sender is [config for config in apps.get_app_configs() if config.models_module][-1]:
        from .roles import sync_roles

        sync_roles()
