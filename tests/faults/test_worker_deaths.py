"""The outbox's promises under the faults a hostile reviewer tries: a mail server that stores the message
and answers too late, one slow on MAIL and QUIT past the time limits, an email whose sending kills the
worker, workers SIGKILLed mid-email (once, twice) with the production timings. Real RabbitMQ node, real
SMTP server, web and workers as subprocesses (fixtures in tests/conftest.py)."""

import signal
import time

import pytest

from testkit.outbox import email_in_state, email_row, emails_for, operator_resends, place_order
from testkit.waiting import holds_for, wait_for

pytestmark = [pytest.mark.broker, pytest.mark.faults, pytest.mark.django_db(transaction=True)]

PRODUCTION_TIMINGS = (
    "ORDER_EMAIL_CLAIM_SECONDS",
    "CELERY_TASK_TIME_LIMIT",
    "ORDER_EMAIL_SWEEP_SECONDS",
    "ORDER_EMAIL_RETRY_BASE_SECONDS",
    "ORDER_EMAIL_MAX_ATTEMPTS",
)


# Worker deaths and slow servers with production timings take tens of seconds each; their subject is the lease,
# the attempt count and the time limits, not the SQL dialect (the claim's SQL runs on both databases in
# test_confirmation_email.py): run once, in the PostgreSQL pass.
ONCE = pytest.mark.any_database


def test_a_reply_lost_after_the_message_is_one_email_marked_unconfirmed_and_resendable(shop, products, settings):
    """The server stores the message, then answers its final "." after the worker's timeout: before, the
    worker retried and the customer got a copy per attempt."""
    shop.env["EMAIL_TIMEOUT"] = "1"
    web = shop.web()
    shop.worker()
    shop.sink.reply_delay = 2.5
    order, _ = place_order(web, products)

    wait_for(lambda: email_in_state(order, "unconfirmed"), timeout=30, what="the email marked unconfirmed")
    email = email_row(order)
    assert email.attempts == 1 and "after the message body was sent" in email.last_error
    assert holds_for(lambda: len(emails_for(shop.sink, order)) == 1, 3), "a second copy arrived"

    # The admin lists it, and an operator may decide to send it again.
    shop.sink.reply_delay = 0
    operator_resends(web, order, settings)
    wait_for(lambda: email_in_state(order, "sent"), timeout=30, what="the resent email marked sent")
    assert len(emails_for(shop.sink, order)) == 2


@ONCE
def test_a_server_slow_on_mail_and_quit_costs_bounded_attempts_and_ends_failed(shop, products):
    """Slow on MAIL (past the soft time limit) and on QUIT (past the hard one): each attempt ends at the soft
    limit without waiting for QUIT, counts, and after the last one the email is failed for good."""
    shop.env.update(CELERY_TASK_TIME_LIMIT="3", ORDER_EMAIL_MAX_ATTEMPTS="2", EMAIL_TIMEOUT="20")  # soft limit 1 s
    web = shop.web()
    worker = shop.worker()
    shop.sink.mail_delay, shop.sink.quit_delay = 5, 30
    order, _ = place_order(web, products)

    wait_for(lambda: email_in_state(order, "failed"), timeout=45, what="the email marked failed")
    assert email_row(order).attempts == 2 and "SoftTimeLimitExceeded" in email_row(order).last_error
    assert holds_for(lambda: shop.sink.attempts == 2, 3), "a third attempt was made"
    assert "Hard time limit" not in worker.log() and emails_for(shop.sink, order) == []


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
