"""The real path of "bought together": orders paid -> RabbitMQ -> a real Celery worker -> Redis -> the product page."""

from unittest.mock import patch

import pytest

from orders.models import Order
from orders.services import change_status, place_order
from recommendations import store
from testkit.waiting import wait_for

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True)]


def test_orders_of_a_with_b_paid_make_b_appear_on_a_page(recs, client, make_product, customer, running_worker):
    kettle, teapot, mug = make_product(name="Gooseneck kettle"), make_product(name="Glass teapot"), make_product()
    with patch("celery.app.task.Task.apply_async"):  # the confirmation emails are not this test's
        orders = [place_order(customer=customer, quantities={kettle.id: 1, teapot.id: 1}) for _ in range(2)]
        orders.append(place_order(customer=customer, quantities={mug.id: 1}))
    assert "Glass teapot" not in client.get(kettle.get_absolute_url()).content.decode()

    change_status(order_ids=[order.id for order in orders], to=Order.Status.PAID)  # as a payment marks them

    wait_for(
        lambda: all(store.is_counted(recs, order.id) for order in orders), what="the worker to count the paid orders"
    )
    page = client.get(kettle.get_absolute_url()).content.decode()
    assert "Customers also bought" in page and "Glass teapot" in page
    assert recs.zscore(f"{store.Keys.live().bought_with(kettle.id)}", teapot.id) == 2
