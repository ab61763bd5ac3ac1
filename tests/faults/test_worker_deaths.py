"""Workers that die: SIGKILLed mid-email (once, twice, with the test timings and the production ones), an
email whose sending kills the worker, a worker killed while rendering an invoice. Each email is still sent
once, or ends failed after its attempts. Real RabbitMQ node, real SMTP server, web and workers as
subprocesses (fixtures in tests/conftest.py)."""

import re
import signal
import time

import pytest

from orders.models import OrderEmail
from payments.models import Invoice
from testkit.outbox import (
    email_in_state,
    email_row,
    emails_for,
    order_and_pay,
    pdf_attachment,
    pdf_text,
    place_order,
)
from testkit.waiting import holds_for, wait_for

pytestmark = [pytest.mark.broker, pytest.mark.faults, pytest.mark.django_db(transaction=True)]

PRODUCTION_TIMINGS = (
    "ORDER_EMAIL_CLAIM_SECONDS",
    "CELERY_TASK_TIME_LIMIT",
    "ORDER_EMAIL_SWEEP_SECONDS",
    "ORDER_EMAIL_RETRY_BASE_SECONDS",
    "ORDER_EMAIL_MAX_ATTEMPTS",
)


# Worker deaths with production timings take tens of seconds each; their subject is the lease and the attempt
# count, not the SQL dialect (the claim's SQL runs on both databases in tests/orders/test_email_delivery.py):
# run once, in the SQLite pass (bin/test evens out the two passes' times).
def ONCE(test):  # noqa: N802  (reads as the marks it stands for)
    return pytest.mark.sqlite_pass(pytest.mark.any_database(test))


def test_worker_killed_mid_email_the_next_worker_sends_it_once(shop, products):
    web = shop.web()
    first = shop.worker("doomed")
    shop.sink.stall_next = 1  # the first SMTP conversation hangs after it started
    order, _ = place_order(web, products)
    wait_for(shop.sink.stalled.is_set, timeout=30, what="the worker to be mid-email")

    first.kill(signal.SIGKILL)
    shop.sink.release.set()
    assert emails_for(shop.sink, order) == []
    shop.worker("survivor")

    wait_for(lambda: emails_for(shop.sink, order), timeout=60, what="the survivor to send the email")
    wait_for(lambda: email_in_state(order, "sent"), timeout=10, what="the email marked sent")
    assert len(emails_for(shop.sink, order)) == 1
    assert email_row(order).attempts == 2


@ONCE
def test_an_email_whose_sending_kills_the_worker_is_failed_after_its_attempts(shop, products):
    """An attempt killed outright (OOM, a crash in a C library) never records its failure; the attempt
    still counts, so the email ends failed instead of taking a worker down forever."""
    shop.env.update(
        EMAIL_BACKEND="testkit.crash_backend.CrashingBackend",
        ORDER_EMAIL_MAX_ATTEMPTS="2",
        CRASH_DELEGATE_BACKEND="orders.mail.SMTPBackend",
        ORDER_EMAIL_CLAIM_SECONDS="3",
    )
    web = shop.web()
    worker = shop.worker()
    poison, _ = place_order(web, products, email="crash+1@example.com")

    wait_for(lambda: email_in_state(poison, "failed"), timeout=60, what="the poison email marked failed")
    assert email_row(poison).attempts == 2 and "did not finish" in email_row(poison).last_error
    assert worker.log().count("exited with 'signal 9 (SIGKILL)'") == 2
    healthy, _ = place_order(web, products)  # the worker goes on with other orders
    wait_for(lambda: emails_for(shop.sink, healthy), timeout=30, what="the next order's email")
    assert worker.log().count("exited with 'signal 9 (SIGKILL)'") == 2


@ONCE
def test_a_worker_killed_mid_email_is_replaced_within_a_minute_with_production_timings(shop, products):
    """Before, the next worker waited for the dead worker's 5-minute claim; now its lease lapses within
    ORDER_EMAIL_CLAIM_SECONDS (30 s by default) and the redelivered message takes it over."""
    for name in PRODUCTION_TIMINGS:
        shop.env.pop(name, None)
    web = shop.web()
    doomed = shop.worker("doomed")
    shop.sink.stall_next = 1  # the first SMTP conversation hangs after it started
    order, _ = place_order(web, products)
    wait_for(shop.sink.stalled.is_set, timeout=30, what="the worker to be mid-email")
    shop.worker("survivor")  # already running when the other one dies

    doomed.kill(signal.SIGKILL)
    killed_at = time.monotonic()
    shop.sink.release.set()

    wait_for(lambda: emails_for(shop.sink, order), timeout=60, what="the email after the kill")
    recovery = shop.sink.arrivals[-1] - killed_at
    wait_for(lambda: email_in_state(order, "sent"), timeout=10, what="the email marked sent")
    assert len(emails_for(shop.sink, order)) == 1 and email_row(order).attempts == 2
    print(f"kill -> email: {recovery:.1f} s")
    assert recovery < 60


@ONCE
def test_an_email_whose_worker_is_killed_twice_is_still_sent_once(shop, products):
    web = shop.web()
    shop.sink.stall_next = 2
    first = shop.worker("first")
    order, _ = place_order(web, products)
    wait_for(shop.sink.stalled.is_set, timeout=30, what="the first worker to be mid-email")
    first.kill(signal.SIGKILL)
    shop.sink.stalled.clear()
    second = shop.worker("second")
    wait_for(shop.sink.stalled.is_set, timeout=30, what="the second worker to be mid-email")
    second.kill(signal.SIGKILL)
    shop.sink.release.set()
    shop.worker("third")

    wait_for(lambda: email_in_state(order, "sent"), timeout=60, what="the email marked sent")
    assert len(emails_for(shop.sink, order)) == 1 and email_row(order).attempts == 3


@pytest.mark.any_database  # a worker's death mid-render, with real timings: once, in the PostgreSQL pass
def test_a_worker_killed_while_rendering_the_invoice_is_replaced_and_the_invoice_sent_once(paying_shop, products):
    first = paying_shop.worker(name="renderer")
    order, _ = order_and_pay(paying_shop.web_process, products)
    wait_for(
        lambda: re.search(rf"order {order.id}: rendering invoice", first.log()),
        timeout=30,
        what="the worker to start rendering the invoice",
    )
    first.kill()  # SIGKILL, mid-render (WeasyPrint is loaded by the first render)
    assert not re.search(rf"order {order.id}: invoice \S+ rendered", first.log()), "the kill came too late"
    assert paying_shop.sink.messages_of("invoice", order.id) == []

    paying_shop.worker(name="replacement")  # RabbitMQ hands it the message again; the dead claim lapses
    [message] = wait_for(
        lambda: paying_shop.sink.messages_of("invoice", order.id),
        timeout=60,
        what="the replacement worker's invoice email",
    )
    invoice = Invoice.objects.get(order=order)
    assert invoice.sequence == 1  # the number was given with the payment: the kill burnt none
    assert invoice.number in pdf_text(pdf_attachment(message)[1])
    assert holds_for(lambda: len(paying_shop.sink.messages_of("invoice", order.id)) == 1, 3)
    email = OrderEmail.objects.get(order=order, kind="invoice")
    assert (email.state, email.attempts) == ("sent", 2)
