"""Unpaid orders expire: PAYMENT_TIMEOUT after it was placed, an order still waiting for its online payment is
cancelled through the order lifecycle (its stock goes back on sale) by a periodic task; a payment that comes
after that is never lost but flagged for the operator; orders paid by hand never expire."""

import threading
from datetime import timedelta
from unittest.mock import patch

import pytest
from django.conf import settings as django_settings
from django.db import connections, transaction
from django.urls import reverse
from django.utils import timezone

from orders.models import Order
from payments import services
from payments.gateway import ProviderEvent
from payments.models import Invoice, OfflineCheckout, Payment, PaymentByHand
from payments.tasks import expire_unpaid_orders
from shop.models import Product
from testkit.payments import approve_offline, offline_event, payment_tasks_inline, place, post_offline, started


@pytest.fixture
def teapot(make_product):
    return make_product(name="Teapot", stock=10)


@pytest.fixture
def order(make_product, customer, teapot):
    return place(make_product, customer, product=teapot, quantity=3)


def placed_minutes_ago(order, minutes):
    Order.objects.filter(id=order.id).update(created=timezone.now() - timedelta(minutes=minutes))
    order.refresh_from_db()


def status_of(order):
    order.refresh_from_db()
    return order.status


def stock_of(product):
    return Product.objects.get(id=product.id).stock


def test_an_order_unpaid_after_the_timeout_is_cancelled_and_its_stock_goes_back(order, teapot):
    assert stock_of(teapot) == 7
    placed_minutes_ago(order, 31)
    assert expire_unpaid_orders() == 1
    assert status_of(order) == "cancelled" and stock_of(teapot) == 10
    assert expire_unpaid_orders() == 0 and stock_of(teapot) == 10  # once


def test_an_order_inside_its_timeout_is_kept(order, settings):
    placed_minutes_ago(order, 29)
    assert expire_unpaid_orders() == 0 and status_of(order) == "pending"
    settings.PAYMENT_TIMEOUT = 20 * 60
    assert expire_unpaid_orders() == 1 and status_of(order) == "cancelled"


def test_paid_shipped_and_cancelled_orders_are_never_expired(make_product, customer, teapot):
    orders = {status: place(make_product, customer, product=teapot) for status in ("paid", "shipped", "cancelled")}
    for status, order in orders.items():
        Order.objects.filter(id=order.id).update(status=status, created=timezone.now() - timedelta(days=2))
    stock = stock_of(teapot)
    assert expire_unpaid_orders() == 0
    assert {status: status_of(order) for status, order in orders.items()} == {s: s for s in orders}
    assert stock_of(teapot) == stock


def test_an_order_an_operator_takes_payment_for_by_hand_never_expires(admin_client, order):
    response = admin_client.post(
        reverse("admin:orders_order_changelist"),
        {"action": "take_payment_by_hand", "_selected_action": [order.id]},
        follow=True,
    )
    assert "1 pending order now waits for a payment by hand; mark it paid" in response.content.decode()
    placed_minutes_ago(order, 60 * 24 * 7)
    assert expire_unpaid_orders() == 0 and status_of(order) == "pending"
    assert PaymentByHand.objects.get(order=order).arranged_by == "admin"
    page = admin_client.get(order.get_absolute_url()).content.decode()
    assert "paid by bank transfer" in page and "Pay €" not in page


def test_the_pay_button_is_refused_once_the_time_to_pay_has_run_out(client, order):
    placed_minutes_ago(order, 31)
    page = client.post(reverse("payments:payment_start", args=[order.token]), follow=True).content.decode()
    assert "The time to pay this order has run out" in page and not Payment.objects.exists()


def test_expiry_closes_the_open_checkout_at_the_provider(
    client, order, django_capture_on_commit_callbacks, monkeypatch
):
    payment_tasks_inline(monkeypatch)
    paying = started(order)
    placed_minutes_ago(order, 31)
    with django_capture_on_commit_callbacks(execute=True):  # closed at the provider once the cancel commits
        expire_unpaid_orders()
    assert Payment.objects.get(id=paying.id).state == "expired"
    assert OfflineCheckout.objects.get(id=paying.reference).status == "expired"
    page = client.get(reverse("payments:offline_checkout", args=[paying.reference])).content.decode()
    assert "This payment page is closed" in page and "Approve payment" not in page


