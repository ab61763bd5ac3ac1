"""The broker's faults, injected for real: a private RabbitMQ node that goes down at checkout, and poison
messages in the queue; and what a message on it carries. Web and workers run as subprocesses with production
settings, against this test's database (fixtures in tests/conftest.py).
"""

import json
import uuid

import pytest
from celery import Celery
from kombu import Connection, Exchange, Producer, Queue

from testkit.outbox import CUSTOMER, email_in_state, email_row, emails_for, place_order
from testkit.silent import SilentServer
from testkit.waiting import wait_for

pytestmark = [pytest.mark.broker, pytest.mark.faults, pytest.mark.django_db(transaction=True)]

# The production task queue (myshop/settings.py), as the web and worker subprocesses declare it.
TASK_QUEUE = "myshop"
TASK_EXCHANGE = Exchange(TASK_QUEUE, type="topic")


def test_broker_down_at_checkout_order_is_saved_fast_and_emailed_once_broker_is_back(shop, products):
    web = shop.web()
    shop.worker(beat=True)
    place_order(web, products)  # warm up: the web server's broker connection exists before the outage
    wait_for(lambda: len(shop.sink.messages) == 1, what="the warm-up email")

    shop.node.stop_app()
    order, seconds = place_order(web, products)

    assert seconds < 1.0, f"checkout took {seconds:.2f} s with the broker down"
    assert email_row(order).state == "pending"

    shop.node.start_app()  # nobody restarts the web server or the worker
    wait_for(lambda: emails_for(shop.sink, order), timeout=120, what="the email after the broker came back")
    wait_for(lambda: email_in_state(order, "sent"), timeout=10, what="the email marked sent")
    assert len(emails_for(shop.sink, order)) == 1


def test_a_broker_that_accepts_and_never_answers_does_not_slow_the_checkout(shop, products):
    """Not a refusal, which fails at once: a broker that takes the connection and then says nothing. The
    publish waits on it only after the shopper has the page."""
    silent = SilentServer()
    try:
        shop.env["CELERY_BROKER_URL"] = f"amqp://guest:guest@127.0.0.1:{silent.port}//"
        shop.env["CELERY_BROKER_CONNECTION_TIMEOUT"] = "5"  # a publish inside the request would wait it out
        web = shop.web()
        order, seconds = place_order(web, products)
        wait_for(lambda: silent.clients, timeout=10, what="the web's publish to reach the silent broker")
    finally:
        silent.close()
    assert seconds < 2, f"checkout took {seconds:.2f} s with a silent broker"
    assert email_row(order).state == "pending"  # owed: the sweep publishes it once a broker answers


def test_poison_messages_are_dropped_and_never_block_other_orders(shop, products):
    web = shop.web()
    worker = shop.worker()
    sender = Celery("poison", broker=shop.node.url, set_as_current=False)  # the suite's app stays current
    sender.conf.update(
        task_default_queue=TASK_QUEUE,
        task_default_queue_type="quorum",
        task_default_exchange_type="topic",
        broker_transport_options={"confirm_publish": True},
    )
    sender.send_task("orders.tasks.order_created", args=["not-an-id"])
    sender.send_task("orders.tasks.order_created", args=[987654321])
    sender.send_task("orders.tasks.order_created", args=[1, 2, 3])
    sender.send_task("orders.tasks.no_such_task", args=[1])
    with Connection(shop.node.url) as conn:
        Producer(conn).publish(
            b"\x00 not json",
            exchange=TASK_EXCHANGE,
            routing_key=TASK_QUEUE,
            content_type="application/json",
            content_encoding="utf-8",
            headers={"task": "orders.tasks.order_created", "id": str(uuid.uuid4())},
        )

    order, _ = place_order(web, products)

    wait_for(lambda: emails_for(shop.sink, order), timeout=30, what="the real order's email")
    wait_for(lambda: shop.node.queue_depth(TASK_QUEUE) == 0, timeout=30, what="the queue to drain")
    assert shop.sink.order_ids() == [order.id]
    log = worker.log()
    assert "dropped a message with a malformed order id" in log and "no confirmation email owed" in log
    assert worker.popen.poll() is None


def test_broker_messages_carry_only_the_order_id_and_are_persistent(shop, products):
    web = shop.web()  # no worker: the message stays in the queue for inspection
    order, _ = place_order(web, products)
    with Connection(shop.node.url) as conn:
        queue = Queue(TASK_QUEUE, TASK_EXCHANGE, routing_key=TASK_QUEUE, queue_arguments={"x-queue-type": "quorum"})
        message = conn.SimpleQueue(queue, no_ack=True).get(timeout=10)
    raw = json.dumps(
        {
            "body": message.body if isinstance(message.body, str) else message.body.decode(),
            "headers": message.headers,
            "properties": message.properties,
        },
        default=str,
    )
    assert message.decode()[0] == [order.id]
    assert message.headers["task"] == "orders.tasks.order_created"
    assert message.properties["delivery_mode"] == 2
    for personal in CUSTOMER.values():
        assert personal not in raw
