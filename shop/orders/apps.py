from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "shop.orders"
    label = "orders"
    verbose_name = "Orders"

    def ready(self):
        from . import fraud, receivers  # noqa: F401  (connect the login and fraud-review signals)
