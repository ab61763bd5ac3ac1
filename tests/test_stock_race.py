"""Shoppers racing for the last units: stock is reserved atomically, so it is never oversold."""
import threading
from decimal import Decimal
from unittest.mock import patch

import pytest
from django.db import connections
from django.test import Client
from django.urls import reverse

from cart.cart import Cart
from orders.models import Order, OrderItem
from orders.tasks import order_created

pytestmark = pytest.mark.django_db(transaction=True)


def race(shoppers, action):
    """Run action(shopper) in one thread per shopper, all released at the same instant."""
    start = threading.Barrier(len(shoppers))
    results = [None] * len(shoppers)

    def run(index, shopper):
        try:
            start.wait(timeout=30)
            results[index] = action(shopper)
        finally:
            connections.close_all()  # each thread has its own connection; the test database is dropped later

    threads = [threading.Thread(target=run, args=(i, s)) for i, s in enumerate(shoppers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


@pytest.mark.parametrize("stock, shoppers", [(1, 6), (3, 8)])
def test_concurrent_checkouts_never_oversell(make_product, customer, stock, shoppers):
    lamp = make_product(name="Last lamp", price=Decimal("30.00"), stock=stock)
    clients = [Client() for _ in range(shoppers)]
    for client in clients:
        assert client.post(reverse("cart:cart_add", args=[lamp.id]), {"quantity": 1}).status_code == 302

    with patch.object(order_created, "delay"):
        responses = race(clients, lambda client: client.post(reverse("orders:order_create"), customer))

    placed = [r for r in responses if r.status_code == 302]
    refused = [r for r in responses if r.status_code != 302]
    assert len(placed) == stock and Order.objects.count() == stock
    assert OrderItem.objects.filter(product=lamp).count() == stock
    lamp.refresh_from_db()
    assert lamp.stock == 0
    for response in refused:
        assert response.status_code == 400 and "“Last lamp”: sold out." in response.content.decode()
    losers = [c for c, r in zip(clients, responses) if r.status_code != 302]
    assert all(Cart(c.session).quantities() == {lamp.id: 1} for c in losers)  # they keep their cart


def test_double_clicked_checkout_for_the_last_unit_shows_the_order_both_times(make_product, customer):
    lamp = make_product(name="Last lamp", stock=1)
    client = Client()
    client.post(reverse("cart:cart_add", args=[lamp.id]), {"quantity": 1})
    key = client.get(reverse("orders:order_create")).context["form"]["idempotency_key"].value()
    twins = [client, Client()]
    twins[1].cookies = client.cookies  # the same browser session, two requests in flight

    with patch.object(order_created, "delay"):
        responses = race(twins, lambda c: c.post(reverse("orders:order_create"), {**customer, "idempotency_key": key}))

    assert [r.status_code for r in responses] == [302, 302]
    assert Order.objects.count() == 1
    lamp.refresh_from_db()
    assert lamp.stock == 0
