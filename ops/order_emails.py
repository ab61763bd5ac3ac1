"""What ops reads from the orders app: the one module that knows how orders and their emails are stored
(the outbox: one OrderEmail row per order email)."""

from django.db import transaction
from django.db.models import Count
from django.db.models.signals import post_save

from orders.emails import KINDS
from orders.models import Order, OrderEmail
from orders.signals import email_publish_failed

from . import metrics


def states():
    return list(OrderEmail.State.values)


def counts_by_kind_and_state():
    """{(kind, state): number of order emails} for every kind and state, zeros included."""
    counts = {(kind, state): 0 for kind in KINDS for state in states()}
    for kind, state, number in OrderEmail.objects.order_by().values_list("kind", "state").annotate(number=Count("id")):
        counts[(kind, state)] = number
    return counts


def _count_placed_order(sender, instance, created, raw=False, **kwargs):
    if created and not raw:
        # Counted once the order is committed: a rolled-back checkout placed nothing.
        transaction.on_commit(metrics.ORDERS_PLACED.inc)


def _count_failed_publish(sender, kind, **kwargs):
    metrics.record_failed_publish(kind)


def connect():
    post_save.connect(_count_placed_order, sender=Order, dispatch_uid="ops-count-placed-order")
    email_publish_failed.connect(_count_failed_publish, dispatch_uid="ops-count-failed-publish")
    metrics.register_database_gauges(counts_by_kind_and_state)
