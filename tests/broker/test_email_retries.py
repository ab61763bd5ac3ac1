"""Retries through the real broker: a real Celery worker (in a thread of this process) consuming from the
real RabbitMQ. A failed attempt publishes a retry with a countdown, which the broker hands back and the
worker runs; the outbox counts each attempt. (Called directly, Celery's retry publishes nothing.)"""

import logging
import time
from decimal import Decimal
from smtplib import SMTPServerDisconnected
from unittest.mock import patch

import pytest
from celery.app.task import Task
from kombu.exceptions import OperationalError

from orders import outbox
from orders.mail import Sending
from orders.models import OrderEmail
from orders.outbox import Claimed
from orders.services import place_order
from testkit.waiting import wait_for

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def fast_retries(settings):
    settings.ORDER_EMAIL_RETRY_BASE_SECONDS = 1  # attempt 1 waits 0.5-1 s, attempt 2 waits 1-2 s


def flaky_send(failures):
    """A Sending.send that fails `failures` times, then sends; records when each attempt started."""
    started = []
    real_send = Sending.send

    def send(self):
        started.append(time.monotonic())
        if len(started) <= failures:
            raise SMTPServerDisconnected("try again later")
        return real_send(self)

    return send, started


def email_state(order):
    return OrderEmail.objects.get(order=order, kind="confirmation")


def test_retries_are_published_with_their_countdown_and_each_attempt_counts(
    make_product, customer, worker_outbox, fast_retries
):
    send, started = flaky_send(failures=2)
    with (
        patch.object(Sending, "send", send),
        patch.object(Task, "retry", autospec=True, side_effect=Task.retry) as retry,
    ):
        order = place_order(customer=customer, quantities={make_product().id: 1})
        wait_for(lambda: email_state(order).state == "sent", timeout=30, what="the email after two retries")

    assert len(worker_outbox) == 1 and email_state(order).attempts == 3
    countdowns = [call.kwargs["countdown"] for call in retry.call_args_list]
    assert len(countdowns) == 2 and 0.5 <= countdowns[0] <= 1 and 1 <= countdowns[1] <= 2
    gaps = [later - earlier for earlier, later in zip(started, started[1:])]
    assert gaps[0] >= countdowns[0] - 0.1 and gaps[1] >= countdowns[1] - 0.1  # each waited in the broker


def test_a_retry_that_cannot_be_published_leaves_the_email_due_and_the_sweep_sends_it_once(
    make_product, customer, worker_outbox, fast_retries
):
    send, started = flaky_send(failures=1)
    real_apply_async = Task.apply_async

    def publish(self, *args, **kwargs):
        if kwargs.get("countdown") is not None:  # Celery's retry: the broker refuses it
            raise OperationalError("connection refused")
        return real_apply_async(self, *args, **kwargs)

    with patch.object(Sending, "send", send), patch.object(Task, "apply_async", publish):
        order = place_order(customer=customer, quantities={make_product().id: 1})
        wait_for(
            lambda: len(started) == 1 and email_state(order).state == "pending",
            timeout=30,
            what="the failed attempt released",
        )
        # Celery rejected the message; the outbox made the email due at once.
        wait_for(lambda: outbox.sweep() == [(order.id, "confirmation")], timeout=10, what="the sweep to take it")
        wait_for(lambda: email_state(order).state == "sent", timeout=30, what="the swept email")
    assert len(worker_outbox) == 1 and email_state(order).attempts == 2


def test_a_second_delivery_waits_out_a_live_claim_through_the_broker_and_sends_nothing(
    make_product, customer, worker_outbox, settings, caplog
):
    caplog.set_level(logging.INFO, logger="orders")
    settings.ORDER_EMAIL_CLAIM_SECONDS = 10
    order = place_order(customer=customer, quantities={make_product(price=Decimal("2.00")).id: 1})
    wait_for(lambda: email_state(order).state == "sent", timeout=30, what="the confirmation")
    OrderEmail.objects.filter(order=order).update(state="pending")
    held = outbox.claim(order.id, "confirmation")  # another worker, sending it right now
    assert held.outcome is Claimed.TAKEN
    worker_outbox.clear()

    def said(text):
        return any(text in record.getMessage() for record in caplog.records)

    outbox.publish(order.id, "confirmation")  # a redelivery arrives meanwhile
    wait_for(
        lambda: said(f"order {order.id}: confirmation email claimed by another worker, checking again"),
        timeout=8,  # within the other worker's lease
        what="the redelivery to find the claim live",
    )
    assert held.mark_sent()  # the other worker finishes within its lease
    # The redelivery, published again with a countdown, comes back and finds the email sent.
    wait_for(
        lambda: said(f"order {order.id}: confirmation email already handled"),
        timeout=30,
        what="the redelivery to come back and find the email sent",
    )
    assert worker_outbox == [] and email_state(order).attempts == 2  # the first send, the other worker: no more
