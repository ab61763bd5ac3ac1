"""The sweep: confirmations that never reached the broker are handed over again, and only those."""
from datetime import timedelta
from unittest.mock import patch

import pytest
from django.utils import timezone

from orders.models import Order
from orders.services import sweep_unsent_emails
from orders.tasks import order_created


@pytest.fixture
def make_order(db, customer):
    def make(age_seconds, **fields):
        order = Order.objects.create(**customer)
        then = timezone.now() - timedelta(seconds=age_seconds)
        Order.objects.filter(id=order.id).update(created=then, updated=then, **fields)
        return order.id

    return make


def test_sweep_hands_over_exactly_the_confirmations_the_broker_does_not_hold(make_order, settings):
    now = timezone.now()
    never_queued = make_order(60)
    lost_long_ago = make_order(3600, confirmation_queued_at=now - timedelta(hours=1))
    dead_workers_claim = make_order(3600, confirmation_status="sending", confirmation_claimed_at=now - timedelta(
        seconds=settings.ORDER_EMAIL_CLAIM_SECONDS + 5))
    make_order(1)  # just placed: its on-commit hand-over may still be running
    make_order(60, confirmation_queued_at=now - timedelta(seconds=30))  # queued recently
    make_order(60, confirmation_status="sending", confirmation_claimed_at=now)  # a live worker sends it
    make_order(60, confirmation_status="sent", confirmation_sent_at=now)
    make_order(60, confirmation_status="failed")  # waits for an operator

    with patch.object(order_created, "delay") as delay:
        swept = sweep_unsent_emails()

    queued = swept["confirmation"]
    assert queued == [never_queued, lost_long_ago, dead_workers_claim] and swept["shipping"] == []
    assert [call.args for call in delay.call_args_list] == [(never_queued,), (lost_long_ago,), (dead_workers_claim,)]
    assert Order.objects.filter(id__in=queued, confirmation_queued_at__gt=now).count() == 3


def test_sweep_stops_at_the_first_refused_hand_over_and_keeps_the_rest_owed(make_order):
    first, second = make_order(60), make_order(60)
    with patch.object(order_created, "delay", side_effect=ConnectionRefusedError()):
        assert sweep_unsent_emails() == {"confirmation": [], "shipping": []}
    assert Order.objects.filter(id__in=[first, second], confirmation_queued_at__isnull=True).count() == 2


def test_sweep_runs_periodically_from_beat(settings):
    from myshop.celery import app

    entry = app.conf.beat_schedule["sweep-order-emails"]
    assert entry["task"] == "orders.tasks.sweep_unsent_emails"
    assert entry["schedule"] == settings.ORDER_EMAIL_SWEEP_SECONDS
    app.loader.import_default_modules()
    assert entry["task"] in app.tasks


def test_sweep_also_hands_over_shipping_notices_the_broker_never_got(make_order):
    from orders.tasks import order_shipped

    shipped = make_order(60, status="shipped", shipping_status="pending")
    make_order(60, status="shipped", shipping_status="sent", confirmation_status="sent")
    Order.objects.exclude(id=shipped).update(confirmation_status="sent")
    Order.objects.filter(id=shipped).update(confirmation_status="sent")
    with patch.object(order_shipped, "delay") as delay:
        assert sweep_unsent_emails() == {"confirmation": [], "shipping": [shipped]}
    delay.assert_called_once_with(shipped)
