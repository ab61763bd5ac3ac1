"""What ops reads from the orders app: the one module that knows how orders and their emails are stored
(the outbox: one OrderEmail row per order email)."""
from django.db import transaction
from django.db.models import Count
from django.db.models.signals import post_save

from orders.models import Order, OrderEmail
from orders.outbox import TASK_NAMES
from orders.signals import email_handover_failed

from . import metrics

KINDS = tuple(OrderEmail.Kind.values)
# Task name -> email kind, for the worker's latency observations.
EMAIL_TASKS = {name: kind for kind, name in TASK_NAMES.items()}
SENT = "sent"  # what an email task returns when it sent the email (orders/tasks.py)


def states():
    return list(OrderEmail.State.values)


def counts_by_kind_and_state():
    """{(kind, state): number of order emails} for every kind and state, zeros included."""
    counts = {(kind, state): 0 for kind in KINDS for state in states()}
    for kind, state, number in OrderEmail.objects.order_by().values_list("kind", "state").annotate(
            number=Count("id")):
        counts[(kind, state)] = number
    return counts


def seconds_to_send(order_id, kind):
    """Seconds from the moment order `order_id`'s `kind` email was owed (its outbox row) to its sending; None
    if unknown."""
    row = OrderEmail.objects.filter(order_id=order_id, kind=kind).values_list("created", "sent_at").first()
    if row is None or row[1] is None:
        return None
    return max(0.0, (row[1] - row[0]).total_seconds())


def _count_placed_order(sender, instance, created, raw=False, **kwargs):
    if created and not raw:
        # Counted once the order is committed: a rolled-back checkout placed nothing.
        transaction.on_commit(metrics.ORDERS_PLACED.inc)


def _count_failed_handover(sender, kind, **kwargs):
    metrics.record_failed_handover(kind)


def connect():
    post_save.connect(_count_placed_order, sender=Order, dispatch_uid="ops-count-placed-order")
    email_handover_failed.connect(_count_failed_handover, dispatch_uid="ops-count-failed-handover")
    metrics.register_database_gauges(counts_by_kind_and_state)
