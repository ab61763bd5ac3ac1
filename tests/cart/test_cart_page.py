"""The cart page as a shopper uses it: stale lines flagged and fixed in their rows, quantities set to 0 or to
nonsense, and the free-shipping note."""

import re
from decimal import Decimal
from html import unescape

import pytest
from django.urls import reverse

from cart.cart import Cart
from shop.models import Product
from shop.stock import count


def text(response):
    """The page's visible words, tags stripped and spaces collapsed."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", response.content.decode(), flags=re.S)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).strip()


def row(response, product):
    """The HTML of `product`'s row on the cart page."""
    html = response.content.decode()
    found = re.search(rf'<tr class="cart-line[^"]*"[^>]*data-product-id="{product.id}".*?</tr>', html, re.S)
    assert found, html
    return found.group(0)


def fill(client, product, quantity):
    assert client.post(reverse("cart:cart_add", args=[product.id]), {"quantity": quantity}).status_code == 302


def update(client, product, quantity):
    return client.post(reverse("cart:cart_update", args=[product.id]), {"quantity": quantity}, follow=True)


def cart_page(client):
    return client.get(reverse("cart:cart_detail"))


# --- stale lines, flagged in their rows ------------------------------------------------------------------


def test_a_line_above_the_stock_left_is_flagged_in_its_row_with_a_fix(client, make_product):
    teapot, mug = make_product(name="Teapot", stock=5), make_product(name="Blue mug", stock=10)
    fill(client, teapot, 3)
    fill(client, mug, 1)
    count(product_id=teapot.id, counted=2, by=None)  # sold elsewhere meanwhile

    page = cart_page(client)

    flagged = row(page, teapot)
    problem = re.search(r'<p class="line-problem" id="([\w-]+)"[^>]*>\s*Only 2 left\s*</p>', flagged)
    assert problem, flagged
    # Tied to the quantity field, for screen readers as for the eye.
    field = re.search(r'<input type="number" name="quantity"[^>]*>', flagged).group(0)
    assert f'aria-describedby="{problem.group(1)}"' in field and 'aria-invalid="true"' in field
    # The one-click fix: a form of its own, that sets the quantity to what is left.
    fix = re.search(r'<form[^>]*action="([^"]+)"[^>]*method="post">(.*?)</form>', flagged.split("</p>", 1)[1], re.S)
    assert fix and fix.group(1) == reverse("cart:cart_update", args=[teapot.id])
    assert re.search(r'<input type="hidden" name="quantity" value="2">', fix.group(2))
    assert re.search(r"<button[^>]*>\s*Change to 2", fix.group(2))
    # The summary at the top points to the row; the other row is not flagged.
    assert re.search(rf'<a href="#line-{teapot.id}">[^<]*Teapot[^<]*</a>', page.content.decode())
    assert f'id="line-{teapot.id}"' in flagged
    assert "line-problem" not in row(page, mug) and "aria-invalid" not in row(page, mug)
    # The checkout still refuses the line as it is (until fixed), and the cart keeps the shopper's choice.
    assert Cart(client.session).quantities() == {teapot.id: 3, mug.id: 1}


def test_the_fix_changes_the_line_in_one_post(client, make_product):
    teapot = make_product(name="Teapot", stock=5)
    fill(client, teapot, 3)
    count(product_id=teapot.id, counted=2, by=None)
    assert "Change to 2" in text(cart_page(client))

    page = update(client, teapot, 2)

    assert Cart(client.session).quantities() == {teapot.id: 2}
    assert "“Teapot”: 2 in your cart." in text(page)
    assert "line-problem" not in row(page, teapot) and "Change to" not in text(page)


def test_a_sold_out_line_is_flagged_with_remove_as_its_fix(client, make_product):
    gnome, mug = make_product(name="Gnome", stock=3), make_product(name="Blue mug")
    fill(client, gnome, 2)
    fill(client, mug, 1)
    count(product_id=gnome.id, counted=0, by=None)

    page = cart_page(client)

    flagged = row(page, gnome)
    problem = re.search(r'<p class="line-problem" id="([\w-]+)"[^>]*>\s*Sold out\s*</p>', flagged)
    assert problem, flagged
    remove = re.findall(r'<form[^>]*action="([^"]+)"[^>]*method="post">(.*?)</form>', flagged, re.S)
    assert [action for action, _ in remove] == [reverse("cart:cart_remove", args=[gnome.id])]  # one, the fix
    assert re.search(rf'<button[^>]*aria-describedby="{problem.group(1)}"[^>]*>\s*Remove', remove[0][1])
    assert "Change to" not in flagged
    client.post(reverse("cart:cart_remove", args=[gnome.id]))
    assert Cart(client.session).quantities() == {mug.id: 1}


