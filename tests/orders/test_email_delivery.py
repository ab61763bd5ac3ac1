"""The email task's logic, called directly (no broker): what the email says, and the outbox's rules for
claiming, retrying, giving up and "outcome unknown". The broker's side is in tests/broker/test_email_retries.py."""

import logging
import smtplib
import threading
import time
from datetime import timedelta
from decimal import Decimal
from smtplib import SMTPServerDisconnected
from unittest.mock import patch

import pytest
from celery.exceptions import Retry
from django.db import OperationalError, connection
from django.utils import timezone

from orders import outbox
from orders.mail import OutcomeUnknown
from orders.models import Order, OrderEmail, OrderItem
from orders.outbox import Claimed
from orders.tasks import order_created, retry_delay
from testkit.waiting import wait_for

SEND = "orders.mail.Sending.send"


@pytest.fixture
def order(customer, make_product):
    order = Order.objects.create(
        **customer, subtotal=Decimal("34.50"), shipping_cost=Decimal("4.90"), total=Decimal("39.40")
    )
    OrderItem.objects.create(order=order, product=make_product(name="Blue mug"), price=Decimal("7.00"), quantity=2)
    OrderItem.objects.create(order=order, product=make_product(name="Teapot"), price=Decimal("20.50"), quantity=1)
    outbox.add(order.id, "confirmation")
    return order


def email_of(order):
    return OrderEmail.objects.get(order=order, kind="confirmation")


def _fields(instance):
    return {field.attname: getattr(instance, field.attname) for field in type(instance)._meta.concrete_fields}


def test_the_worker_loads_an_order_exactly_as_the_orm_would(order, make_product):
    """load_order gives the order, its lines and their products, every field, in one query."""
    from orders.tasks import load_order

    Order.objects.filter(id=order.id).update(status="paid")  # a field the fixture leaves at its default
    product = make_product(name="Lamp", description="Tall\nand bright", stock=3)
    OrderItem.objects.create(order=order, product=product, price=Decimal("99.99"), quantity=3)
    expected = list(OrderItem.objects.filter(order_id=order.id).select_related("order", "product"))
    loaded = load_order(order.id)
    assert _fields(loaded) == _fields(expected[0].order) and loaded.status == "paid"
    assert len(loaded.loaded_items) == len(expected) == 3
    for item, orm in zip(loaded.loaded_items, expected):
        assert _fields(item) == _fields(orm)
        assert _fields(item.product) == _fields(orm.product) and _fields(item.order) == _fields(orm.order)
        assert not item._state.adding and item.product._state.db == orm.product._state.db
    assert load_order(order.id + 1000) is None


def test_confirmation_email_lists_number_items_and_total(order, mailoutbox):
    assert order_created(order.id) == "sent"
    [message] = mailoutbox
    assert message.to == ["ada@example.com"]
    assert f"order {order.number}" in message.subject
    assert "2 × Blue mug" in message.body and "€7.00" in message.body and "€14.00" in message.body
    assert "Teapot" in message.body and "Subtotal: €34.50" in message.body and "Total: €39.40" in message.body
    assert str(order.token) in message.body  # the unguessable status link
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html" and "Blue mug" in html
    assert message.extra_headers["Message-ID"].startswith(f"<order-{order.id}-")
    email = email_of(order)
    assert (email.state, email.attempts, email.claim_expires_at) == ("sent", 1, None) and email.sent_at


def test_second_delivery_sends_nothing(order, mailoutbox):
    order_created(order.id)
    assert order_created(order.id) == "already-done"
    assert len(mailoutbox) == 1 and email_of(order).attempts == 1


def test_unknown_or_malformed_order_id_is_dropped(db, mailoutbox):
    assert order_created(424242) == "missing"
    assert order_created("1; drop table") == "malformed"
    assert order_created(True) == "malformed"
    assert mailoutbox == []


def test_failed_send_releases_the_claim_and_retries_with_the_attempt_counted(order, mailoutbox):
    with patch(SEND, side_effect=SMTPServerDisconnected("gone")):
        with pytest.raises(Retry):
            order_created(order.id)
    email = email_of(order)
    assert (email.state, email.attempts, email.claim_expires_at) == ("pending", 1, None)
    assert "SMTPServerDisconnected" in email.last_error
    assert order_created(order.id) == "sent"
    assert len(mailoutbox) == 1 and email_of(order).attempts == 2


def test_send_failing_every_time_ends_as_failed(order, mailoutbox, settings):
    OrderEmail.objects.filter(order=order).update(attempts=settings.ORDER_EMAIL_MAX_ATTEMPTS - 1)
    with patch(SEND, side_effect=ConnectionRefusedError("refused")):
        assert order_created(order.id) == "failed"
    email = email_of(order)
    assert email.state == "failed" and "ConnectionRefusedError" in email.last_error
    assert email.attempts == settings.ORDER_EMAIL_MAX_ATTEMPTS


