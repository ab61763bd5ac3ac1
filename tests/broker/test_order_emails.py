"""The real path: test client -> view -> RabbitMQ -> a real Celery worker -> email.

These tests need the broker at CELERY_BROKER_URL; they use a queue of their own (see test_settings), and
`transaction=True` because the worker only sees committed rows.
"""

from decimal import Decimal
from unittest.mock import patch
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction
from django.urls import reverse

from orders.models import Order, OrderEmail
from orders.services import place_order
from orders.tasks import order_created
from shop.templatetags.shop_text import local_datetime
from testkit.waiting import wait_for

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True)]


def _add(client, product, quantity):
    response = client.post(reverse("cart:cart_add", args=[product.id]), {"quantity": quantity})
    assert response.status_code == 302


def test_placing_an_order_emails_the_customer_once_via_the_worker(client, make_product, customer, worker_outbox):
    mug = make_product(name="Blue mug", price=Decimal("7.00"))
    pot = make_product(name="Teapot", price=Decimal("20.50"))
    _add(client, mug, 2)
    _add(client, pot, 1)

    response = client.post(reverse("orders:order_create"), customer, follow=True)

    order = Order.objects.get()
    assert response.status_code == 200 and order.number in response.content.decode()
    wait_for(
        lambda: OrderEmail.objects.filter(order=order, kind="confirmation", state="sent").exists(),
        what="the worker to send the confirmation",
    )
    [email] = [m for m in worker_outbox if f"order {order.number}" in m.subject]
    assert email.to == [customer["email"]]
    assert "2 × Blue mug" in email.body and "1 × Teapot" in email.body
    assert "Subtotal: €34.50" in email.body and "Shipping: €4.90" in email.body and "Total: €39.40" in email.body
    assert email.body.startswith("Hello Ada,") and "Delivery address\n  Ada Lovelace\n" in email.body
    # The worker names the times as the pages do: the shop's zone (Europe/Berlin by default).
    berlin = order.created.astimezone(ZoneInfo("Europe/Berlin")).tzname()
    placed = local_datetime(order.created)
    assert placed.endswith(f" {berlin}") and f"placed on {placed}." in email.body
    assert len(worker_outbox) == 1
    email = OrderEmail.objects.get(order=order)
    assert email.queued_at is not None and email.sent_at is not None and email.attempts == 1


def test_rolled_back_order_publishes_nothing(make_product, customer, worker_outbox):
    pen = make_product()
    with patch.object(order_created, "delay", wraps=order_created.delay) as publish:
        with pytest.raises(RuntimeError):
            with transaction.atomic():
                place_order(customer=customer, quantities={pen.id: 1})
                raise RuntimeError("the request failed after placing the order")
    assert not Order.objects.exists() and not publish.called

    # A later order goes through the same queue and the single worker: once its email has arrived, anything
    # the rolled-back order had published would have been consumed before it.
    later = place_order(customer={**customer, "email": "later@example.com"}, quantities={pen.id: 1})
    wait_for(lambda: len(worker_outbox) >= 1, what="the later order's email")
    wait_for(lambda: OrderEmail.objects.filter(order=later, state="sent").exists(), what="the later order marked sent")
    assert [m.to for m in worker_outbox] == [["later@example.com"]]


def test_marking_an_order_shipped_in_the_admin_emails_the_customer_via_the_worker(
    admin_client, make_product, customer, worker_outbox
):
    order = place_order(customer=customer, quantities={make_product(name="Teapot").id: 1})
    wait_for(
        lambda: OrderEmail.objects.filter(order=order, kind="confirmation", state="sent").exists(),
        what="the confirmation",
    )

    admin_client.post(reverse("admin:orders_order_changelist"), {"action": "mark_paid", "_selected_action": [order.id]})
    ship = {"action": "mark_shipped", "_selected_action": [order.id], "ship": "yes", "ship-0-order": order.id}
    ship |= {"ship-TOTAL_FORMS": 1, "ship-INITIAL_FORMS": 1, "ship-0-carrier": "gls"}
    ship["ship-0-tracking_number"] = "zx81 zx81"
    response = admin_client.post(reverse("admin:orders_order_changelist"), ship)

    assert response.status_code == 302
    wait_for(
        lambda: OrderEmail.objects.filter(order=order, kind="shipping", state="sent").exists(),
        what="the worker to send the shipping notice",
    )
    # Marking it paid numbered its invoice, which the worker emails too (payments/invoices.py).
    wait_for(
        lambda: OrderEmail.objects.filter(order=order, kind="invoice", state="sent").exists(),
        what="the worker to send the invoice",
    )
    subjects = [m.subject for m in worker_outbox]
    invoice = f"myshop: invoice {order.invoice.number} for order {order.number}"
    assert subjects[0] == f"myshop: order {order.number} received"
    assert sorted(subjects[1:]) == sorted([invoice, f"myshop: order {order.number} has shipped"])
    notice = next(m for m in worker_outbox if m.subject.endswith("has shipped"))
    assert "https://gls-group.com/DE/de/paketverfolgung?match=ZX81ZX81" in notice.body
