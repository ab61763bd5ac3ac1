"""Property-based: random shoppers (and an operator cancelling) never break the shop's invariants, and
they really do place orders: the invariants are checked over real orders, not an empty table."""

from collections import Counter
from decimal import Decimal
from unittest.mock import patch

import pytest
from django.db import transaction
from django.db.models import Sum
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from orders.models import Order, OrderItem
from orders.services import change_status
from shop.models import Product, StockMovement
from shop.money import shipping_cost

GOOD_CUSTOMER = {
    "first_name": "Ok",
    "last_name": "Shopper",
    "email": "ok@example.com",
    "address": "1 Road",
    "postal_code": "10115",
    "city": "Ok",
}
quantities = st.one_of(
    st.integers(1, 3).map(str), st.integers(-3, 25).map(str), st.text(max_size=6), st.just(""), st.just("1e9")
)
product_refs = st.one_of(st.integers(0, 2), st.integers(0, 2), st.integers(10**6, 10**6 + 2))
field_values = st.one_of(st.text(max_size=60), st.just("Ada"), st.just("<b>x</b>\r\n"))
hostile_customers = st.fixed_dictionaries(
    {
        "first_name": field_values,
        "last_name": field_values,
        "email": st.one_of(st.emails(), st.text(max_size=30)),
        "address": field_values,
        "postal_code": st.text(max_size=25),
        "city": field_values,
    }
)
good_add = st.tuples(st.just("add"), st.integers(0, 2), st.integers(1, 2).map(str))
good_checkout = st.tuples(st.just("checkout"), st.just(GOOD_CUSTOMER), st.just(""))
any_step = st.one_of(
    good_add,
    good_checkout,
    st.tuples(st.just("add"), product_refs, quantities),
    st.tuples(st.just("update"), product_refs, quantities),
    st.tuples(st.just("remove"), product_refs, st.just("")),
    st.tuples(st.just("checkout"), st.one_of(st.just(GOOD_CUSTOMER), hostile_customers), st.just("")),
    st.tuples(st.just("cancel"), st.integers(0, 5), st.just("")),
)
# Random steps around one good add and checkout: every example tries to place an order, anywhere in its run.
steps = st.builds(
    lambda before, add, checkout, after: [*before, add, checkout, *after],
    st.lists(any_step, max_size=5),
    good_add,
    good_checkout,
    st.lists(any_step, max_size=5),
)

INITIAL_STOCK = [6, 9, 2]
examples = {"run": 0, "with_orders": 0, "refused": Counter()}


@pytest.fixture(scope="module", autouse=True)
def most_examples_place_real_orders():
    yield
    if examples["run"] >= 20:  # a share that proves the invariants held over real orders
        # With why good steps were refused (_note_refusal), so that a run placing too few orders says why.
        assert examples["with_orders"] >= examples["run"] * 0.5, examples


def _note_refusal(kind, response, context):
    """Count the answers to good steps that were not the usual one (a checkout of a filled cart not answered
    with the thank-you page, an add of one not sent on to the cart) by what the shop said: a run placing too few
    orders then says why. Some are expected (a line sold out)."""
    context = context or {}
    said = context["form"].errors.as_text() if "form" in context and context["form"].errors else ""
    said += " ".join(str(message) for message in context.get("messages", []))
    examples["refused"][f"{kind}: {response.status_code} {response.get('Location', '')} {said[:120]}"] += 1


@settings(max_examples=45, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=steps)
def test_random_shopping_keeps_the_invariants(make_product, steps):
    # Each example starts from the same empty shop and is undone after it: it counts only its own orders,
    # and a failing one replays alone.
    with transaction.atomic():
        catalog = [
            make_product(price=Decimal(price), stock=stock)
            for price, stock in zip(["9.99", "0.50", "120.00"], INITIAL_STOCK)
        ]
        _shop_and_check(catalog, steps)
        transaction.set_rollback(True)


def _shop_and_check(catalog, steps):
    client = Client()
    with patch("celery.app.task.Task.apply_async"):
        for kind, target, value in steps:
            if kind == "cancel":
                placed = list(Order.objects.order_by("id").values_list("id", flat=True))
                if placed:
                    change_status(order_ids=[placed[target % len(placed)]], to="cancelled")
                continue
            if kind == "checkout":
                had_cart = bool(client.session.get("cart"))
                response = client.post(reverse("orders:order_create"), target)
                if target is GOOD_CUSTOMER and had_cart and response.status_code != 200:
                    _note_refusal(kind, response, response.context)
            else:
                product_id = catalog[target].id if target < len(catalog) else target
                url = reverse(f"cart:cart_{kind}", args=[product_id])
                response = client.post(url, {"quantity": value} if kind != "remove" else {})
                good_add = (kind, value) == ("add", "1") and target < len(catalog)
                if good_add and response.get("Location") != reverse("cart:cart_detail"):
                    # The page it was sent back to says why (its messages).
                    sent_to = response.get("Location")
                    _note_refusal(kind, response, client.get(sent_to).context if sent_to else None)
            assert response.status_code < 500, (kind, target, value)
            for page in ("cart:cart_detail", "orders:order_create", "shop:product_list"):
                assert client.get(reverse(page)).status_code < 500

    orders = list(Order.objects.prefetch_related("items"))
    examples["run"] += 1
    examples["with_orders"] += bool(orders)
    event(f"orders placed: {min(len(orders), 3)}{'+' if len(orders) > 3 else ''}")
    for order in orders:
        items = list(order.items.all())
        assert items, f"order {order.id} has no items"
        assert all(item.quantity >= 1 for item in items)
        assert order.subtotal == sum(item.price * item.quantity for item in items)
        assert order.total == order.subtotal + order.shipping_cost == order.subtotal + shipping_cost(order.subtotal)
    for product, initial in zip(catalog, INITIAL_STOCK):
        product.refresh_from_db()
        live = Order.objects.exclude(status="cancelled")
        sold = OrderItem.objects.filter(product=product, order__in=live).aggregate(n=Sum("quantity"))["n"] or 0
        ledger = StockMovement.objects.filter(product=product).aggregate(n=Sum("delta"))["n"]
        # Nothing oversold, nothing lost: what is on the shelf plus what live orders hold is what there was,
        # and the ledger explains the stock unit for unit.
        assert product.stock >= 0 and product.stock + sold == initial == ledger + sold
    assert not Product.objects.filter(stock__lt=0).exists()
