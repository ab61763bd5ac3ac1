"""What the shopper's payment panel says while a payment is checked, and once the time to pay is up (issue 25):
nothing reads like success before it is one; a dead end is an alert with the next step."""

import re
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from orders.models import Order
from orders.services import change_status
from payments.services import expire_unpaid_orders
from testkit.payments import approve_offline, place, started


@pytest.fixture(autouse=True)
def fresh_cache():
    cache.clear()  # the return page asks the provider at most every few seconds per checkout
    yield


@pytest.fixture
def order(make_product, customer):
    return place(make_product, customer)


def panel(response):
    found = re.search(r'<section class="card payment-panel[^>]*>(.*?)</section>', response.content.decode(), re.S)
    assert found, response.content.decode()
    return found.group(1)


def alert(html):
    found = re.search(r'<div class="alert-box[^"]*" role="alert"[^>]*>(.*?)</div>', html, re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(1))).strip() if found else None


@pytest.mark.parametrize("decision", ["approve", "decline"])
def test_a_payment_being_checked_never_reads_like_success(client, order, settings, decision):
    settings.PAYMENT_OFFLINE_CONFIRM_SECONDS = 60  # the provider has not told yet: approved or declined alike
    response, _ = approve_offline(client, started(order), decision=decision)
    shown = panel(client.get(response["Location"]))
    assert "Checking your payment" in shown and "Nothing is confirmed yet" in shown
    for success in ("invoice", "Paid", "Thank you", "confirmed."):
        assert success not in shown, success
    assert alert(shown) is None


def test_an_order_whose_time_to_pay_ran_out_is_an_alert_saying_to_order_again(client, order, settings):
    Order.objects.filter(id=order.id).update(created=timezone.now() - timedelta(seconds=settings.PAYMENT_TIMEOUT + 1))
    too_late = alert(panel(client.get(order.get_absolute_url())))  # not yet cancelled by the expiry
    assert too_late and too_late.startswith("The time to pay ran out") and "place the order again" in too_late
    assert expire_unpaid_orders() == [order.id]
    page = client.get(order.get_absolute_url())
    expired = alert(panel(page))
    assert expired and "so it was cancelled and its items went back on sale" in expired
    assert "place the order again: back to the shop" in expired
    assert f'href="{reverse("shop:product_list")}"' in panel(page)
    assert "Pay €" not in panel(page)


def test_an_order_an_operator_cancelled_in_time_is_no_alert(client, order):
    change_status(order_ids=[order.id], to=Order.Status.CANCELLED)
    shown = panel(client.get(order.get_absolute_url()))
    assert alert(shown) is None and "This order was cancelled: nothing more is due." in shown
