"""Refunds: operators refund through the provider from the admin (the offline provider simulates it), and the
refund is recorded on the payment and shown with the order; money is never refunded twice."""

import re
import threading
from unittest.mock import patch

import pytest
from django.db import connections
from django.urls import reverse

from orders.models import Order
from payments import services
from payments.gateway import ProviderError
from payments.models import OfflineCheckout, Payment
from shop.models import Product
from testkit.payments import approve_offline, place, post_offline, started

ORDERS = reverse("admin:orders_order_changelist")
PAYMENTS = reverse("admin:payments_payment_changelist")


@pytest.fixture
def teapot(make_product):
    return make_product(name="Teapot", stock=10)


@pytest.fixture
def paid_order(client, make_product, customer, teapot):
    order = place(make_product, customer, product=teapot, quantity=2)  # €20.00 + €4.90
    paying = started(order)
    _, event = approve_offline(client, paying)
    with patch("celery.app.task.Task.apply_async"):
        assert post_offline(client, event).status_code == 200
    order.refresh_from_db()
    assert order.status == "paid"
    return order


def act(admin_client, url, action, ids):
    with patch("celery.app.task.Task.apply_async"):
        response = admin_client.post(url, {"action": action, "_selected_action": ids}, follow=True)
    assert response.status_code == 200
    return " ".join(response.content.decode().split())


def test_refund_and_cancel_gives_money_and_stock_back_and_records_it(admin_client, client, paid_order, teapot):
    page = act(admin_client, ORDERS, "refund_and_cancel", [paid_order.id])
    assert f"Order {paid_order.id}: refunded €24.90 through offline" in page
    payment = Payment.objects.get(order=paid_order)
    assert (payment.state, payment.refunded_by) == ("refunded", "admin") and payment.refund_reference.startswith("ofr_")
    assert payment.refunded_at is not None
    assert OfflineCheckout.objects.get(id=payment.reference).status == "refunded"  # the provider's side
    paid_order.refresh_from_db()
    assert paid_order.status == "cancelled" and Product.objects.get(id=teapot.id).stock == 10
    shopper = " ".join(client.get(paid_order.get_absolute_url()).content.decode().split())
    assert "Refunded €24.90 on" in shopper
    order_page = admin_client.get(reverse("admin:orders_order_change", args=[paid_order.id])).content.decode()
    assert payment.refund_reference in order_page


def test_money_is_never_refunded_twice(admin_client, paid_order):
    act(admin_client, ORDERS, "refund_and_cancel", [paid_order.id])
    payment = Payment.objects.get(order=paid_order)
    page = act(admin_client, PAYMENTS, "refund", [payment.id])
    assert "is refunded: there is nothing to refund" in page
    assert Payment.objects.get(id=payment.id).refund_reference == payment.refund_reference


@pytest.mark.django_db(transaction=True)
def test_two_operators_refunding_at_once_refund_once(make_product, customer, teapot, client):
    order = place(make_product, customer, product=teapot)
    paying = started(order)
    _, event = approve_offline(client, paying)
    with patch("celery.app.task.Task.apply_async"):
        post_offline(client, event)
    calls, outcomes = [], []
    real_refund = services.get_provider("offline").refund
    entered, release = threading.Event(), threading.Event()

    def slow_refund(payment):
        calls.append(payment.id)
        entered.set()
        release.wait(timeout=10)
        return real_refund(payment)

    def operator():
        try:
            outcomes.append(services.refund(payment_id=paying.id, by="op").state)
        except services.RefundRefused as refusal:
            outcomes.append(str(refusal))
        finally:
            connections.close_all()

    with patch("payments.offline.OfflineProvider.refund", side_effect=slow_refund):
        first = threading.Thread(target=operator)
        first.start()
        assert entered.wait(timeout=10)
        operator()  # the second operator, while the first refund waits on the provider
        release.set()
        first.join(timeout=20)
    assert calls == [paying.id]
    busy = f"Payment {paying.id} of order {order.id} is being refunded right now."
    assert sorted(outcomes) == sorted(["refunded", busy])


