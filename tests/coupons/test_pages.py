"""The coupon in the shopper's pages: applied in the cart, shown at checkout, kept on the order and its email."""

import re
from datetime import timedelta
from decimal import Decimal
from unittest.mock import patch

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from coupons.models import Coupon
from coupons.services import quote
from orders import emails
from orders.models import Order

D = Decimal


@pytest.fixture
def lamp(make_product):
    return make_product(name="Lamp", price=D("30.00"), stock=20)


@pytest.fixture
def shopping(client, lamp):
    """A shopper with two lamps (€60.00) in the cart."""
    client.post(reverse("cart:cart_add", args=[lamp.id]), {"quantity": 2})
    return client


def apply(client, code):
    return client.post(reverse("coupons:coupon_apply"), {"code": code}, follow=True)


def text(response):
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def test_a_fixed_coupon_worth_more_than_the_goods_says_what_it_takes_off(client, make_product, make_coupon):
    product = make_product(price=D("4.90"))
    client.post(reverse("cart:cart_add", args=[product.id]), {"quantity": 1})
    make_coupon(code="FIVE", kind=Coupon.Kind.AMOUNT, value=D("5.00"))
    assert "The coupon FIVE takes €4.90 off your goods (up to €5.00)." in text(apply(client, "FIVE"))


def test_a_coupon_goes_from_the_cart_to_the_thank_you_page_the_order_page_and_the_email(
    shopping, make_coupon, customer, settings
):
    settings.SHOP_FREE_SHIPPING_FROM, settings.SHOP_SHIPPING_COST = D("50.00"), D("4.90")
    make_coupon(code="SPRING", value=D("20"))
    cart = text(apply(shopping, " spring "))
    assert "The coupon SPRING takes €12.00 off your goods (20 % off)." in cart
    assert "Coupon SPRING −€12.00" in cart and "Total (incl. VAT) €52.90" in cart.replace("VAT )", "VAT)")

    checkout = text(shopping.get(reverse("orders:order_create")))
    assert "Coupon SPRING −€12.00" in checkout and "€52.90" in checkout

    with patch("celery.app.task.Task.apply_async"):
        thanks = shopping.post(reverse("orders:order_create"), {**customer, "discount": "59.99"})
    order = Order.objects.get()
    assert (order.discount, order.coupon_code, order.total) == (D("12.00"), "SPRING", D("52.90"))  # form ignored
    assert "Coupon SPRING −€12.00" in text(thanks) and order.number in text(thanks)
    assert "Coupon SPRING −€12.00" in text(shopping.get(order.get_absolute_url()))
    email = emails.message(order, emails.KINDS["confirmation"])
    assert "Coupon SPRING: −€12.00" in email.body and "Total: €52.90" in email.body
    assert "Coupon SPRING" in email.alternatives[0][0] and "−€12.00" in email.alternatives[0][0]
    # Used: the cart is empty and remembers no coupon.
    assert "SPRING" not in text(shopping.get(reverse("cart:cart_detail")))


def test_the_cart_says_when_a_change_leaves_the_minimum_unmet_and_takes_nothing_off(shopping, lamp, make_coupon):
    make_coupon(code="FIFTY", kind=Coupon.Kind.AMOUNT, value=D("5.00"), minimum_order=D("50.00"))
    apply(shopping, "FIFTY")
    shopping.post(reverse("cart:cart_update", args=[lamp.id]), {"quantity": 1})
    cart = text(shopping.get(reverse("cart:cart_detail")))
    assert "The coupon FIFTY needs goods worth at least €50.00: add €20.00 more to use it." in cart
    assert "−€5.00" not in cart
    checkout = shopping.get(reverse("orders:order_create"))
    assert "Remove the coupon or change your cart." in text(checkout) and "Place order" not in text(checkout)
    shopping.post(reverse("cart:cart_update", args=[lamp.id]), {"quantity": 2})
    assert "−€5.00" in text(shopping.get(reverse("cart:cart_detail")))  # still remembered


def test_a_coupon_used_up_between_the_cart_and_place_order_refuses_the_order(shopping, make_coupon, customer):
    coupon = make_coupon(code="LAST", max_uses=1)
    apply(shopping, "LAST")
    Coupon.objects.filter(id=coupon.id).update(uses=1)  # another shopper took the last one
    with patch("celery.app.task.Task.apply_async"):
        response = shopping.post(reverse("orders:order_create"), customer)
    assert response.status_code == 400 and "The coupon LAST has been used up." in text(response)
    assert not Order.objects.exists()


def discount_seen(page):
    """The checkout page's hidden discount_seen field, as the browser posts it back."""
    return dict(re.findall(r'<input type="hidden" name="(discount_seen)" value="([^"]*)"', page.content.decode()))


