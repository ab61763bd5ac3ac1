"""What ops reads from the orders app: the ONE module that knows how orders and their emails are stored.

TODO(OrderEmail): this reads today's columns on Order (`<kind>_status`, `<kind>_sent_at`, ...). When the
`OrderEmail(order, kind, state, ...)` model lands, switch the three functions below to it and delete the log
bridge at the bottom; nothing else in ops/ needs to change:

    counts_by_kind_and_state():  OrderEmail.objects.values_list("kind", "state").annotate(Count("id"))
    seconds_to_send(order_id, kind):  the row's sent_at minus its created (owed) time
"""
import logging

from django.db import transaction
from django.db.models import Count
from django.db.models.signals import post_save

from orders.models import Order

from . import metrics

KINDS = ("confirmation", "shipping")
# Task name -> email kind, for the worker's latency observations.
EMAIL_TASKS = {"orders.tasks.order_created": "confirmation", "orders.tasks.order_shipped": "shipping"}
SENT = "sent"  # what an email task returns when it sent the email (orders/tasks.py)


def states():
    return list(Order.EmailStatus.values)


def counts_by_kind_and_state():
    """{(kind, state): number of order emails} for every kind and state, zeros included."""
    counts = {(kind, state): 0 for kind in KINDS for state in states()}
    for kind in KINDS:
        field = f"{kind}_status"
        for state, number in Order.objects.order_by().values_list(field).annotate(number=Count("id")):
            counts[(kind, state)] = number
    return counts


def seconds_to_send(order_id, kind):
    """Seconds from the moment order `order_id`'s `kind` email was owed to its sending; None if unknown.

    Today only the confirmation has a start (the order's creation); the shipping notice has no "shipped at".
    """
    if kind != "confirmation":
        return None
    row = Order.objects.filter(id=order_id).values_list("created", "confirmation_sent_at").first()
    if row is None or row[1] is None:
        return None
    return max(0.0, (row[1] - row[0]).total_seconds())


def _count_placed_order(sender, instance, created, raw=False, **kwargs):
    if created and not raw:
        # Counted once the order is committed: a rolled-back checkout placed nothing.
        transaction.on_commit(metrics.ORDERS_PLACED.inc)


class _FailedHandoverLogBridge(logging.Filter):
    """Counts orders.services' "email not queued" warnings as failed hand-overs, until orders/ calls
    ops.metrics.record_failed_handover(kind) itself (then remove this bridge, or each failure counts twice)."""

    def filter(self, record):
        if "email not queued" in str(record.msg) and isinstance(record.args, tuple) and len(record.args) >= 2:
            metrics.record_failed_handover(str(record.args[1]))
        return True


def connect():
    post_save.connect(_count_placed_order, sender=Order, dispatch_uid="ops-count-placed-order")
    services_logger = logging.getLogger("orders.services")
    if not any(isinstance(existing, _FailedHandoverLogBridge) for existing in services_logger.filters):
        services_logger.addFilter(_FailedHandoverLogBridge())
