"""Mail servers that misbehave, for real: one failing then recovering, one failing for good until an operator
resends, one that stores the message and answers too late, one slow on MAIL and QUIT past the time limits.
The customer gets each email once (or, when the outcome is unknown, the operator decides). Real RabbitMQ
node, real SMTP server, web and workers as subprocesses (fixtures in tests/conftest.py)."""

import pytest

from testkit.outbox import email_in_state, email_row, emails_for, operator_resends, place_order
from testkit.waiting import holds_for, wait_for

pytestmark = [pytest.mark.broker, pytest.mark.faults, pytest.mark.django_db(transaction=True)]

# A server slow past the time limits, with their timings, takes tens of seconds; its subject is the attempt
# count and the time limits, not the SQL dialect: run once, in the PostgreSQL pass.
ONCE = pytest.mark.any_database


def test_mail_server_failing_then_recovering_gets_exactly_one_email(shop, products):
    web = shop.web()
    shop.worker()
    shop.sink.fail_next = 3  # 451 three times, then accept
    order, _ = place_order(web, products)

    wait_for(lambda: emails_for(shop.sink, order), timeout=60, what="the email after the retries")
    wait_for(lambda: email_in_state(order, "sent"), timeout=10, what="the email marked sent")
    email = email_row(order)
    assert len(emails_for(shop.sink, order)) == 1
    assert email.attempts == 4 and shop.sink.attempts == 4
    assert email.last_error == ""


def test_mail_server_failing_for_good_marks_order_failed_and_admin_resend_delivers(
    shop, products, admin_client, settings
):
    web = shop.web()
    shop.worker()
    shop.sink.fail_next = 1000
    order, _ = place_order(web, products)

    wait_for(lambda: email_in_state(order, "failed"), timeout=60, what="the email marked failed")
    email = email_row(order)
    assert email.attempts == 4 and "451" in email.last_error
    listing = admin_client.get("/admin/orders/order/", {"confirmation": "failed"})
    assert f"/admin/orders/order/{order.id}/change/" in listing.content.decode()

    # The operator resends from the admin of the running web server, once the mail server works again.
    shop.sink.fail_next = 0
    operator_resends(web, order, settings)
    wait_for(lambda: emails_for(shop.sink, order), timeout=30, what="the resent email")
    wait_for(lambda: email_in_state(order, "sent"), timeout=10, what="the email marked sent")
    assert len(emails_for(shop.sink, order)) == 1


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
