from decimal import Decimal

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.urls import reverse

from cart.cart import SESSION_KEY, Cart, CartError
from cart.forms import CartAddProductForm, CartLineForm
from shop.stock import count


@pytest.fixture
def session(db):
    return SessionStore()


def test_add_accumulates_and_totals_use_catalog_prices(session, make_product):
    pen = make_product(price=Decimal("1.50"))
    book = make_product(price=Decimal("12.00"))
    cart = Cart(session)
    cart.add(pen, 2)
    cart.add(pen, 1)
    cart.add(book, 1)
    assert cart.quantities() == {pen.id: 3, book.id: 1}
    assert len(cart) == 4
    assert cart.total() == Decimal("16.50")


def test_quantities_survive_the_json_session_round_trip(session, make_product):
    pen = make_product()
    Cart(session).add(pen, 2)
    session.save()
    reloaded = SessionStore(session_key=session.session_key)
    assert Cart(reloaded).quantities() == {pen.id: 2}


def test_override_sets_the_quantity(session, make_product):
    pen = make_product()
    cart = Cart(session)
    cart.add(pen, 4)
    cart.add(pen, 2, override=True)
    assert cart.quantities() == {pen.id: 2}


@pytest.mark.parametrize("quantity", [0, -1])
def test_quantity_below_one_is_refused(session, make_product, quantity):
    with pytest.raises(CartError, match="at least 1"):
        Cart(session).add(make_product(), quantity)


def test_quantity_above_the_maximum_is_refused(session, make_product, settings):
    settings.CART_MAX_QUANTITY = 5
    cart = Cart(session)
    product = make_product(stock=100)
    cart.add(product, 5)
    with pytest.raises(CartError, match="at most 5"):
        cart.add(product, 1)
    assert cart.quantities() == {product.id: 5}


def test_quantity_above_stock_is_refused(session, make_product):
    product = make_product(stock=3)
    with pytest.raises(CartError, match="Only 3"):
        Cart(session).add(product, 4)


def test_sold_out_or_unavailable_product_cannot_be_added(session, make_product):
    with pytest.raises(CartError, match="not available"):
        Cart(session).add(make_product(stock=0), 1)
    with pytest.raises(CartError, match="not available"):
        Cart(session).add(make_product(available=False), 1)


def test_remove_and_clear(session, make_product):
    pen, book = make_product(), make_product()
    cart = Cart(session)
    cart.add(pen, 1)
    cart.add(book, 1)
    cart.remove(pen.id)
    assert cart.quantities() == {book.id: 1}
    cart.clear()
    assert not cart and SESSION_KEY not in session


def test_sync_drops_deleted_and_unavailable_products_and_flags_short_stock(session, make_product):
    kept, deleted, hidden, scarce, sold_out = (make_product(stock=5) for _ in range(5))
    cart = Cart(session)
    for product in (kept, deleted, hidden, scarce, sold_out):
        cart.add(product, 3)
    deleted.stock_movements.all().delete()  # a product never sold may be deleted
    deleted.delete()
    hidden.available = False
    hidden.save()
    count(product_id=scarce.id, counted=1, by=None)  # stock-takes meanwhile
    count(product_id=sold_out.id, counted=0, by=None)

    notices = Cart(session).sync()

    # Short stock is reported but the shopper's choice is kept: checkout refuses it with the same words.
    assert Cart(session).quantities() == {kept.id: 3, scarce.id: 3, sold_out.id: 3}
    assert len(notices) == 4
    assert any(hidden.name in notice and "removed" in notice for notice in notices)
    assert any(scarce.name in notice and "only 1 left" in notice for notice in notices)
    assert any(sold_out.name in notice and "sold out" in notice for notice in notices)


def test_tampered_session_data_is_ignored_not_a_crash(session, make_product):
    product = make_product()
    session[SESSION_KEY] = {
        "abc": {"quantity": 1},
        str(product.id): {"quantity": 2, "price": "NaN"},
        "7": {"quantity": "many"},
        "8": {"quantity": -3},
        "9": {"quantity": True},
        "10": None,
        "11": 5,
        "-4": {"quantity": 1},
    }
    assert Cart(session).quantities() == {product.id: 2}
    assert Cart(session).sync() == []  # an unreadable remembered price is simply replaced
    session[SESSION_KEY] = ["not", "a", "dict"]
    assert Cart(session).quantities() == {}


@pytest.mark.parametrize(
    "raw, valid",
    [
        ("1", True),
        ("20", True),
        ("0", False),
        ("-2", False),
        ("21", False),
        ("abc", False),
        ("", False),
        ("1e3", False),
    ],
)
def test_add_form_validates_quantity_shape(raw, valid):
    assert CartAddProductForm({"quantity": raw}).is_valid() is valid


@pytest.mark.parametrize("raw, valid", [("0", True), ("20", True), ("-1", False), ("21", False), ("x", False)])
def test_line_form_takes_zero_to_remove_a_line(raw, valid):
    form = CartLineForm({"quantity": raw})
    assert form.is_valid() is valid
    assert valid or form.errors["quantity"] == ["Enter a whole number from 0 to 20 (0 removes the item)."]