def test_a_discount_changed_since_the_checkout_page_refuses_the_order(shopping, make_coupon, customer):
    coupon = make_coupon(code="SPRING", value=D("20"))
    apply(shopping, "SPRING")
    seen = discount_seen(shopping.get(reverse("orders:order_create")))
    Coupon.objects.filter(id=coupon.id).update(value=D("10"))  # the operator changes it meanwhile
    with patch("celery.app.task.Task.apply_async"):
        response = shopping.post(reverse("orders:order_create"), {**customer, **seen})
    assert response.status_code == 400 and not Order.objects.exists()
    assert "The coupon SPRING now takes €6.00 off, not €12.00" in text(response)
    coupon.refresh_from_db()
    assert coupon.uses == 0
    with patch("celery.app.task.Task.apply_async"):  # the page now shows €6.00 off: placed as shown
        shopping.post(reverse("orders:order_create"), {**customer, **discount_seen(response)})
    assert Order.objects.get().discount == D("6.00")


def test_each_refusal_says_why_and_nothing_is_applied(shopping, make_coupon):
    make_coupon(code="BIG", minimum_order=D("100.00"))
    for typed, said in [
        ("NOPE", "There is no coupon “NOPE”."),
        ("BIG", "add €40.00 more, then apply the code again"),
        ("X" * 200, "That is not a coupon code"),
        ("SAVE\x00", "That is not a coupon code"),
        ("ＳＡＶＥ☃", "That is not a coupon code"),
    ]:
        response = apply(shopping, typed)
        assert response.status_code == 200 and said in text(response), typed
        assert "Remove the coupon" not in text(response)


def test_guessing_codes_is_rate_limited_without_a_lookup(shopping, make_coupon, settings):
    settings.RATE_LIMIT_COUPON = "3/600"
    cache.clear()
    make_coupon(code="REAL")
    for n in range(3):
        assert "There is no coupon" in text(apply(shopping, f"GUESS{n}"))
    with patch("coupons.views.quote") as lookup:
        response = apply(shopping, "REAL")
    lookup.assert_not_called()
    assert "Too many codes tried; try again in 10 minutes." in text(response)
    assert "coupon_code" not in shopping.session and "The coupon REAL" not in text(response)
    cache.clear()


def test_guesses_sent_at_once_are_counted_before_they_are_looked_up(shopping, make_coupon, settings):
    settings.RATE_LIMIT_COUPON = "1/600"
    cache.clear()
    make_coupon(code="REAL")
    assert "The coupon REAL takes" in text(apply(shopping, "REAL"))  # a code that applies does not count
    looked_up, look_up = [], quote

    def racing_lookup(code, **kwargs):
        looked_up.append(code)
        if len(looked_up) == 1:  # another guess from the same address arrives while this one is looked up
            apply(Client(), "GUESS2")
        return look_up(code, **kwargs)

    with patch("coupons.views.quote", racing_lookup):
        apply(shopping, "GUESS1")
    assert looked_up == ["GUESS1"]
    cache.clear()


def test_removing_the_coupon_restores_the_full_price(shopping, make_coupon):
    make_coupon(code="TEN")
    assert "−€6.00" in text(apply(shopping, "TEN"))
    response = shopping.post(reverse("coupons:coupon_remove"), follow=True)
    assert "The coupon was removed from your cart." in text(response) and "−€6.00" not in text(response)


def test_a_coupon_not_yet_valid_says_from_when(shopping, make_coupon):
    start = timezone.now() + timedelta(days=3)
    make_coupon(code="LATER", valid_from=start, valid_to=start + timedelta(days=3))
    assert "The coupon LATER is not valid yet: it can be used from " in text(apply(shopping, "later"))


def test_a_logged_in_shopper_is_told_in_the_cart_that_they_used_the_coupon(
    shopping, make_coupon, customer, django_user_model
):
    make_coupon(code="ONCE")
    shopping.force_login(django_user_model.objects.create_user("ada", "ada@example.com", "x"))
    apply(shopping, "ONCE")
    with patch("celery.app.task.Task.apply_async"):
        shopping.post(reverse("orders:order_create"), customer)
    assert Order.objects.get().coupon_code == "ONCE"
    shopping.post(reverse("cart:cart_add", args=[Order.objects.get().items.get().product_id]), {"quantity": 1})
    said = text(apply(shopping, "once"))
    assert "You have already used the coupon ONCE: it can be used once per customer." in said


def test_a_code_refused_for_the_minimum_says_to_apply_it_again_once_the_cart_is_enough(shopping, make_coupon):
    # Refused codes are not kept, so "add €40.00 more to use it" alone leaves the shopper expecting a discount.
    make_coupon(code="BIG", minimum_order=D("100.00"))
    cart = text(apply(shopping, "BIG"))
    assert "add €40.00 more, then apply the code again." in cart
    assert "coupon_code" not in shopping.session
