"""The coupon rules: what a code takes off, and the exact message when it takes nothing."""

from datetime import timedelta
from decimal import Decimal
from unittest.mock import patch

import pytest
from django.db import IntegrityError
from django.utils import timezone

from coupons.admin import CouponForm
from coupons.models import Coupon, CustomerUse
from coupons.services import CouponError, clean_code, discount_for, quote, redeem, shipping_after
from orders.models import Order
from orders.services import OrderPlacementError, change_status, place_order

D = Decimal


def problem_of(code, goods="60.00", customer=None):
    return quote(code, goods=D(goods), customer=customer).problem


def test_a_percent_coupon_takes_its_share_of_the_goods_rounded_to_cents(make_coupon):
    coupon = make_coupon(code="TEN", value=D("10"))
    assert discount_for(coupon, D("33.35")) == D("3.34")  # 3.335 rounds half up
    assert quote("ten", goods=D("33.35")).discount == D("3.34")  # any case finds it


def test_a_fixed_discount_never_exceeds_the_goods(make_coupon):
    coupon = make_coupon(kind=Coupon.Kind.AMOUNT, value=D("25.00"))
    assert discount_for(coupon, D("60.00")) == D("25.00")
    assert discount_for(coupon, D("19.90")) == D("19.90")


def test_a_coupon_says_its_discount_to_the_cent_it_gives(make_coupon):
    assert make_coupon(value=D("12.5")).discount_text == "12.5 %"  # not rounded to "12 %"
    assert make_coupon(value=D("10.00")).discount_text == "10 %"
    assert make_coupon(kind=Coupon.Kind.AMOUNT, value=D("5")).discount_text == "€5.00"


def test_free_shipping_counts_the_goods_after_the_discount(settings):
    settings.SHOP_FREE_SHIPPING_FROM, settings.SHOP_SHIPPING_COST = D("50.00"), D("4.90")
    assert shipping_after(D("55.00"), D("0")) == 0
    assert shipping_after(D("55.00"), D("10.00")) == D("4.90")  # €45 of goods after the discount
    assert shipping_after(D("20.00"), D("20.00")) == D("4.90")  # goods discounted to nothing still ship


def test_each_reason_a_code_gives_nothing_has_its_own_message(make_coupon):
    now = timezone.now()
    make_coupon(code="OFF", active=False)
    make_coupon(code="SOON", valid_from=now + timedelta(days=2), valid_to=now + timedelta(days=9))
    make_coupon(code="OLD", valid_from=now - timedelta(days=9), valid_to=now - timedelta(days=2))
    make_coupon(code="BIG", minimum_order=D("80.00"))
    Coupon.objects.filter(id=make_coupon(code="GONE", max_uses=2).id).update(uses=2)
    mine = make_coupon(code="MINE")
    CustomerUse.objects.create(coupon=mine, customer_key="account:7", uses=1)

    assert problem_of("NOPE") == "There is no coupon “NOPE”. Check the code and try again."
    assert problem_of("off") == "The coupon OFF is not active."
    assert problem_of("SOON").startswith("The coupon SOON is not valid yet: it can be used from ")
    assert problem_of("OLD").startswith("The coupon OLD has expired (it was valid until ")
    assert problem_of("BIG", "60.00") == (
        "The coupon BIG needs goods worth at least €80.00: add €20.00 more to use it."
    )
    assert problem_of("GONE") == "The coupon GONE has been used up."
    assert problem_of("MINE", customer="account:7") == (
        "You have already used the coupon MINE: it can be used once per customer."
    )
    assert problem_of("MINE", customer="account:8") == ""