def test_a_permanent_refusal_fails_at_once_without_retrying(order, mailoutbox):
    refused = smtplib.SMTPRecipientsRefused({"ada@example.com": (550, b"5.1.1 no such user")})
    with patch(SEND, side_effect=refused):
        assert order_created(order.id) == "failed"
    email = email_of(order)
    assert (email.state, email.attempts) == ("failed", 1) and "550" in email.last_error


def test_an_error_after_the_message_was_handed_over_is_unconfirmed_and_not_retried(order, mailoutbox):
    with patch(SEND, side_effect=OutcomeUnknown("TimeoutError after the message body was sent")):
        assert order_created(order.id) == "unconfirmed"
    email = email_of(order)
    assert (email.state, email.attempts) == ("unconfirmed", 1) and email.sent_at
    assert order_created(order.id) == "already-done"  # a redelivery does not send it again


def test_html_in_customer_fields_and_product_names_is_escaped_in_the_email(order, mailoutbox):
    Order.objects.filter(id=order.id).update(first_name="<script>alert(1)</script>")
    order.items.first().product.__class__.objects.filter(name="Teapot").update(name="Tea<b>pot</b>")
    order_created(order.id)
    html = mailoutbox[0].alternatives[0][0]
    assert "<script>" not in html and "<b>pot" not in html and "Tea&lt;b&gt;pot&lt;/b&gt;" in html
    assert "Hello &lt;script&gt;alert(1)&lt;/script&gt;," in html  # the greeting, as text


def test_retry_delay_grows_exponentially_with_jitter_and_a_cap(settings):
    settings.ORDER_EMAIL_RETRY_BASE_SECONDS = 10
    settings.ORDER_EMAIL_RETRY_MAX_SECONDS = 600
    for attempt, ceiling in [(1, 10), (2, 20), (3, 40), (4, 80), (10, 600)]:
        delays = {retry_delay(attempt) for _ in range(50)}
        assert all(ceiling / 2 <= delay <= ceiling for delay in delays)
        assert len(delays) > 1  # jittered: workers retrying together spread out


def _claim_row(order):
    return OrderEmail.objects.filter(order=order, kind="confirmation").values().get()


def test_a_refused_claim_leaves_the_row_alone_and_says_why(order):
    first = outbox.claim(order.id, "confirmation")
    before = _claim_row(order)
    busy = outbox.claim(order.id, "confirmation")
    assert busy.outcome is Claimed.BUSY and 0 < busy.wait_seconds <= 30 and _claim_row(order) == before
    assert first.mark_sent()
    assert outbox.claim(order.id, "confirmation").outcome is Claimed.DONE and _claim_row(order)["state"] == "sent"
    assert outbox.claim(order.id + 1000, "confirmation").outcome is Claimed.MISSING


@pytest.mark.django_db(transaction=True)
def test_workers_claiming_the_same_email_at_the_same_moment_get_one_claim_between_them(customer, make_product):
    """Eight threads, each with its own connection, claim at a barrier: one takes it, every other is told it is
    busy; one attempt counted."""
    order = Order.objects.create(**customer)
    OrderItem.objects.create(order=order, product=make_product(), price=Decimal("1.00"), quantity=1)
    outbox.add(order.id, "confirmation")
    start, outcomes = threading.Barrier(8), []

    def claim():
        try:
            start.wait(timeout=10)
            outcomes.append(outbox.claim(order.id, "confirmation").outcome)
        finally:
            connection.close()

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes, key=lambda outcome: outcome.value) == [Claimed.BUSY] * 7 + [Claimed.TAKEN]
    assert email_of(order).attempts == 1


