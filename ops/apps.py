from django.apps import AppConfig


class OpsConfig(AppConfig):
    """Health, readiness and metrics for operators: /healthz, /readyz, /metrics and the worker's exporter."""

    name = "ops"
    verbose_name = "Operations"

    def ready(self):
        from . import order_emails, worker

        order_emails.connect()
        worker.connect()