def test_a_provider_refusing_the_refund_leaves_the_payment_paid_with_the_reason(admin_client, paid_order):
    with patch("payments.offline.OfflineProvider.refund", side_effect=ProviderError("card account closed")):
        page = act(admin_client, ORDERS, "refund_and_cancel", [paid_order.id])
    assert "card account closed" in page
    payment = Payment.objects.get(order=paid_order)
    assert payment.state == "succeeded" and "card account closed" in payment.last_error
    paid_order.refresh_from_db()
    assert paid_order.status == "paid"  # not cancelled: the money was not given back


def test_a_refund_whose_answer_never_came_may_be_asked_again_later(paid_order):
    payment = Payment.objects.get(order=paid_order)
    Payment.objects.filter(id=payment.id).update(
        state="refunding", refund_started_at=payment.created.replace(year=2020)
    )
    assert services.refund(payment_id=payment.id).state == "refunded"


def test_a_shipped_order_is_refunded_from_its_payment_not_cancelled(admin_client, paid_order):
    Order.objects.filter(id=paid_order.id).update(status="shipped")
    page = act(admin_client, ORDERS, "refund_and_cancel", [paid_order.id])
    assert "has shipped: refund its payment under Payments" in page
    payment = Payment.objects.get(order=paid_order)
    assert payment.state == "succeeded"
    page = act(admin_client, PAYMENTS, "refund", [payment.id])
    assert f"Refunded €24.90 of order {paid_order.id}" in page
    paid_order.refresh_from_db()
    assert paid_order.status == "shipped"


def test_an_order_without_an_online_payment_has_nothing_to_refund(admin_client, make_product, customer, teapot):
    order = place(make_product, customer, product=teapot)
    page = act(admin_client, ORDERS, "refund_and_cancel", [order.id])
    assert "has no online payment to refund" in page
    order.refresh_from_db()
    assert order.status == "pending"


def test_a_late_payment_is_refunded_from_the_payments_list_and_leaves_the_to_do_list(
    admin_client, client, make_product, customer, teapot
):
    order = place(make_product, customer, product=teapot)
    paying = started(order)
    _, event = approve_offline(client, paying)
    Order.objects.filter(id=order.id).update(status="cancelled")
    post_offline(client, event)
    assert [p.id for p in admin_client.get(PAYMENTS, {"attention": "yes"}).context["cl"].result_list] == [paying.id]
    act(admin_client, PAYMENTS, "refund", [paying.id])
    assert list(admin_client.get(PAYMENTS, {"attention": "yes"}).context["cl"].result_list) == []
    assert Payment.objects.get(id=paying.id).state == "refunded"


def test_operators_find_payments_invoices_and_events_by_the_order_number_as_typed(admin_client, paid_order):
    """What an operator has in hand is the order number a customer quotes ("ms 7k4p q2xd" as often as not)."""
    payment = paid_order.payments.get()
    invoice = paid_order.invoice
    typed = paid_order.number.lower().replace("-", " ")
    for changelist, shown in (
        (PAYMENTS, f"/{payment.id}/change/"),
        (reverse("admin:payments_invoice_changelist"), invoice.number),
        (reverse("admin:payments_webhookevent_changelist"), f"/{payment.events.first().id}/change/"),
    ):
        for term in (paid_order.number, typed):
            page = admin_client.get(changelist, {"q": term})
            assert page.status_code == 200 and shown in page.content.decode(), (changelist, term)


def test_the_payment_page_speaks_the_operators_words(admin_client, paid_order):
    payment = Payment.objects.get(order=paid_order)
    page = admin_client.get(reverse("admin:payments_payment_change", args=[payment.id])).content.decode()
    text = " ".join(re.sub(r"<[^>]+>", " ", page).split())
    assert "Card payment (test provider)" in text and payment.reference in text
    assert "Problem: None" not in text and "Provider: offline" not in text