@pytest.mark.any_database
@pytest.mark.parametrize(
    "typed",
    ["A" * 200, "SAVE\x00", "SAVE 10", "ＳＡＶＥ", "💸", "SAVE\n10", "", "   "],
    ids=["200 characters", "NUL", "space", "fullwidth", "emoji", "newline", "empty", "blank"],
)
def test_what_cannot_be_a_code_gets_a_clear_message_without_a_lookup(typed):
    with pytest.raises(CouponError) as refused:
        clean_code(typed)
    assert str(refused.value) in (
        "Enter a coupon code.",
        "That is not a coupon code: codes have at most 40 letters, digits and dashes, without spaces.",
    )


def test_codes_are_stored_trimmed_and_unique_ignoring_case(make_coupon):
    assert make_coupon(code="  Spring ").code == "Spring"
    with pytest.raises(IntegrityError):
        make_coupon(code="SPRING")


def admin_form(**fields):
    now = timezone.now()
    data = {
        "code": "WINTER",
        "active": "on",
        "valid_from": now.strftime("%Y-%m-%d 00:00"),
        "valid_to": (now + timedelta(days=5)).strftime("%Y-%m-%d 00:00"),
        "kind": "percent",
        "value": "10",
        "minimum_order": "0",
        "max_uses": "",
        "max_uses_per_customer": "1",
        **fields,
    }
    return CouponForm(data)


def test_the_admin_form_says_what_is_wrong(make_coupon):
    make_coupon(code="taken")
    assert admin_form().is_valid()
    errors = admin_form(valid_to="2020-01-01 00:00").errors
    assert errors["valid_to"] == ["The end must come after the start (“valid from”)."]
    assert admin_form(value="150").errors["value"] == ["A percent discount is a whole number from 1 to 100, like 10."]
    assert admin_form(kind="amount", value="0").errors["value"] == ["Enter a value above 0."]
    assert admin_form(code="TAKEN").errors["__all__"] == ["A coupon with this code exists already (codes ignore case)."]
    assert "code" in admin_form(code="TWO WORDS").errors
    for cap in ("max_uses", "max_uses_per_customer"):  # 0 would refuse every order, "already used 0 times"
        assert admin_form(**{cap: "0"}).errors[cap] == ["Leave it empty for no limit, or allow at least 1 use."]


# --- Placing an order with a coupon -------------------------------------------------------------------------


def place(customer, quantities, **kwargs):
    with patch("celery.app.task.Task.apply_async"):
        return place_order(customer=customer, quantities=quantities, **kwargs)


def test_the_order_keeps_the_discount_and_charges_goods_less_discount_plus_shipping(
    make_product, make_coupon, customer, settings
):
    settings.SHOP_FREE_SHIPPING_FROM, settings.SHOP_SHIPPING_COST = D("50.00"), D("4.90")
    coupon = make_coupon(code="Spring", value=D("20"))
    lamp = make_product(price=D("30.00"))
    order = place(customer, {lamp.id: 2}, coupon_code="spring")
    # €60 of goods, €12 off: €48 ships at the flat rate (the threshold counts the goods after the discount).
    assert (order.subtotal, order.discount, order.shipping_cost, order.total) == (
        D("60.00"),
        D("12.00"),
        D("4.90"),
        D("52.90"),
    )
    assert (order.coupon, order.coupon_code) == (coupon, "Spring")
    coupon.refresh_from_db()
    assert coupon.uses == 1
    assert CustomerUse.objects.get(coupon=coupon).customer_key == "mailbox:ada@example.com"


def test_a_coupon_that_stopped_applying_refuses_the_order_and_saves_nothing(make_product, make_coupon, customer):
    coupon = make_coupon(code="LATE", minimum_order=D("50.00"))
    lamp = make_product(price=D("30.00"), stock=5)
    with pytest.raises(OrderPlacementError) as refused:
        place(customer, {lamp.id: 1}, coupon_code="LATE")
    assert str(refused.value).startswith("The coupon LATE needs goods worth at least €50.00: add €20.00 more")
    assert "Your order was not placed" in str(refused.value)
    lamp.refresh_from_db()
    coupon.refresh_from_db()
    assert (Order.objects.count(), lamp.stock, coupon.uses, CustomerUse.objects.count()) == (0, 5, 0, 0)


