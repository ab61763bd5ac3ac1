"""Property-based: random shoppers doing random things never break the shop's invariants."""
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given, settings, strategies as st

from orders.models import Order, OrderItem
from shop.models import Product

quantities = st.one_of(st.integers(-3, 25).map(str), st.text(max_size=6), st.just(""), st.just("1e9"))
product_refs = st.one_of(st.integers(0, 2), st.integers(10**6, 10**6 + 2))  # index into catalog, or unknown id
field_values = st.one_of(st.text(max_size=60), st.just("Ada"), st.just("<b>x</b>\r\n"))
emails = st.one_of(st.emails(), st.text(max_size=30))
customers = st.fixed_dictionaries({
    "first_name": field_values, "last_name": field_values, "email": emails, "address": field_values,
    "postal_code": st.text(max_size=25), "city": field_values,
})
actions = st.lists(st.one_of(
    st.tuples(st.just("add"), product_refs, quantities),
    st.tuples(st.just("update"), product_refs, quantities),
    st.tuples(st.just("remove"), product_refs, st.just("")),
    st.tuples(st.just("checkout"), customers, st.booleans()),
), min_size=1, max_size=8)

INITIAL_STOCK = [3, 5, 1]


@pytest.fixture
def catalog(make_product):
    return [make_product(price=Decimal(price), stock=stock)
            for price, stock in zip(["9.99", "0.50", "120.00"], INITIAL_STOCK)]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=actions)
def test_random_shopping_keeps_the_invariants(catalog, steps):
    client = Client()
    for kind, target, value in steps:
        if kind == "checkout":
            customer = {**target, "email": target["email"]} if value else {**target, "email": "ok@example.com",
                                                                          "first_name": "Ok", "city": "Ok"}
            response = client.post(reverse("orders:order_create"), customer)
        else:
            product_id = catalog[target].id if target < len(catalog) else target
            url = reverse(f"cart:cart_{kind}", args=[product_id])
            response = client.post(url, {"quantity": value} if kind != "remove" else {})
        assert response.status_code < 500, (kind, target, value)
        for page in ("cart:cart_detail", "orders:order_create", "shop:product_list"):
            assert client.get(reverse(page)).status_code < 500

    for order in Order.objects.prefetch_related("items"):
        items = list(order.items.all())
        assert items, f"order {order.id} has no items"
        assert order.get_total_cost() == sum(item.price * item.quantity for item in items)
        assert all(item.quantity >= 1 for item in items)
    for product, initial in zip(catalog, INITIAL_STOCK):
        product.refresh_from_db()
        ordered = OrderItem.objects.filter(product=product).aggregate(n=Sum("quantity"))["n"] or 0
        assert product.stock >= 0 and product.stock + ordered == initial  # nothing oversold, nothing lost
    assert not Product.objects.filter(stock__lt=0).exists()