def test_stale_lines_are_those_asking_more_than_the_stock_left(session, make_product):
    plenty, scarce, sold_out = make_product(stock=5), make_product(stock=5), make_product(stock=5)
    cart = Cart(session)
    for product in (plenty, scarce, sold_out):
        cart.add(product, 3)
    count(product_id=scarce.id, counted=2, by=None)
    count(product_id=sold_out.id, counted=0, by=None)

    synced = Cart(session)
    assert synced.sync(report_stale=False) == []
    for stale in (Cart(session).stale_lines(), synced.stale_lines()):  # as read, and after sync
        assert [(line.product.id, line.in_stock, line.problem) for line in stale] == [
            (scarce.id, 2, "Only 2 left"),
            (sold_out.id, 0, "Sold out"),
        ]
    assert Cart(session).stale_lines()[0].quantity == 3  # the shopper's choice is kept until changed


def test_a_line_exactly_at_the_stock_left_is_not_stale(session, make_product):
    product = make_product(stock=3)
    cart = Cart(session)
    cart.add(product, 3)
    assert cart.stale_lines() == [] and cart.lines[0].problem == ""


def test_sync_reports_stale_lines_unless_told_not_to(session, make_product):
    lamp = make_product(name="Lamp", stock=5)
    Cart(session).add(lamp, 3)
    count(product_id=lamp.id, counted=1, by=None)
    assert Cart(session).sync() == ["“Lamp”: only 1 left. Please change the quantity or remove it."]
    assert Cart(session).sync(report_stale=False) == []


@pytest.mark.parametrize(
    "threshold, cost, subtotal, gap",
    [
        ("50.00", "4.90", "21.00", Decimal("29.00")),
        ("50.00", "4.90", "49.99", Decimal("0.01")),
        ("50.00", "4.90", "50.00", Decimal("0.00")),
        ("50.00", "4.90", "80.00", Decimal("0.00")),
        (None, "4.90", "21.00", None),  # never free
        ("50.00", "0.00", "21.00", None),  # always free: nothing to reach
    ],
)
def test_free_shipping_gap(session, make_product, settings, threshold, cost, subtotal, gap):
    settings.SHOP_FREE_SHIPPING_FROM = Decimal(threshold) if threshold else None
    settings.SHOP_SHIPPING_COST = Decimal(cost)
    cart = Cart(session)
    cart.add(make_product(price=Decimal(subtotal)), 1)
    assert cart.free_shipping_gap() == gap


# --- views ------------------------------------------------------------------------------------------------


def test_add_view_redirects_to_cart_and_header_shows_count_and_total(client, make_product):
    product = make_product(price=Decimal("4.25"))
    response = client.post(reverse("cart:cart_add", args=[product.id]), {"quantity": 2})
    assert response.status_code == 302 and response.url == reverse("cart:cart_detail")
    page = client.get(reverse("shop:product_list")).content.decode()
    assert "2 items" in page and "€8.50" in page


def test_add_view_with_invalid_quantity_shows_error_and_changes_nothing(client, make_product):
    product = make_product(stock=2)
    response = client.post(reverse("cart:cart_add", args=[product.id]), {"quantity": 3}, follow=True)
    assert "Only 2" in response.content.decode()
    assert client.session.get(SESSION_KEY, {}) == {}


def test_add_view_for_unknown_product_is_404(client, db):
    assert client.post(reverse("cart:cart_add", args=[999999]), {"quantity": 1}).status_code == 404


def test_update_and_remove_views(client, make_product):
    product = make_product(stock=10)
    client.post(reverse("cart:cart_add", args=[product.id]), {"quantity": 1})
    client.post(reverse("cart:cart_update", args=[product.id]), {"quantity": 6})
    assert Cart(client.session).quantities() == {product.id: 6}
    client.post(reverse("cart:cart_remove", args=[product.id]))
    assert Cart(client.session).quantities() == {}


def test_cart_page_lists_lines_and_reports_dropped_products(client, make_product):
    kept = make_product(name="Kept lamp", price=Decimal("3.00"))
    gone = make_product(name="Gone vase")
    client.post(reverse("cart:cart_add", args=[kept.id]), {"quantity": 2})
    client.post(reverse("cart:cart_add", args=[gone.id]), {"quantity": 1})
    gone.available = False
    gone.save()
    page = client.get(reverse("cart:cart_detail")).content.decode()
    assert "Kept lamp" in page and "€6.00" in page
    assert "“Gone vase” is no longer available" in page


@pytest.mark.parametrize("name", ["cart:cart_add", "cart:cart_update", "cart:cart_remove"])
def test_cart_changes_need_post(client, make_product, name):
    assert client.get(reverse(name, args=[make_product().id])).status_code == 405


def test_price_change_is_reported_once(session, make_product):
    lamp = make_product(name="Lamp", price=Decimal("10.00"))
    Cart(session).add(lamp, 1)
    lamp.price = Decimal("12.50")
    lamp.save()
    cart = Cart(session)
    assert cart.sync() == ["The price of “Lamp” changed from €10.00 to €12.50."]
    assert cart.repriced == [lamp] and cart.total() == Decimal("12.50")
    assert Cart(session).sync() == []  # seen now


def test_price_change_of_a_free_item_is_reported(session, make_product):
    gift = make_product(name="Gift", price=Decimal("0.00"))
    Cart(session).add(gift, 1)
    gift.price = Decimal("25.00")
    gift.save()
    assert Cart(session).sync() == ["The price of “Gift” changed from €0.00 to €25.00."]