def test_an_order_failing_for_another_reason_takes_no_use(make_product, make_coupon, customer):
    coupon = make_coupon(code="KEEP")
    lamp = make_product(stock=1)
    with pytest.raises(OrderPlacementError, match="only 1 left"):
        place(customer, {lamp.id: 2}, coupon_code="KEEP")
    coupon.refresh_from_db()
    assert coupon.uses == 0 and not CustomerUse.objects.filter(uses__gt=0).exists()


def test_the_per_customer_cap_counts_one_mailbox_however_written(make_product, make_coupon, customer):
    make_coupon(code="ONCE", max_uses_per_customer=1)
    lamp = make_product(stock=10)
    place(customer, {lamp.id: 1}, coupon_code="ONCE")
    with pytest.raises(OrderPlacementError, match="You have already used the coupon ONCE"):
        place({**customer, "email": "Ada+shop@Example.com"}, {lamp.id: 1}, coupon_code="ONCE")
    assert place({**customer, "email": "bob@example.com"}, {lamp.id: 1}, coupon_code="ONCE").discount


def test_the_per_customer_cap_counts_the_mailbox_of_a_logged_in_shopper_too(
    make_product, make_coupon, customer, django_user_model
):
    coupon = make_coupon(code="ONCE", max_uses_per_customer=1)
    ada = django_user_model.objects.create_user("ada", "ada@example.com", "pw")
    lamp = make_product(stock=10)
    place(customer, {lamp.id: 1}, coupon_code="ONCE", customer_account=ada)
    with pytest.raises(OrderPlacementError, match="You have already used the coupon ONCE"):
        place(customer, {lamp.id: 1}, coupon_code="ONCE")  # the same mailbox, logged out
    with pytest.raises(OrderPlacementError, match="You have already used the coupon ONCE"):
        place({**customer, "email": "ada.other@example.com"}, {lamp.id: 1}, coupon_code="ONCE", customer_account=ada)
    Coupon.objects.filter(id=coupon.id).update(uses=2)  # another customer's use too: one is given back
    with patch("celery.app.task.Task.apply_async"):
        change_status(order_ids=list(Order.objects.values_list("id", flat=True)), to="cancelled")
    coupon.refresh_from_db()  # the unpaid order gives back one use, under its account and its mailbox
    assert (coupon.uses, set(CustomerUse.objects.values_list("uses", flat=True))) == (1, {0})
    assert place(customer, {lamp.id: 1}, coupon_code="ONCE").discount


def test_redeem_takes_the_total_cap_exactly(make_coupon):
    coupon = make_coupon(code="TWO", max_uses=2, max_uses_per_customer=None)
    redeem("TWO", goods=D("10"), customer="mailbox:a@example.com")
    redeem("TWO", goods=D("10"), customer="mailbox:a@example.com")
    with pytest.raises(CouponError, match="has been used up"):
        redeem("TWO", goods=D("10"), customer="mailbox:b@example.com")
    coupon.refresh_from_db()
    assert coupon.uses == 2


def test_the_free_shipping_note_counts_the_goods_to_add_before_the_discount(make_coupon, settings):
    settings.SHOP_FREE_SHIPPING_FROM, settings.SHOP_SHIPPING_COST = D("50.00"), D("4.90")
    make_coupon(code="PCT", value=D("20"))
    make_coupon(code="FIVE", kind=Coupon.Kind.AMOUNT, value=D("5.00"))
    make_coupon(code="ALL", value=D("100"))
    # €60 less 20 % is €48: €2.50 more of goods (€2.00 after the discount) ships free.
    assert quote("PCT", goods=D("60.00")).free_shipping_gap == D("2.50")
    assert quote("FIVE", goods=D("50.00")).free_shipping_gap == D("5.00")
    assert quote("ALL", goods=D("60.00")).free_shipping_gap is None  # free goods never reach the threshold
