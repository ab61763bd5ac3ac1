from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PaymentsConfig(AppConfig):
    """Taking an order's payment through a provider, its webhooks, refunds, expiry, and the invoices."""

    name = "payments"
    verbose_name = _("Payments")

    def ready(self):
        from orders import pages
        from orders.signals import order_status_changed

        from . import checks, invoices, tasks  # noqa: F401  (checks registered; tasks declare the invoice email)
        from .templatetags.payment_pages import order_payment_panel

        order_status_changed.connect(invoices.issue_for_paid_orders, dispatch_uid="payments-issue-invoices")
        order_status_changed.connect(
            tasks.close_checkouts_of_cancelled_orders, dispatch_uid="payments-close-cancelled-checkouts"
        )
        pages.add_panel(order_payment_panel)