@pytest.mark.postgresql  # row locks; SQLite serialises writers at BEGIN
@pytest.mark.django_db(transaction=True)
def test_claims_queued_behind_the_sweep_holding_the_email_get_one_claim(customer, make_product):
    """The sweep holds the email's row (locked, then pushed a requeue period ahead) while four workers claim
    it: they wait for its commit, then one takes the claim and three are told it is busy (each claim re-reads
    the row it waited for). One attempt counted."""
    import psycopg

    order = Order.objects.create(**customer)
    for price in ("1.00", "2.00"):
        OrderItem.objects.create(order=order, product=make_product(), price=Decimal(price), quantity=1)
    outbox.add(order.id, "confirmation")
    params = {key: value for key, value in connection.get_connection_params().items() if key != "cursor_factory"}
    outcomes = []

    def claim():
        try:
            outcomes.append(outbox.claim(order.id, "confirmation").outcome)
        finally:
            connection.close()

    def waiting(count):
        query = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
        with psycopg.connect(**params, autocommit=True) as probe:
            return probe.execute(query).fetchone()[0] >= count

    sweep = psycopg.connect(**params)  # a transaction, as the sweep's
    sweep.execute("SELECT 1 FROM orders_orderemail WHERE order_id = %s FOR UPDATE", [order.id])
    threads = [threading.Thread(target=claim) for _ in range(4)]
    try:
        for thread in threads:
            thread.start()
        wait_for(lambda: waiting(4), what="four claims to wait for the sweep's lock")
        sweep.execute(
            "UPDATE orders_orderemail SET queued_at = now(), due_at = now() + interval '1 minute' WHERE order_id = %s",
            [order.id],
        )
    finally:
        sweep.commit()
        sweep.close()
        for thread in threads:
            thread.join(timeout=30)
    assert sorted(outcomes, key=lambda outcome: outcome.value) == [Claimed.BUSY] * 3 + [Claimed.TAKEN]
    assert email_of(order).attempts == 1 and email_of(order).state == "sending"


def test_an_order_without_lines_is_claimed_once_and_emailed(db, customer, mailoutbox):
    """Checkout never makes one, but an order with no lines must still get its email, claimed once."""
    order = Order.objects.create(**customer)
    outbox.add(order.id, "confirmation")
    assert order_created(order.id) == "sent"
    assert len(mailoutbox) == 1 and order.number in mailoutbox[0].subject
    assert (email_of(order).state, email_of(order).attempts) == ("sent", 1)
    assert order_created(order.id) == "already-done" and len(mailoutbox) == 1


def test_a_live_claim_makes_another_delivery_wait_without_counting_an_attempt(order, mailoutbox):
    assert outbox.claim(order.id, "confirmation").outcome is Claimed.TAKEN
    with pytest.raises(Retry):
        order_created(order.id)
    assert mailoutbox == [] and email_of(order).attempts == 1


def test_a_lapsed_claim_is_taken_over_at_once(order, mailoutbox):
    outbox.claim(order.id, "confirmation")
    OrderEmail.objects.filter(order=order).update(claim_expires_at=timezone.now() - timedelta(seconds=1))
    assert order_created(order.id) == "sent"
    assert len(mailoutbox) == 1 and email_of(order).attempts == 2


@pytest.mark.parametrize("skew", [timedelta(minutes=10), timedelta(minutes=-10)])
def test_claims_are_judged_by_the_database_clock_not_the_hosts(order, skew):
    """A worker whose clock runs ahead must not take a live claim over; one whose clock lags must not keep
    a dead worker's claim alive."""
    assert outbox.claim(order.id, "confirmation").outcome is Claimed.TAKEN
    with patch("django.utils.timezone.now", return_value=timezone.now() + skew):
        assert outbox.claim(order.id, "confirmation").outcome is Claimed.BUSY
        OrderEmail.objects.filter(order=order).update(claim_expires_at=timezone.now() - skew - timedelta(seconds=1))
        assert outbox.claim(order.id, "confirmation").outcome is Claimed.TAKEN


def test_attempts_killed_before_they_could_fail_still_count_and_end_in_failed(order, mailoutbox, settings):
    """A worker killed mid-send (OOM, the hard time limit) never records the failure: the claim does."""
    for _ in range(settings.ORDER_EMAIL_MAX_ATTEMPTS):
        assert outbox.claim(order.id, "confirmation").outcome is Claimed.TAKEN
        OrderEmail.objects.filter(order=order).update(claim_expires_at=timezone.now() - timedelta(seconds=1))
    assert order_created(order.id) == "failed"
    email = email_of(order)
    assert email.state == "failed" and "did not finish" in email.last_error
    assert email.attempts == settings.ORDER_EMAIL_MAX_ATTEMPTS and mailoutbox == []
    assert order_created(order.id) == "already-done"


def test_only_the_holder_of_the_claim_records_the_outcome(order):
    first = outbox.claim(order.id, "confirmation")
    OrderEmail.objects.filter(order=order).update(claim_expires_at=timezone.now() - timedelta(seconds=1))
    second = outbox.claim(order.id, "confirmation")
    assert second.outcome is Claimed.TAKEN
    assert first.mark_sent() is False and first.mark_failed("late") is False and first.release("late") is False
    assert email_of(order).state == "sending"
    assert second.mark_sent() is True and email_of(order).state == "sent"


