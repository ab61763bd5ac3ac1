from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    """Taking an order's payment through a provider, its webhooks, refunds, expiry, and the invoices."""

    name = "payments"

    def ready(self):
        from . import checks  # noqa: F401  (registers the configuration checks)
