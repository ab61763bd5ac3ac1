"""The task's logic, called directly (no broker): what the email says and that it is sent once."""
from decimal import Decimal
from smtplib import SMTPServerDisconnected
from unittest.mock import patch

import pytest
from celery.exceptions import Retry

from orders.models import Order, OrderItem
from orders.tasks import order_created, retry_delay


@pytest.fixture
def order(customer, make_product):
    order = Order.objects.create(**customer)
    OrderItem.objects.create(order=order, product=make_product(name="Blue mug"), price=Decimal("7.00"), quantity=2)
    OrderItem.objects.create(order=order, product=make_product(name="Teapot"), price=Decimal("20.50"), quantity=1)
    return order


def test_confirmation_email_lists_number_items_and_total(order, mailoutbox):
    assert order_created(order.id) == "sent"
    [message] = mailoutbox
    assert message.to == ["ada@example.com"]
    assert f"order {order.number}" in message.subject
    assert "2 × Blue mug" in message.body and "€7.00" in message.body and "€14.00" in message.body
    assert "Teapot" in message.body and "Total: €34.50" in message.body
    assert str(order.token) in message.body  # the unguessable status link
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html" and "Blue mug" in html
    assert message.extra_headers["Message-ID"].startswith(f"<order-{order.id}-")
    order.refresh_from_db()
    assert order.confirmation_status == Order.ConfirmationStatus.SENT and order.confirmation_sent_at


def test_second_delivery_sends_nothing(order, mailoutbox):
    order_created(order.id)
    assert order_created(order.id) == "already-done"
    assert len(mailoutbox) == 1


def test_unknown_or_malformed_order_id_is_dropped(db, mailoutbox):
    assert order_created(424242) == "missing"
    assert order_created("1; drop table") == "malformed"
    assert mailoutbox == []


def test_failed_send_releases_claim_and_retries(order, mailoutbox):
    with patch("django.core.mail.message.EmailMessage.send", side_effect=SMTPServerDisconnected("gone")):
        with pytest.raises(Retry):
            order_created(order.id)
    order.refresh_from_db()
    assert order.confirmation_status == Order.ConfirmationStatus.PENDING
    assert "SMTPServerDisconnected" in order.confirmation_error
    assert order_created(order.id) == "sent"
    assert len(mailoutbox) == 1


def test_send_failing_every_time_ends_as_failed(order, mailoutbox, settings):
    Order.objects.filter(id=order.id).update(confirmation_attempts=settings.ORDER_EMAIL_MAX_ATTEMPTS - 1)
    with patch("django.core.mail.message.EmailMessage.send", side_effect=ConnectionRefusedError("refused")):
        assert order_created(order.id) == "failed"
    order.refresh_from_db()
    assert order.confirmation_status == Order.ConfirmationStatus.FAILED
    assert "ConnectionRefusedError" in order.confirmation_error


def test_html_in_customer_fields_never_reaches_the_email_and_product_names_are_escaped(order, mailoutbox):
    Order.objects.filter(id=order.id).update(first_name="<script>alert(1)</script>")
    order.items.first().product.__class__.objects.filter(name="Teapot").update(name="Tea<b>pot</b>")
    order_created(order.id)
    html = mailoutbox[0].alternatives[0][0]
    assert "alert(1)" not in html and "<b>pot" not in html and "Tea&lt;b&gt;pot&lt;/b&gt;" in html


def test_retry_delay_grows_exponentially_with_jitter_and_a_cap(settings):
    settings.ORDER_EMAIL_RETRY_BASE_SECONDS = 10
    settings.ORDER_EMAIL_RETRY_MAX_SECONDS = 600
    for attempt, ceiling in [(1, 10), (2, 20), (3, 40), (4, 80), (10, 600)]:
        delays = {retry_delay(attempt) for _ in range(50)}
        assert all(ceiling / 2 <= delay <= ceiling for delay in delays)
        assert len(delays) > 1  # jittered: workers retrying together spread out


def test_claim_held_by_another_worker_waits_instead_of_sending(order, mailoutbox):
    from django.utils import timezone

    Order.objects.filter(id=order.id).update(confirmation_status="sending", confirmation_claimed_at=timezone.now())
    with pytest.raises(Retry):
        order_created(order.id)
    assert mailoutbox == []


def test_claim_of_a_dead_worker_expires_and_the_email_goes_out(order, mailoutbox, settings):
    from datetime import timedelta

    from django.utils import timezone

    old = timezone.now() - timedelta(seconds=settings.ORDER_EMAIL_CLAIM_SECONDS + 1)
    Order.objects.filter(id=order.id).update(confirmation_status="sending", confirmation_claimed_at=old)
    assert order_created(order.id) == "sent"
    assert len(mailoutbox) == 1


def test_worker_logs_one_line_per_email_with_the_order_id_and_no_personal_data(order, mailoutbox, caplog):
    import logging

    caplog.set_level(logging.INFO, logger="orders")
    order_created(order.id)
    with patch("django.core.mail.message.EmailMessage.send",
               side_effect=SMTPServerDisconnected("550 no such user ada@example.com")):
        Order.objects.filter(id=order.id).update(confirmation_status="pending")
        with pytest.raises(Retry):
            order_created(order.id)
    lines = [record.getMessage() for record in caplog.records if record.name.startswith("orders")]
    assert lines[0] == f"order {order.id}: confirmation email sent"
    assert f"order {order.id}: confirmation email attempt" in lines[1]
    for personal in ("ada@example.com", "Ada", "Lovelace", "Analytical", "Berlin", "10115"):
        assert all(personal not in line for line in lines)
