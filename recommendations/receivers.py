"""Paid orders handed to the worker to be counted, once their payment commits."""

import logging

from django.db import transaction

from orders.models import Order

from . import store
from .tasks import count_paid_order

logger = logging.getLogger(__name__)


def on_status_changed(sender, order_ids, status, **kwargs):
    """Receiver of orders.signals.order_status_changed: count the orders just paid, once the payment commits."""
    if status == Order.Status.PAID and store.is_configured():
        for order_id in order_ids:
            transaction.on_commit(lambda order_id=order_id: publish(order_id))


def publish(order_id):
    """Hand order `order_id` to the worker to be counted; never raises (the nightly rebuild counts it)."""
    try:
        count_paid_order.delay(order_id)
    except Exception:  # kombu raises OperationalError, but a broken broker can surface as anything
        logger.warning("order %s: not published to be counted in recommendations; the nightly rebuild will", order_id)