def test_the_summary_lists_each_stale_line_once_and_says_where_to_fix_it(client, make_product):
    teapot, gnome = make_product(name="Teapot", stock=5), make_product(name="Gnome", stock=5)
    fill(client, teapot, 3)
    fill(client, gnome, 3)
    count(product_id=teapot.id, counted=1, by=None)
    count(product_id=gnome.id, counted=0, by=None)
    page = text(cart_page(client))
    assert "2 items in your cart cannot be ordered as they are" in page
    assert page.count("Teapot: only 1 left") == 1 and page.count("Gnome: sold out") == 1
    # The old unlinked top message is not repeated next to the summary.
    assert "Please change the quantity or remove it." not in page


def test_the_checkout_keeps_its_notice_for_a_stale_line(client, make_product):
    lamp = make_product(name="Desk lamp", stock=2)
    fill(client, lamp, 2)
    count(product_id=lamp.id, counted=1, by=None)
    assert "“Desk lamp”: only 1 left." in text(client.get(reverse("orders:order_create")))


# --- races: the stock changes between the page and the fix ----------------------------------------------


def test_fix_after_the_stock_fell_further_shows_the_new_truth(client, make_product):
    teapot = make_product(name="Teapot", stock=5)
    fill(client, teapot, 3)
    count(product_id=teapot.id, counted=2, by=None)
    assert "Change to 2" in text(cart_page(client))
    count(product_id=teapot.id, counted=1, by=None)  # while the shopper reads the page

    page = update(client, teapot, 2)

    assert page.status_code == 200 and page.redirect_chain[-1][0] == reverse("cart:cart_detail")
    assert Cart(client.session).quantities() == {teapot.id: 3}  # nothing changed behind the shopper's back
    flagged = row(page, teapot)
    assert re.search(r">\s*Only 1 left\s*<", flagged) and "Change to 1" in flagged
    assert "Only 1 of “Teapot” left in stock." in text(page)


def test_fix_after_the_last_unit_went_shows_the_line_sold_out(client, make_product):
    teapot = make_product(name="Teapot", stock=5)
    fill(client, teapot, 3)
    count(product_id=teapot.id, counted=2, by=None)
    cart_page(client)
    count(product_id=teapot.id, counted=0, by=None)

    page = update(client, teapot, 2)

    assert page.status_code == 200 and Cart(client.session).quantities() == {teapot.id: 3}
    assert re.search(r">\s*Sold out\s*<", row(page, teapot)) and "Change to" not in text(page)


def test_fix_after_the_product_was_withdrawn_removes_the_line(client, make_product):
    teapot, mug = make_product(name="Teapot", stock=5), make_product()
    fill(client, teapot, 3)
    fill(client, mug, 1)
    count(product_id=teapot.id, counted=2, by=None)
    cart_page(client)
    Product.objects.filter(id=teapot.id).update(available=False)

    page = update(client, teapot, 2)

    assert page.status_code == 200 and Cart(client.session).quantities() == {mug.id: 1}
    assert "no longer available" in text(page)


def test_fix_after_the_stock_came_back_sets_the_quantity_clicked(client, make_product):
    teapot = make_product(name="Teapot", stock=5)
    fill(client, teapot, 3)
    count(product_id=teapot.id, counted=2, by=None)
    cart_page(client)
    count(product_id=teapot.id, counted=9, by=None)

    page = update(client, teapot, 2)

    assert Cart(client.session).quantities() == {teapot.id: 2}
    assert "line-problem" not in row(page, teapot)


# --- quantities typed into a row --------------------------------------------------------------------------


