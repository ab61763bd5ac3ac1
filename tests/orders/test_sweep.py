"""The sweep: owed emails the broker may have lost are handed over again, each at most once a period."""

import threading
import time
from datetime import timedelta
from unittest.mock import patch

import pytest
from django.db import connection
from django.utils import timezone

from orders import outbox
from orders.models import Order, OrderEmail
from orders.tasks import order_created, order_shipped, sweep_unsent_emails


@pytest.fixture
def make_email(db, customer):
    """An order owing one email, its outbox row set to `fields` (times relative to now)."""

    def make(kind="confirmation", **fields):
        order = Order.objects.create(**customer)
        OrderEmail.objects.create(order=order, kind=kind, **fields)
        return order.id

    return make


def ago(seconds):
    return timezone.now() - timedelta(seconds=seconds)


def test_sweep_publishes_exactly_the_emails_the_broker_may_not_hold(make_email, settings):
    never_handed_over = make_email(due_at=ago(60))
    lost_long_ago = make_email(queued_at=ago(3600), due_at=ago(2700))
    dead_workers_claim = make_email(state="sending", claim_expires_at=ago(5), due_at=ago(60))
    make_email(queued_at=ago(1), due_at=ago(-900))  # just handed over at checkout
    make_email(state="sending", claim_expires_at=ago(-20), due_at=ago(60))  # a live worker sends it
    make_email(state="sent", due_at=ago(60))
    make_email(state="unconfirmed", due_at=ago(60))  # may have gone out: only an operator resends it
    make_email(state="failed", due_at=ago(60))  # waits for an operator

    with patch.object(order_created, "delay") as delay:
        swept = outbox.sweep()

    assert sorted(swept) == sorted(
        (order_id, "confirmation") for order_id in (never_handed_over, lost_long_ago, dead_workers_claim)
    )
    assert sorted(call.args for call in delay.call_args_list) == sorted(
        [(never_handed_over,), (lost_long_ago,), (dead_workers_claim,)]
    )
    period = timedelta(seconds=settings.ORDER_EMAIL_REQUEUE_AFTER_SECONDS)
    for email in OrderEmail.objects.filter(order_id__in=[order_id for order_id, _ in swept]):
        assert email.due_at > timezone.now() + period - timedelta(seconds=60)


def test_an_expired_claim_is_published_once_per_requeue_period_not_on_every_sweep(make_email):
    make_email(state="sending", claim_expires_at=ago(3600), due_at=ago(60))
    with patch.object(order_created, "delay") as delay:
        outbox.sweep()
        outbox.sweep()
        outbox.sweep()
    assert delay.call_count == 1


def test_sweep_stops_at_the_first_refused_publish_and_leaves_the_rest_due(make_email):
    first, second = make_email(due_at=ago(60)), make_email(due_at=ago(30))
    with patch("celery.app.task.Task.apply_async", side_effect=ConnectionRefusedError()) as publish:
        assert outbox.sweep() == []
    assert publish.call_count == 1
    assert OrderEmail.objects.filter(order_id__in=[first, second], due_at__lte=timezone.now()).count() == 2
    with patch.object(order_created, "delay"):
        assert len(outbox.sweep()) == 2  # the broker is back: both go


def test_sweep_runs_periodically_from_beat(settings):
    from myshop.celery import app

    entry = app.conf.beat_schedule["sweep-order-emails"]
    assert entry["task"] == "orders.tasks.sweep_unsent_emails"
    assert entry["schedule"] == settings.ORDER_EMAIL_SWEEP_SECONDS
    app.loader.import_default_modules()
    assert entry["task"] in app.tasks


def test_sweep_also_publishes_shipping_notices_the_broker_never_got(make_email):
    shipped = make_email(kind="shipping", due_at=ago(60))
    make_email(kind="shipping", state="sent", due_at=ago(60))
    with patch.object(order_shipped, "delay") as delay:
        assert sweep_unsent_emails() == 1
    delay.assert_called_once_with(shipped)


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_never_publish_the_same_email_twice(customer):
    """Two beats by mistake: each owed email goes to the broker once per round, not once per sweep."""
    ids = []
    for _ in range(6):
        order = Order.objects.create(**customer)
        OrderEmail.objects.create(order=order, kind="confirmation", due_at=ago(60))
        ids.append(order.id)
    published = []
    start = threading.Barrier(2)

    def slow_publish(order_id):
        published.append(order_id)
        time.sleep(0.05)  # the other sweep runs meanwhile
        return True

    def slow_reads(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if sql.lstrip().upper().startswith("SELECT") and "orders_orderemail" in sql:
            time.sleep(0.3)  # both sweeps have read before either writes, unless reading takes a lock
        return result

    errors = []

    def sweep():
        try:
            start.wait(timeout=10)
            with connection.execute_wrapper(slow_reads):
                outbox.sweep()
        except BaseException as error:  # seen by the test, not swallowed by the thread
            errors.append(error)
        finally:
            connection.close()

    with patch.object(order_created, "delay", side_effect=slow_publish):
        threads = [threading.Thread(target=sweep) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads), "a sweep hangs"
    assert errors == []
    assert sorted(published) == sorted(ids)
