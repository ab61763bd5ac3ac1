"""An unpaid order cancelled (by an operator, or expired unpaid) gives its coupon use back, exactly once."""

import threading
from datetime import timedelta
from decimal import Decimal
from unittest.mock import patch

import pytest
from django.db import connections
from django.db.models import F
from django.utils import timezone

from coupons.models import Coupon, CustomerUse
from orders.models import Order
from orders.services import change_status, place_order
from payments.services import expire_unpaid_orders


@pytest.fixture
def coupon(make_coupon):
    return make_coupon(code="BACK", max_uses=5, max_uses_per_customer=2)


@pytest.fixture
def order(make_product, customer, coupon):
    lamp = make_product(price=Decimal("20.00"))
    with patch("celery.app.task.Task.apply_async"):
        return place_order(customer=customer, quantities={lamp.id: 1}, coupon_code="BACK")


def another_use(coupon):
    """Count one more use, as another order of this customer would: giving back twice would then show."""
    Coupon.objects.filter(id=coupon.id).update(uses=F("uses") + 1)
    CustomerUse.objects.filter(coupon=coupon).update(uses=F("uses") + 1)


def uses(coupon):
    coupon.refresh_from_db()
    return coupon.uses, CustomerUse.objects.get(coupon=coupon, customer_key="mailbox:ada@example.com").uses


def test_cancelling_an_unpaid_order_gives_its_uses_back_once(order, coupon):
    assert uses(coupon) == (1, 1)
    another_use(coupon)
    with patch("celery.app.task.Task.apply_async"):
        assert change_status(order_ids=[order.id], to="cancelled")[0] == [order.id]
        assert uses(coupon) == (1, 1)
        assert change_status(order_ids=[order.id], to="cancelled")[0] == []  # cancelled already: refused
    assert uses(coupon) == (1, 1)
    order.refresh_from_db()
    assert (order.coupon, order.discount) == (coupon, Decimal("2.00"))  # the order keeps its discount line


def test_an_order_whose_email_was_corrected_gives_back_the_use_of_the_mailbox_that_took_it(
    order, coupon, customer, make_product
):
    bob = {**customer, "email": "bob@example.com"}
    with patch("celery.app.task.Task.apply_async"):
        place_order(customer=bob, quantities={make_product().id: 1}, coupon_code="BACK")
        order.email = "Bob@example.com"  # an operator corrects the address in the admin
        order.save(update_fields=["email"])
        change_status(order_ids=[order.id], to="cancelled")
    assert uses(coupon) == (1, 0)
    assert CustomerUse.objects.get(coupon=coupon, customer_key="mailbox:bob@example.com").uses == 1


def test_a_paid_order_cancelled_keeps_its_use(order, coupon):
    with patch("celery.app.task.Task.apply_async"):
        change_status(order_ids=[order.id], to="paid")
        change_status(order_ids=[order.id], to="cancelled")
    assert Order.objects.get(id=order.id).status == "cancelled" and uses(coupon) == (1, 1)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("second", ["operator", "expiry"])
def test_two_cancellations_at_once_give_back_once(order, coupon, second, settings):
    Order.objects.filter(id=order.id).update(created=timezone.now() - timedelta(seconds=settings.PAYMENT_TIMEOUT + 60))
    another_use(coupon)
    start, errors = threading.Barrier(2), []

    def run(cancel):
        start.wait(timeout=10)
        try:
            cancel()
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)
        finally:
            connections.close_all()

    cancellations = {
        "operator": lambda: change_status(order_ids=[order.id], to="cancelled"),
        "expiry": expire_unpaid_orders,
    }
    threads = [threading.Thread(target=run, args=(cancellations[kind],)) for kind in ("operator", second)]
    with patch("celery.app.task.Task.apply_async"):  # once, here: patches in two threads would leak one
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    assert not errors
    assert Order.objects.get(id=order.id).status == "cancelled" and uses(coupon) == (1, 1)