def test_quantity_zero_removes_the_line(client, make_product):
    teapot, mug = make_product(name="Teapot"), make_product(name="Blue mug")
    fill(client, teapot, 2)
    fill(client, mug, 1)

    page = update(client, teapot, 0)

    assert Cart(client.session).quantities() == {mug.id: 1}
    assert "“Teapot” was removed from your cart." in text(page)


def test_quantity_zero_of_a_sold_out_line_removes_it(client, make_product):
    gnome = make_product(name="Gnome", stock=3)
    fill(client, gnome, 2)
    count(product_id=gnome.id, counted=0, by=None)
    update(client, gnome, 0)
    assert Cart(client.session).quantities() == {}


def test_the_row_field_accepts_zero_in_the_browser(client, make_product):
    fill(client, make_product(), 1)
    field = re.search(r'<input type="number" name="quantity"[^>]*>', cart_page(client).content.decode()).group(0)
    assert 'min="0"' in field


@pytest.mark.parametrize("quantity", ["-1", "-999", "21", "99999999999999999999999", "abc", "2.5", "", "1e3"])
def test_a_bad_quantity_is_a_clear_error_in_the_row_and_changes_nothing(client, make_product, quantity):
    teapot = make_product(name="Teapot", stock=50)
    fill(client, teapot, 2)

    page = update(client, teapot, quantity)

    assert page.status_code == 200 and Cart(client.session).quantities() == {teapot.id: 2}
    error = "Enter a whole number from 0 to 20 (0 removes the item)."
    assert f"“Teapot”: {error}" in text(page)  # at the top
    flagged = row(page, teapot)
    problem = re.search(r'<p class="line-problem" id="([\w-]+)"[^>]*>\s*' + re.escape(error) + r"\s*</p>", flagged)
    assert problem, flagged  # and in the row, tied to the field
    field = re.search(r'<input type="number" name="quantity"[^>]*>', flagged).group(0)
    assert f'aria-describedby="{problem.group(1)}"' in field and 'aria-invalid="true"' in field
    assert "line-problem" not in row(cart_page(client), teapot)  # said once


def test_a_quantity_above_the_stock_is_refused_in_the_row(client, make_product):
    teapot = make_product(name="Teapot", stock=5)
    fill(client, teapot, 2)
    page = update(client, teapot, 9)
    assert Cart(client.session).quantities() == {teapot.id: 2}
    flagged = row(page, teapot)
    assert re.search(r">\s*Only 5 of “Teapot” left in stock.\s*<", unescape(flagged)), flagged
    assert re.search(r'<input type="number" name="quantity" value="9"', flagged)  # what the shopper typed


# --- free shipping ----------------------------------------------------------------------------------------


@pytest.fixture
def shipping(settings):
    settings.SHOP_SHIPPING_COST = Decimal("4.90")
    settings.SHOP_FREE_SHIPPING_FROM = Decimal("50.00")
    return settings


def test_below_the_threshold_the_cart_says_how_much_more_ships_free(client, make_product, shipping):
    mug = make_product(price=Decimal("7.25"), stock=20)
    fill(client, mug, 2)
    assert "€35.50 more for free shipping." in text(cart_page(client))
    update(client, mug, 6)  # €43.50
    assert "€6.50 more for free shipping." in text(cart_page(client))


def test_at_the_threshold_the_cart_says_shipping_is_free(client, make_product, shipping):
    fill(client, make_product(price=Decimal("25.00")), 2)
    page = text(cart_page(client))
    assert "Free shipping on this order." in page and "more for free shipping" not in page


def test_without_a_threshold_the_cart_says_nothing_of_free_shipping(client, make_product, shipping):
    shipping.SHOP_FREE_SHIPPING_FROM = None
    fill(client, make_product(price=Decimal("7.00")), 1)
    page = text(cart_page(client))
    assert "more for free shipping" not in page and "Free shipping on this order" not in page


def test_the_free_shipping_note_uses_the_shops_money_format(client, make_product, shipping):
    shipping.SHOP_CURRENCY = "CHF"
    shipping.SHOP_FREE_SHIPPING_FROM = Decimal("2000.00")
    fill(client, make_product(price=Decimal("0.50")), 1)
    assert "CHF 1,999.50 more for free shipping." in text(cart_page(client))
