"""An order's life: one guarded way to change its status, a table of the allowed moves, stock given back
exactly once when it is cancelled, a shipping notice exactly once whatever path led to "shipped"."""

from decimal import Decimal
from unittest.mock import patch

import pytest
from django.urls import reverse

from orders.models import Order, OrderEmail
from orders.services import place_order
from orders.tasks import order_shipped
from shop.models import Product

CHANGELIST = reverse("admin:orders_order_changelist")


@pytest.fixture
def placed(make_product, customer, django_capture_on_commit_callbacks):
    """An order of 3 lamps (stock 5 before, 2 after) as checkout placed it."""

    def place():
        lamp = make_product(name="Lamp", price=Decimal("30.00"), stock=5)
        with patch("celery.app.task.Task.apply_async"), django_capture_on_commit_callbacks(execute=True):
            order = place_order(customer=customer, quantities={lamp.id: 3})
        return order, lamp

    return place


def act(admin_client, action, order, django_capture_on_commit_callbacks):
    fields = {"action": action, "_selected_action": [order.id]}
    if action == "mark_shipped":  # the "Ship" page's answer
        fields |= {"ship": "yes", "ship-TOTAL_FORMS": 1, "ship-INITIAL_FORMS": 1, "ship-0-order": order.id}
        fields |= {"ship-0-carrier": "dpd", "ship-0-tracking_number": "01234567890123"}
    with patch.object(order_shipped, "delay") as shipping, django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(CHANGELIST, fields, follow=True)
    assert response.status_code == 200
    order.refresh_from_db()
    return response, shipping


def stock_of(product):
    return Product.objects.get(id=product.id).stock


def test_cancelling_gives_the_stock_back_once(admin_client, placed, django_capture_on_commit_callbacks):
    order, lamp = placed()
    assert stock_of(lamp) == 2
    act(admin_client, "cancel", order, django_capture_on_commit_callbacks)
    assert order.status == "cancelled" and stock_of(lamp) == 5
    response, _ = act(admin_client, "cancel", order, django_capture_on_commit_callbacks)  # again: refused
    assert stock_of(lamp) == 5
    assert "is cancelled" in response.content.decode()


def test_the_allowed_moves_pending_paid_shipped_and_nothing_out_of_shipped(
    admin_client, placed, django_capture_on_commit_callbacks
):
    order, lamp = placed()
    response, _ = act(admin_client, "mark_shipped", order, django_capture_on_commit_callbacks)
    assert order.status == "pending" and "cannot" in response.content.decode()  # not paid yet
    act(admin_client, "mark_paid", order, django_capture_on_commit_callbacks)
    assert order.status == "paid"
    _, shipping = act(admin_client, "mark_shipped", order, django_capture_on_commit_callbacks)
    assert order.status == "shipped"
    shipping.assert_called_once_with(order.id)
    for action in ("cancel", "mark_paid", "mark_shipped"):
        response, shipping = act(admin_client, action, order, django_capture_on_commit_callbacks)
        assert order.status == "shipped" and not shipping.called
        assert "cannot" in response.content.decode()
    assert stock_of(lamp) == 2  # a shipped order keeps its stock
    assert OrderEmail.objects.filter(order=order, kind="shipping").count() == 1


def test_the_status_cannot_be_set_freely_in_the_order_form(admin_client, placed):
    order, _ = placed()
    Order.objects.filter(id=order.id).update(status="shipped")
    page = admin_client.get(reverse("admin:orders_order_change", args=[order.id])).content.decode()
    assert 'name="status"' not in page  # shown, not a field: changes go through the actions
    form = {
        "status": "pending",
        "first_name": "Ada",
        "last_name": "Byron",
        "email": order.email,
        "address": order.address,
        "postal_code": order.postal_code,
        "city": order.city,
    }
    admin_client.post(reverse("admin:orders_order_change", args=[order.id]), form)
    order.refresh_from_db()
    assert order.status == "shipped"


def test_a_refused_move_is_a_message_never_a_500(admin_client, placed, django_capture_on_commit_callbacks):
    order, _ = placed()
    act(admin_client, "cancel", order, django_capture_on_commit_callbacks)
    response, _ = act(admin_client, "mark_paid", order, django_capture_on_commit_callbacks)
    content = response.content.decode()
    assert response.status_code == 200 and f"{order.number}" in content and "cancelled" in content


@pytest.mark.django_db(transaction=True)
def test_two_operators_cancelling_at_once_give_the_stock_back_once(make_product, customer):
    import threading

    from django.db import connections

    from orders.services import change_status

    lamp = make_product(name="Lamp", stock=5)
    with patch("celery.app.task.Task.apply_async"):
        order = place_order(customer=customer, quantities={lamp.id: 3})
    start, results = threading.Barrier(2), []

    def cancel():
        start.wait()
        try:
            results.append(change_status(order_ids=[order.id], to="cancelled"))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=cancel) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(len(changed) for changed, _ in results) == [0, 1]
    assert stock_of(lamp) == 5
