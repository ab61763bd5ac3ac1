"""Faults injected for real: a private RabbitMQ node that goes down, workers killed with SIGKILL, an SMTP
server that refuses or stalls, poison messages. Web and workers run as subprocesses with production
settings, against this test's database.
"""
import json
import os
import shutil
import signal
import uuid
from decimal import Decimal

import pytest
from celery import Celery
from django.contrib.auth import get_user_model
from django.db import connection
from kombu import Connection, Exchange, Producer, Queue

from orders.models import Order
from tests.harness import RabbitNode, Shopper, SmtpSink, database_url, shop_environment, start_web, start_worker
from tests.harness import wait_until as harness_wait_until

pytestmark = [pytest.mark.broker, pytest.mark.faults, pytest.mark.django_db(transaction=True)]

# The production task queue (myshop/settings.py), as the web and worker subprocesses declare it.
TASK_QUEUE = "myshop"
TASK_EXCHANGE = Exchange(TASK_QUEUE, type="topic")
CUSTOMER = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com",
            "address": "12 Analytical Street", "postal_code": "10115", "city": "Berlin"}


def wait_until(condition, *, timeout=60, what="condition"):
    try:
        return harness_wait_until(condition, timeout=timeout, what=what)
    except TimeoutError as error:
        pytest.fail(str(error))


@pytest.fixture(scope="session")
def rabbit_node():
    if shutil.which("rabbitmq-server") is None or os.geteuid() != 0:
        if os.environ.get("CI") == "true":
            pytest.fail("fault tests need rabbitmq-server and root to start a private node")
        pytest.skip("fault tests need rabbitmq-server and root to start a private RabbitMQ node")
    node = RabbitNode().start()
    yield node
    node.stop()


@pytest.fixture(scope="session")
def smtp_sink():
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture
def shop(rabbit_node, smtp_sink, tmp_path, transactional_db, request):
    """Starts web and workers on demand against the private broker and the SMTP sink; stops them after."""
    smtp_sink.reset()
    rabbit_node._ctl("purge_queue", TASK_QUEUE, check=False)
    processes = []

    class Shop:
        node = rabbit_node
        sink = smtp_sink
        env = shop_environment(
            database=database_url(connection.settings_dict), broker=rabbit_node.url, smtp_port=smtp_sink.port,
            ORDER_EMAIL_RETRY_BASE_SECONDS="0.2", ORDER_EMAIL_MAX_ATTEMPTS="4", ORDER_EMAIL_SWEEP_SECONDS="1",
            ORDER_EMAIL_QUEUE_GRACE_SECONDS="1", CELERY_TASK_TIME_LIMIT="6", ORDER_EMAIL_CLAIM_SECONDS="8",
            CELERY_BEAT_SCHEDULE_FILENAME=str(tmp_path / "beat-schedule"),
        )

        def web(self):
            process = start_web(self.env, tmp_path)
            processes.append(process)
            return process

        def worker(self, name="worker", beat=False):
            process = start_worker(self.env, tmp_path, name=f"{name}-{uuid.uuid4().hex[:6]}", beat=beat)
            processes.append(process)
            return process

    yield Shop()
    for process in processes:
        process.stop()
        # Shown by pytest only when the test failed.
        print(f"----- {process.name} log (tail) -----\n{process.log()[-4000:]}")


@pytest.fixture
def products(make_product):
    return [make_product(name="Blue mug", price=Decimal("7.00"), stock=500),
            make_product(name="Teapot", price=Decimal("20.50"), stock=500)]


def place_order(web, products, email="ada@example.com"):
    """Fill a cart and check out through the web server; return (order, seconds the checkout POST took)."""
    shopper = Shopper(web.base_url)
    for product in products:
        assert shopper.add_to_cart(product.id, 1) == 302
    status, location, body, seconds = shopper.checkout({**CUSTOMER, "email": email})
    assert status == 302 and location == "/orders/created/", body[:500]
    order = Order.objects.latest("id")
    assert f">{order.number}<" in shopper.confirmation_page()
    return order, seconds


def emails_for(sink, order):
    return [number for number in sink.order_numbers() if number == order.id]


def test_broker_down_at_checkout_order_is_saved_fast_and_emailed_once_broker_is_back(shop, products):
    web = shop.web()
    shop.worker(beat=True)
    place_order(web, products)  # warm up: the web server's broker connection exists before the outage
    wait_until(lambda: len(shop.sink.messages) == 1, what="the warm-up email")

    shop.node.stop_app()
    order, seconds = place_order(web, products)

    assert seconds < 1.0, f"checkout took {seconds:.2f} s with the broker down"
    order.refresh_from_db()
    assert order.confirmation_status == "pending" and order.confirmation_queued_at is None

    shop.node.start_app()  # nobody restarts the web server or the worker
    wait_until(lambda: emails_for(shop.sink, order), timeout=120, what="the email after the broker came back")
    wait_until(lambda: Order.objects.filter(id=order.id, confirmation_status="sent").exists(), timeout=10,
               what="the order marked sent")
    assert len(emails_for(shop.sink, order)) == 1