@pytest.mark.django_db(transaction=True)  # the worker runs in autocommit: no test transaction to break
def test_a_database_outage_before_sending_is_retried_and_not_counted_as_an_attempt(order, mailoutbox):
    def database_down(execute, sql, params, many, context):
        raise OperationalError("server closed the connection unexpectedly")

    with connection.execute_wrapper(database_down), pytest.raises(Retry):
        order_created(order.id)
    assert email_of(order).attempts == 0
    with patch("orders.tasks.load_order", side_effect=OperationalError("server closed")):
        with pytest.raises(Retry):
            order_created(order.id)
    email = email_of(order)
    assert (email.state, email.attempts) == ("pending", 0)
    assert order_created(order.id) == "sent"


@pytest.mark.postgresql  # 'infinity' is PostgreSQL's, and psycopg cannot load it as a datetime
def test_a_row_that_cannot_be_read_back_after_the_claim_is_not_counted_as_an_attempt(order, mailoutbox):
    """A database error while the order is read after the claim (here a value psycopg cannot load) gives the
    claim back uncounted: nothing was tried."""
    with connection.cursor() as cursor:
        cursor.execute("UPDATE orders_order SET updated = 'infinity' WHERE id = %s", [order.id])
    with pytest.raises(Retry):
        order_created(order.id)
    email = email_of(order)
    assert (email.state, email.attempts, email.claim_expires_at) == ("pending", 0, None)
    Order.objects.filter(id=order.id).update(updated=timezone.now())
    assert order_created(order.id) == "sent" and email_of(order).attempts == 1 and len(mailoutbox) == 1


def test_an_order_that_cannot_be_built_into_objects_is_a_failed_attempt_released_for_a_retry(order, mailoutbox):
    """Whatever fails while the email is made, other than the database, counts as one failed attempt and gives
    the claim back for a retry."""
    with patch("orders.models.Order.from_db", side_effect=ValueError("a row the model cannot take")):
        with pytest.raises(Retry):
            order_created(order.id)
    email = email_of(order)
    assert (email.state, email.attempts, email.claim_expires_at) == ("pending", 1, None)
    assert "ValueError" in email.last_error and mailoutbox == []
    assert order_created(order.id) == "sent" and email_of(order).attempts == 2


@pytest.mark.django_db(transaction=True)
def test_the_claim_is_renewed_while_a_slow_send_runs(customer, make_product, settings, mailoutbox):
    settings.ORDER_EMAIL_CLAIM_SECONDS = 3  # renewed every second
    order = Order.objects.create(**customer)
    OrderItem.objects.create(order=order, product=make_product(), price=Decimal("1.00"), quantity=1)
    outbox.add(order.id, "confirmation")
    seen = []

    def slow_send():
        for _ in range(2):
            time.sleep(2.5)  # the mail server is slow: together longer than one lease
            thread = threading.Thread(
                target=lambda: (seen.append(outbox.claim(order.id, "confirmation").outcome), connection.close())
            )
            thread.start()
            thread.join()

    with patch(SEND, side_effect=slow_send):
        assert order_created(order.id) == "sent"
    assert seen == [Claimed.BUSY, Claimed.BUSY]
    assert email_of(order).attempts == 1


def test_worker_logs_one_line_per_email_with_the_order_id_and_no_personal_data(order, mailoutbox, caplog):
    caplog.set_level(logging.INFO, logger="orders")
    order_created(order.id)
    OrderEmail.objects.filter(order=order).update(state="pending")
    with patch(SEND, side_effect=SMTPServerDisconnected("550 no such user ada@example.com")):
        with pytest.raises(Retry):
            order_created(order.id)
    lines = [record.getMessage() for record in caplog.records if record.name.startswith("orders")]
    assert lines[0] == f"order {order.id}: confirmation email sent"
    assert f"order {order.id}: confirmation email attempt" in lines[1]
    for personal in ("ada@example.com", "Ada", "Lovelace", "Analytical", "Berlin", "10115"):
        assert all(personal not in line for line in lines)


@pytest.mark.postgresql  # a server-side disconnect, as a PostgreSQL restart leaves it
@pytest.mark.django_db(transaction=True)
def test_recording_an_email_sent_survives_a_connection_the_database_dropped(order, monkeypatch):
    """Found by bench/chaos.py: PostgreSQL restarted just after an invoice went out; every retry of the record
    used the dead connection, the email stayed "sending", and the sweep sent it a second time."""
    from orders import tasks

    monkeypatch.setattr(tasks.time, "sleep", lambda seconds: None)
    held = outbox.claim(order.id, "confirmation")
    assert held.outcome is Claimed.TAKEN
    connection.connection.close()  # the server went away under this process's connection
    assert tasks.record_outcome(held.mark_sent) is True
    assert email_of(order).state == "sent"