def test_expiry_asks_the_provider_first_and_money_it_took_pays_the_order(client, order, settings, teapot):
    paying = started(order)
    settings.PAYMENT_OFFLINE_CONFIRM_SECONDS = 0
    approve_offline(client, paying)  # approved, but its webhook never arrived
    placed_minutes_ago(order, 31)
    assert expire_unpaid_orders() == 0
    assert status_of(order) == "paid" and Invoice.objects.filter(order=order).exists() and stock_of(teapot) == 7


def test_a_payment_after_the_order_expired_is_flagged_never_lost(client, admin_client, order, settings, teapot):
    paying = started(order)
    settings.PAYMENT_OFFLINE_CONFIRM_SECONDS = 3600  # the provider is slow to confirm
    _, event = approve_offline(client, paying)  # the shopper pays on the provider's page...
    placed_minutes_ago(order, 31)
    with patch.object(services, "late_payments_to_refund", return_value=[]):  # the refund comes next round
        expire_unpaid_orders()  # ...while the order's time runs out
    assert status_of(order) == "cancelled" and stock_of(teapot) == 10

    assert post_offline(client, event).json()["outcome"].endswith("flagged: late")
    late = Payment.objects.get(id=paying.id)
    assert (late.state, late.problem) == ("succeeded", "late")
    assert status_of(order) == "cancelled" and not Invoice.objects.exists()  # the stock is not taken twice

    flagged = admin_client.get(reverse("admin:payments_payment_changelist"), {"attention": "yes"})
    assert [payment.id for payment in flagged.context["cl"].result_list] == [late.id]
    shopper_page = " ".join(client.get(order.get_absolute_url()).content.decode().split())
    assert "We received a payment of €34.90 for this order that it could not use" in shopper_page
    assert "It is being refunded to you automatically" in shopper_page


def test_a_late_payment_is_refunded_automatically_once_and_the_operators_are_told(
    client, order, settings, mailoutbox, caplog, monkeypatch
):
    payment_tasks_inline(monkeypatch)
    settings.OPERATOR_EMAILS = ["ops@myshop.example"]
    paying = started(order)
    settings.PAYMENT_OFFLINE_CONFIRM_SECONDS = 3600
    _, event = approve_offline(client, paying)
    placed_minutes_ago(order, 31)
    expire_unpaid_orders()
    assert post_offline(client, event).json()["outcome"].endswith("flagged: late")
    expire_unpaid_orders()  # the next round of the periodic task
    expire_unpaid_orders()  # and the one after: nothing more
    refunded = Payment.objects.get(id=paying.id)
    assert (refunded.state, refunded.problem) == ("refunded", "late")
    assert refunded.refunded_by == "automatically: paid after the order was cancelled"
    told = [message for message in mailoutbox if message.to == ["ops@myshop.example"]]
    assert len(told) == 1 and order.number in told[0].subject and "refunded" in told[0].subject
    assert any("refunded automatically" in record.getMessage() for record in caplog.records)


def late_payment(client, order, settings):
    """A payment the provider reports after the order expired (flagged late, not refunded yet)."""
    paying = started(order)
    settings.PAYMENT_OFFLINE_CONFIRM_SECONDS = 3600
    _, event = approve_offline(client, paying)
    placed_minutes_ago(order, 31)
    with patch.object(services, "late_payments_to_refund", return_value=[]):
        expire_unpaid_orders()
    assert post_offline(client, event).json()["outcome"].endswith("flagged: late")
    return paying


def test_a_late_payment_the_provider_will_not_refund_is_left_to_the_operators_who_are_told_once(
    client, order, settings, mailoutbox, monkeypatch
):
    payment_tasks_inline(monkeypatch)
    settings.OPERATOR_EMAILS = ["ops@myshop.example"]
    paying = late_payment(client, order, settings)
    refusing = patch("payments.offline.OfflineProvider.refund", side_effect=services.ProviderError("no such charge"))
    with refusing as refund_at_provider:
        for _ in range(3):  # three rounds of the periodic task: asked once, never again
            expire_unpaid_orders()
    assert refund_at_provider.call_count == 1
    payment = Payment.objects.get(id=paying.id)
    assert payment.state == "succeeded" and payment.last_error.startswith(services.BY_HAND)
    told = [message for message in mailoutbox if message.to == ["ops@myshop.example"]]
    assert len(told) == 1 and "could not be refunded automatically" in told[0].subject