def test_worker_killed_mid_email_the_next_worker_sends_it_once(shop, products):
    web = shop.web()
    first = shop.worker("doomed")
    shop.sink.stall_next = 1  # the first SMTP conversation hangs after it started
    order, _ = place_order(web, products)
    wait_until(shop.sink.stalled.is_set, timeout=30, what="the worker to be mid-email")

    first.kill(signal.SIGKILL)
    shop.sink.release.set()
    assert emails_for(shop.sink, order) == []
    shop.worker("survivor")

    wait_until(lambda: emails_for(shop.sink, order), timeout=60, what="the survivor to send the email")
    wait_until(lambda: Order.objects.filter(id=order.id, confirmation_status="sent").exists(), timeout=10,
               what="the order marked sent")
    assert len(emails_for(shop.sink, order)) == 1
    assert Order.objects.get(id=order.id).confirmation_attempts == 2


def test_mail_server_failing_then_recovering_gets_exactly_one_email(shop, products):
    web = shop.web()
    shop.worker()
    shop.sink.fail_next = 3  # 451 three times, then accept
    order, _ = place_order(web, products)

    wait_until(lambda: emails_for(shop.sink, order), timeout=60, what="the email after the retries")
    wait_until(lambda: Order.objects.filter(id=order.id, confirmation_status="sent").exists(), timeout=10,
               what="the order marked sent")
    order.refresh_from_db()
    assert len(emails_for(shop.sink, order)) == 1
    assert order.confirmation_attempts == 4 and shop.sink.attempts == 4
    assert order.confirmation_error == ""


def test_mail_server_failing_for_good_marks_order_failed_and_admin_resend_delivers(shop, products, admin_client,
                                                                                 settings):
    web = shop.web()
    shop.worker()
    shop.sink.fail_next = 1000
    order, _ = place_order(web, products)

    wait_until(lambda: Order.objects.filter(id=order.id, confirmation_status="failed").exists(), timeout=60,
               what="the order marked failed")
    order.refresh_from_db()
    assert order.confirmation_attempts == 4 and "451" in order.confirmation_error
    listing = admin_client.get("/admin/orders/order/", {"confirmation_status__exact": "failed"})
    assert f"/admin/orders/order/{order.id}/change/" in listing.content.decode()

    # The operator resends from the admin of the running web server, once the mail server works again.
    shop.sink.fail_next = 0
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]  # as the web server has
    get_user_model().objects.create_superuser("operator", "op@example.com", "a-long-password-123")
    operator = Shopper(web.base_url)
    status, _, body = operator.request("POST", "/admin/login/?next=/admin/",
                                       {"username": "operator", "password": "a-long-password-123"})
    assert status == 302, body[-3000:]
    status, _, _ = operator.request("POST", "/admin/orders/order/", {
        "action": "resend_confirmation", "_selected_action": order.id, "index": 0})
    assert status == 302
    wait_until(lambda: emails_for(shop.sink, order), timeout=30, what="the resent email")
    wait_until(lambda: Order.objects.filter(id=order.id, confirmation_status="sent").exists(), timeout=10,
               what="the order marked sent")
    assert len(emails_for(shop.sink, order)) == 1


def test_poison_messages_are_dropped_and_never_block_other_orders(shop, products):
    web = shop.web()
    worker = shop.worker()
    sender = Celery("poison", broker=shop.node.url, set_as_current=False)  # the suite's app stays current
    sender.conf.update(task_default_queue=TASK_QUEUE, task_default_queue_type="quorum",
                       task_default_exchange_type="topic", broker_transport_options={"confirm_publish": True})
    sender.send_task("orders.tasks.order_created", args=["not-an-id"])
    sender.send_task("orders.tasks.order_created", args=[987654321])
    sender.send_task("orders.tasks.order_created", args=[1, 2, 3])
    sender.send_task("orders.tasks.no_such_task", args=[1])
    with Connection(shop.node.url) as conn:
        Producer(conn).publish(b"\x00 not json", exchange=TASK_EXCHANGE, routing_key=TASK_QUEUE,
                               content_type="application/json", content_encoding="utf-8",
                               headers={"task": "orders.tasks.order_created", "id": str(uuid.uuid4())})

    order, _ = place_order(web, products)

    wait_until(lambda: emails_for(shop.sink, order), timeout=30, what="the real order's email")
    wait_until(lambda: shop.node.queue_depth(TASK_QUEUE) == 0, timeout=30, what="the queue to drain")
    assert shop.sink.order_numbers() == [order.id]
    log = worker.log()
    assert "dropped a message with a malformed order id" in log and "no such order, confirmation message dropped" in log
    assert worker.popen.poll() is None


def test_broker_messages_carry_only_the_order_id_and_are_persistent(shop, products):
    web = shop.web()  # no worker: the message stays in the queue for inspection
    order, _ = place_order(web, products)
    with Connection(shop.node.url) as conn:
        queue = Queue(TASK_QUEUE, TASK_EXCHANGE, routing_key=TASK_QUEUE,
                      queue_arguments={"x-queue-type": "quorum"})
        message = conn.SimpleQueue(queue, no_ack=True).get(timeout=10)
    raw = json.dumps({"body": message.body if isinstance(message.body, str) else message.body.decode(),
                      "headers": message.headers, "properties": message.properties}, default=str)
    assert message.decode()[0] == [order.id]
    assert message.headers["task"] == "orders.tasks.order_created"
    assert message.properties["delivery_mode"] == 2
    for personal in CUSTOMER.values():
        assert personal not in raw
