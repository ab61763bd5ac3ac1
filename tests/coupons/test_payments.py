"""A discounted order is payable with both providers: Stripe gets the discount as a one-off coupon of its own
(its line items cannot be negative), the offline provider the discounted total."""

import urllib.parse
from decimal import Decimal
from unittest.mock import patch

import pytest

from orders.models import Order
from orders.services import place_order
from payments.models import Payment
from payments.stripe_checkout import StripeCheckout
from testkit.payments import (
    STRIPE_SECRET_KEY,
    STRIPE_WEBHOOK_SECRET,
    FakeStripeHTTP,
    approve_offline,
    post_offline,
    post_stripe,
    started,
    stripe_event,
    stripe_session,
)


@pytest.fixture
def order(make_product, make_coupon, customer, settings):
    settings.SHOP_FREE_SHIPPING_FROM, settings.SHOP_SHIPPING_COST = Decimal("50.00"), Decimal("4.90")
    make_coupon(code="MUGS15", value=Decimal("15"))
    mug = make_product(name="Blue mug", price=Decimal("7.00"))
    teapot = make_product(name="Teapot", price=Decimal("20.50"))
    with patch("celery.app.task.Task.apply_async"):
        order = place_order(customer=customer, quantities={mug.id: 2, teapot.id: 1}, coupon_code="mugs15")
    # €34.50 of goods, 15 % off (€5.18, half up), €4.90 shipping: €34.22.
    assert (order.discount, order.total) == (Decimal("5.18"), Decimal("34.22"))
    return order


def test_stripe_gets_the_discount_as_a_one_off_coupon_and_the_amounts_add_up(order, settings, monkeypatch, client):
    settings.PAYMENT_PROVIDER = "stripe"
    settings.STRIPE_SECRET_KEY, settings.STRIPE_WEBHOOK_SECRET = STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET
    api = FakeStripeHTTP([(200, {"id": "coupon_1", "object": "coupon"}), (200, stripe_session(order=order))])
    monkeypatch.setattr(StripeCheckout, "http_client", api)
    payment = started(order)

    coupon_call, session_call = api.requests
    coupon = dict(urllib.parse.parse_qsl(coupon_call["data"]))
    assert coupon_call["url"] == "https://api.stripe.com/v1/coupons"
    assert coupon_call["headers"]["Idempotency-Key"] == f"myshop-coupon-{payment.id}"
    assert (coupon["amount_off"], coupon["currency"], coupon["duration"], coupon["max_redemptions"]) == (
        "518",
        "eur",
        "once",
        "1",
    )
    assert coupon["name"] == "Coupon MUGS15"
    sent = dict(urllib.parse.parse_qsl(session_call["data"]))
    assert sent["discounts[0][coupon]"] == "coupon_1"
    items = sum(
        int(sent[f"line_items[{n}][price_data][unit_amount]"]) * int(sent[f"line_items[{n}][quantity]"])
        for n in range(3)
    )
    assert "line_items[3][quantity]" not in sent  # no negative line
    assert (items, items - 518) == (3450 + 490, 3422)  # goods and shipping, less the coupon: the order's total

    paid = stripe_event("checkout.session.completed", stripe_session(order=order, payment_status="paid"))
    assert post_stripe(client, paid).status_code == 200
    assert Order.objects.get(id=order.id).status == "paid"


def test_the_offline_provider_takes_the_discounted_total(order, client):
    payment = started(order)
    assert payment.amount == Decimal("34.22")
    _, event = approve_offline(client, payment)
    assert event["checkout"]["amount"] == 3422
    assert post_offline(client, event).status_code == 200
    assert Order.objects.get(id=order.id).status == "paid"
    assert Payment.objects.get(id=payment.id).state == "succeeded"
