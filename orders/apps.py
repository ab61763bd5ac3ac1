from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "orders"

    def ready(self):
        from . import checks, tasks  # noqa: F401  (checks registered; tasks declare the order emails)
