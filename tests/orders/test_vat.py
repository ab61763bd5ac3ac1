"""VAT per rate (orders/vat.py): the discount and shipping follow the goods' rates, every part is whole cents,
the parts add up to the order's total, and VAT on a discounted order is VAT on what was actually paid."""

from decimal import Decimal
from unittest.mock import patch

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orders import vat
from orders.services import place_order
from shop.models import Product

D = Decimal
RATES = [D("19"), D("7"), D("0"), D("5.5"), D("20")]
cents = st.integers(0, 10_000_000).map(lambda n: D(n) / 100)


def as_table(breakdown):
    return [(part.rate, part.discount, part.shipping, part.net, part.vat, part.gross) for part in breakdown.parts]


# --- Worked examples (gross prices, the default) -----------------------------------------------------------


@pytest.mark.any_database
@pytest.mark.parametrize(
    ("goods", "discount", "shipping", "expected"),
    [
        # One rate: VAT is 19/119 of what was paid.
        ({"19": "41.00"}, "0", "4.90", [("19", "0", "4.90", "38.57", "7.33", "45.90")]),
        # 19 % goods 60 and 7 % goods 40; €10 off splits 6/4; shipping follows the discounted goods, 54:36.
        (
            {"19": "60.00", "7": "40.00"},
            "10.00",
            "4.90",
            [("19", "6.00", "2.94", "47.85", "9.09", "56.94"), ("7", "4.00", "1.96", "35.48", "2.48", "37.96")],
        ),
        # A cent that cannot be shared goes to the larger remainder (the discount's to the 7 % goods, 2/3 of
        # it); on a tie (shipping over 0.01 and 0.01 left) to the higher rate.
        (
            {"19": "0.01", "7": "0.02"},
            "0.01",
            "0.01",
            [("19", "0.00", "0.01", "0.02", "0.00", "0.02"), ("7", "0.01", "0.00", "0.01", "0.00", "0.01")],
        ),
        # Goods discounted to nothing: shipping still follows them, as priced.
        (
            {"19": "30.00", "7": "10.00"},
            "40.00",
            "4.00",
            [("19", "30.00", "3.00", "2.52", "0.48", "3.00"), ("7", "10.00", "1.00", "0.93", "0.07", "1.00")],
        ),
    ],
)
def test_worked_examples(goods, discount, shipping, expected):
    breakdown = vat.split(goods, discount=D(discount), shipping=D(shipping))
    assert as_table(breakdown) == [tuple(D(value) for value in row) for row in expected]


@pytest.mark.any_database
def test_prices_without_vat_get_it_on_top():
    breakdown = vat.split({D("19"): D("50.00"), D("7"): D("50.00")}, shipping=D("5.00"), prices_include_vat=False)
    assert as_table(breakdown) == [
        (D("19"), D("0"), D("2.50"), D("52.50"), D("9.98"), D("62.48")),
        (D("7"), D("0"), D("2.50"), D("52.50"), D("3.68"), D("56.18")),
    ]
    assert breakdown.net == D("105.00") and breakdown.gross == D("118.66")


@pytest.mark.any_database
@pytest.mark.parametrize(
    ("goods", "discount", "message"),
    [({}, "0", "without lines"), ({"19": "10.00"}, "10.01", "exceeds"), ({"19": "10.00"}, "-1", "negative")],
)
def test_impossible_orders_are_refused_with_a_reason(goods, discount, message):
    with pytest.raises(ValueError, match=message):
        vat.split(goods, discount=D(discount))


# --- Properties ----------------------------------------------------------------------------------------------


@st.composite
def orders(draw):
    rates = draw(st.lists(st.sampled_from(RATES), min_size=1, max_size=4, unique=True))
    goods = {rate: draw(cents) for rate in rates}
    discount = draw(st.integers(0, int(sum(goods.values()) * 100)).map(lambda n: D(n) / 100))
    return goods, discount, draw(cents), draw(st.booleans())


