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
from testkit.pages import thank_you_order

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

    placed = [r for r in responses if thank_you_order(r)]
    refused = [r for r in responses if not thank_you_order(r)]
    assert len(placed) == stock and Order.objects.count() == stock
    assert OrderItem.objects.filter(product=lamp).count() == stock
    lamp.refresh_from_db()
    assert lamp.stock == 0
    for response in refused:
        assert response.status_code == 400 and "“Last lamp”: sold out." in response.content.decode()
    losers = [c for c, r in zip(clients, responses) if not thank_you_order(r)]
    assert all(Cart(c.session).quantities() == {lamp.id: 1} for c in losers)  # they keep their cart


def double_click(product, quantity, customer):
    """One browser's checkout form submitted twice at once; ([the two clients], [their responses])."""
    client = Client()
    client.post(reverse("cart:cart_add", args=[product.id]), {"quantity": quantity})
    key = client.get(reverse("orders:order_create")).context["form"]["idempotency_key"].value()
    twins = [client, Client()]
    twins[1].cookies = client.cookies  # the same browser session, two requests in flight
    with patch.object(order_created, "delay"):
        return twins, race(
            twins, lambda c: c.post(reverse("orders:order_create"), {**customer, "idempotency_key": key})
        )


def test_double_clicked_checkout_for_the_last_unit_shows_the_order_both_times(make_product, customer):
    lamp = make_product(name="Last lamp", stock=1)
    _, responses = double_click(lamp, 1, customer)
    assert [thank_you_order(r) for r in responses] == [Order.objects.get()] * 2
    lamp.refresh_from_db()
    assert lamp.stock == 0


def test_a_double_submit_from_two_concurrent_requests_places_one_order_and_both_see_it(make_product, customer):
    """The same form sent twice at once (a double click: the browser drops the first response): whichever
    request loses the race finds the first order through the one-time key, not a second order, and not an
    empty cart."""
    mugs = make_product(name="Mugs", stock=50)  # plenty: the twin gets past the stock check
    twins, responses = double_click(mugs, 2, customer)
    assert [thank_you_order(r) for r in responses] == [Order.objects.get()] * 2
    mugs.refresh_from_db()
    assert mugs.stock == 48
    for twin, response in zip(twins, responses):
        twin.cookies.update(response.cookies)
        assert thank_you_order(twin.get(reverse("orders:thank_you")))  # each sees the order on reload too


def test_a_submit_arriving_after_its_twin_finished_shows_the_order_too(make_product, customer, session_store):
    """The first request of a double click completed (and cycled the session); the second still carries the
    old session cookie."""
    mugs = make_product(name="Mugs", stock=50)
    client = Client()
    client.post(reverse("cart:cart_add", args=[mugs.id]), {"quantity": 2})
    key = client.get(reverse("orders:order_create")).context["form"]["idempotency_key"].value()
    late = Client()
    late.cookies = type(client.cookies)(client.cookies)  # a copy: the old cookie stays with the late request
    with patch.object(order_created, "delay"):
        first = client.post(reverse("orders:order_create"), {**customer, "idempotency_key": key})
        second = late.post(reverse("orders:order_create"), {**customer, "idempotency_key": key})
    assert thank_you_order(first) == thank_you_order(second) == Order.objects.get()
    late.cookies.update(second.cookies)
    assert thank_you_order(late.get(reverse("orders:thank_you"))) == Order.objects.get()


def test_a_second_click_arriving_while_the_first_renews_the_session_shows_the_order(
    make_product, customer, session_store
):
    """The window a race only sometimes hits, made certain: the second request of a double click reads the
    session just after the first one has placed the order and renews the session key (the old key is dropped
    at once). It must find the order, not an
    empty cart (before: it was sent to the cart page, as if nothing was ordered), nor place a second one."""
    from django.contrib.sessions.backends.base import SessionBase

    lamp = make_product(name="Last lamp", stock=1)
    client = Client()
    client.post(reverse("cart:cart_add", args=[lamp.id]), {"quantity": 1})
    key = client.get(reverse("orders:order_create")).context["form"]["idempotency_key"].value()
    twin = Client()
    twin.cookies = client.cookies  # the same browser, the old session cookie
    form = {**customer, "idempotency_key": key}
    second, sent = [], []
    renew = SessionBase.cycle_key

    def renew_with_the_second_click_in_between(session):
        renew(session)
        if not sent:  # once: the second click renews its session too
            sent.append(True)
            second.append(twin.post(reverse("orders:order_create"), form))

    with (
        patch.object(SessionBase, "cycle_key", renew_with_the_second_click_in_between),
        patch.object(order_created, "delay"),
    ):
        first = client.post(reverse("orders:order_create"), form)
    assert second, "the second click was not sent"
    assert thank_you_order(first) == thank_you_order(second[0]) == Order.objects.get()


@pytest.mark.postgresql  # SQLite serialises writers at BEGIN: nothing to order
@pytest.mark.django_db(transaction=True)
def test_a_checkout_and_a_cancellation_lock_the_same_products_in_the_same_order(make_product, customer):
    """Every stock change locks its products in id order. A checkout that locked by id while a cancellation
    (or a stock count) locked by name could each hold one row and wait for the other: PostgreSQL then kills
    one of them ("deadlock detected") and the shopper gets an error page."""
    import time

    import psycopg
    from django.db import connection, transaction

    from orders.services import place_order
    from shop import stock

    first = make_product(name="Zulu", stock=5)  # the lower id, last by name
    second = make_product(name="Alpha", stock=5)  # the higher id, first by name
    params = {key: value for key, value in connection.get_connection_params().items() if key != "cursor_factory"}

    def waiting_for_locks(count):
        with psycopg.connect(**params, autocommit=True) as probe:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                query = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                if probe.execute(query).fetchone()[0] >= count:
                    return
                time.sleep(0.02)
        raise AssertionError(f"{count} transaction(s) never waited for a lock")

    errors = []

    def in_thread(action):
        try:
            action()
        except Exception as error:  # noqa: BLE001  (what the shopper or operator would have got)
            errors.append(repr(error))
        finally:
            connections.close_all()

    def checkout():
        # No hand-over: a worker claiming this email would still hold rows when the test's tables are emptied.
        with patch("orders.services.order_created.delay"):
            place_order(customer=customer, quantities={first.id: 1, second.id: 1})

    def cancellation():
        with transaction.atomic():
            stock.give_back(order_id=None, quantities={second.id: 1, first.id: 1})

    holder = psycopg.connect(**params)  # holds the first product, so that both wait in line behind it
    holder.execute("SELECT 1 FROM shop_product WHERE id = %s FOR UPDATE", [first.id])
    buyer = threading.Thread(target=in_thread, args=(checkout,))
    buyer.start()
    waiting_for_locks(1)
    operator = threading.Thread(target=in_thread, args=(cancellation,))
    operator.start()
    try:
        waiting_for_locks(2)
    finally:
        holder.commit()
        holder.close()
        buyer.join(timeout=30)
        operator.join(timeout=30)
    assert not buyer.is_alive() and not operator.is_alive()
    assert errors == []
    order = Order.objects.get()  # the checkout placed its order, with both lines...
    assert sorted(order.items.values_list("product_id", "quantity")) == [(first.id, 1), (second.id, 1)]
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.stock, second.stock) == (5, 5)  # ...and the cancellation gave one of each back