def test_an_automatic_refund_that_never_got_its_answer_is_asked_again_later(client, order, settings, monkeypatch):
    payment_tasks_inline(monkeypatch)
    paying = late_payment(client, order, settings)
    # A worker killed between asking the provider and recording its answer.
    Payment.objects.filter(id=paying.id).update(
        state="refunding",
        refunded_by=services.AUTOMATIC_REFUND,
        refund_started_at=timezone.now() - timedelta(seconds=services.REFUND_RETRY_SECONDS + 1),
    )
    expire_unpaid_orders()
    assert Payment.objects.get(id=paying.id).state == "refunded"


def test_an_operator_cancelling_an_order_closes_its_checkout_and_the_shopper_cannot_pay_any_more(
    client, admin_client, order, teapot, django_capture_on_commit_callbacks, monkeypatch
):
    payment_tasks_inline(monkeypatch)
    paying = started(order)
    with django_capture_on_commit_callbacks(execute=True):
        answer = admin_client.post(
            reverse("admin:orders_order_act", args=[order.id]), {"action": "cancel", "confirmed": "yes"}
        )
    assert answer.status_code == 302 and status_of(order) == "cancelled" and stock_of(teapot) == 10
    assert Payment.objects.get(id=paying.id).state == "expired"
    assert OfflineCheckout.objects.get(id=paying.reference).status == "expired"
    response, event = approve_offline(client, paying)  # the shopper, still on the provider's page, approves
    assert event is None  # the provider takes no payment for it
    assert Payment.objects.get(id=paying.id).state == "expired" and status_of(order) == "cancelled"


@pytest.mark.django_db(transaction=True)
def test_an_order_being_paid_at_that_moment_is_not_expired(make_product, customer, teapot):
    order = place(make_product, customer, product=teapot, quantity=3)
    paying = started(order)
    placed_minutes_ago(order, 31)
    holding, release, expired, errors = threading.Event(), threading.Event(), [], []

    def webhook():  # the provider's success, acted on while the expiry runs
        try:
            with transaction.atomic():
                Order.objects.select_for_update().get(id=order.id)
                holding.set()
                release.wait(timeout=20)
                services.apply_event(
                    provider="offline",
                    event=ProviderEvent(
                        id="evt_now",
                        type="checkout.approved",
                        reference=paying.reference,
                        outcome="succeeded",
                        amount_minor=3490,
                        currency="EUR",
                    ),
                )
        except Exception as error:  # noqa: BLE001  (reported below)
            errors.append(error)
        finally:
            connections.close_all()

    def expiry():
        try:
            expired.extend(services.expire_unpaid_orders())
        except Exception as error:  # noqa: BLE001
            errors.append(error)
        finally:
            connections.close_all()

    paying_thread, expiry_thread = threading.Thread(target=webhook), threading.Thread(target=expiry)
    with patch("celery.app.task.Task.apply_async"):  # once, here: see test_invoices' threads
        paying_thread.start()
        assert holding.wait(timeout=20)
        expiry_thread.start()
        expiry_thread.join(timeout=1)  # PostgreSQL: done at once, skipping the locked row; SQLite: waits its turn
        release.set()
        paying_thread.join(timeout=30)
        expiry_thread.join(timeout=30)
    assert errors == [] and expired == []
    assert status_of(order) == "paid" and stock_of(teapot) == 7
    assert Payment.objects.get(id=paying.id).problem == ""


def test_beat_runs_the_expiry_every_minute():
    entry = django_settings.CELERY_BEAT_SCHEDULE["expire-unpaid-orders"]
    assert entry["task"] == "payments.tasks.expire_unpaid_orders" and entry["schedule"] == 60


def test_pending_orders_from_before_online_payment_are_paid_by_hand(order):
    from importlib import import_module

    from django.apps import apps

    PaymentByHand.objects.all().delete()
    import_module("payments.migrations.0002_earlier_pending_orders_are_paid_by_hand").arrange_by_hand(apps, None)
    assert PaymentByHand.objects.get().order_id == order.id
    placed_minutes_ago(order, 600)
    assert expire_unpaid_orders() == 0


def test_a_late_payment_reported_with_the_wrong_amount_is_flagged_as_a_mismatch(client, order):
    paying = started(order)
    placed_minutes_ago(order, 31)
    expire_unpaid_orders()
    post_offline(client, offline_event(paying, amount=1))
    assert Payment.objects.get(id=paying.id).problem == "mismatch"