@pytest.mark.any_database
@given(orders())
def test_the_parts_add_up_to_the_order_to_the_cent(order):
    goods, discount, shipping, prices_include_vat = order
    breakdown = vat.split(goods, discount=discount, shipping=shipping, prices_include_vat=prices_include_vat)
    paid_for = sum(goods.values()) - discount + shipping
    assert (breakdown.gross if prices_include_vat else breakdown.net) == paid_for
    assert sum(part.discount for part in breakdown.parts) == discount
    assert sum(part.shipping for part in breakdown.parts) == shipping
    for part in breakdown.parts:
        assert part.net + part.vat == part.gross
        assert all(amount == amount.quantize(D("0.01")) and amount >= 0 for amount in (part.net, part.vat))
        assert part.discount <= part.goods


@pytest.mark.any_database
@given(orders())
def test_vat_on_a_discounted_order_is_vat_on_the_discounted_gross(order):
    goods, discount, shipping, _ = order
    breakdown = vat.split(goods, discount=discount, shipping=shipping)
    for part in breakdown.parts:
        paid_at_rate = part.goods - part.discount + part.shipping
        assert part.vat == (paid_at_rate * part.rate / (100 + part.rate)).quantize(D("0.01"), "ROUND_HALF_UP")
    if len(goods) == 1:  # one rate: exactly the VAT of the total paid
        [rate] = goods
        paid = sum(goods.values()) - discount + shipping
        assert breakdown.vat == (paid * rate / (100 + rate)).quantize(D("0.01"), "ROUND_HALF_UP")


@pytest.mark.any_database
@given(st.lists(st.integers(0, 10**6).map(D), min_size=1, max_size=6), cents)
def test_a_spread_is_in_whole_cents_that_add_up_and_never_stray_a_cent_from_the_proportion(weights, amount):
    shares = vat.spread(amount, weights)
    assert sum(shares) == amount and all(share >= 0 for share in shares)
    if sum(weights):
        for weight, share in zip(weights, shares, strict=True):
            assert abs(share - amount * weight / sum(weights)) < D("0.01")


# --- Orders -----------------------------------------------------------------------------------------------


def test_checkout_freezes_each_lines_vat_rate(make_product, customer, settings):
    tea = make_product(name="Tea", price=D("8.00"), stock=5, vat_class=Product.VatClass.REDUCED)
    pot = make_product(name="Teapot", price=D("20.50"), stock=5)
    with patch("celery.app.task.Task.apply_async"):
        order = place_order(customer=customer, quantities={tea.id: 2, pot.id: 1})
    settings.SHOP_VAT_RATE, settings.SHOP_VAT_REDUCED_RATE = D("21"), D("9")  # rates change later
    assert {item.product.name: item.vat_rate for item in order.items.all()} == {"Tea": D("7"), "Teapot": D("19")}
    breakdown = vat.order_breakdown(order)
    assert [part.rate for part in breakdown.parts] == [D("19"), D("7")]
    assert breakdown.gross == order.total == D("41.40")


def test_a_discounted_orders_vat_comes_from_its_lines_and_adds_up_to_its_total(make_product, customer):
    tea = make_product(name="Tea", price=D("8.00"), stock=5, vat_class=Product.VatClass.REDUCED)
    pot = make_product(name="Teapot", price=D("20.50"), stock=5)
    with patch("celery.app.task.Task.apply_async"):
        order = place_order(customer=customer, quantities={tea.id: 2, pot.id: 2})
    order.discount, order.coupon_code = D("5.70"), "SPRING10"  # as a coupon sets them (10 % of €57.00)
    order.total = order.subtotal - order.discount + order.shipping_cost
    breakdown = vat.order_breakdown(order)
    assert breakdown.gross == order.total == D("51.30")  # free shipping from €50 of goods
    assert [(part.rate, part.discount, part.vat) for part in breakdown.parts] == [
        (D("19"), D("4.10"), D("5.89")),  # (41.00 - 4.10) * 19/119
        (D("7"), D("1.60"), D("0.94")),  # (16.00 - 1.60) * 7/107
    ]
