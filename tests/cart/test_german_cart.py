"""The cart in German: the header's count with each language's plural, and the free-shipping note."""

import re
from decimal import Decimal
from html import unescape

import pytest
from django.urls import reverse
from django.utils import translation


@pytest.fixture(autouse=True)
def _no_language_left_active():
    """A /de/ request leaves German active in the thread (LocaleMiddleware activates it): the tests after these
    expect none, so that reverse() gives /en/ addresses."""
    yield
    translation.deactivate()


def text(response):
    """The page's words, tags stripped; runs of ordinary white space made one space, no-break spaces kept."""
    return re.sub(r"[ \t\r\n]+", " ", unescape(re.sub(r"<[^>]+>", " ", response.content.decode()))).strip()


def in_language(language, name, *args):
    with translation.override(language):
        return reverse(name, args=args)


def header_count(response):
    return re.search(r'<span class="cart-count">\s*(.*?)\s*</span>', response.content.decode()).group(1)


def test_the_header_counts_items_with_each_languages_plural(client, make_product):
    mug = make_product(price=Decimal("5.00"))
    client.post(in_language("de", "cart:cart_add", mug.id), {"quantity": 1})
    assert header_count(client.get(in_language("en", "cart:cart_detail"))) == "1 item"
    assert header_count(client.get(in_language("de", "cart:cart_detail"))) == "1 Artikel"
    client.post(in_language("de", "cart:cart_add", mug.id), {"quantity": 1})
    assert header_count(client.get(in_language("en", "cart:cart_detail"))) == "2 items"
    assert header_count(client.get(in_language("de", "cart:cart_detail"))) == "2 Artikel"


def test_the_german_cart_says_how_much_more_ships_free_then_that_it_ships_free(client, make_product, settings):
    settings.SHOP_SHIPPING_COST, settings.SHOP_FREE_SHIPPING_FROM = Decimal("4.90"), Decimal("50.00")
    lamp = make_product(name="Lampe", price=Decimal("14.50"), stock=20)
    added = client.post(in_language("de", "cart:cart_add", lamp.id), {"quantity": 1}, follow=True)
    page = text(added)
    assert added.redirect_chain[-1][0] == "/de/cart/" and "„Lampe“: 1 in Ihrem Warenkorb." in page
    assert "Noch 35,50\xa0€ bis zum kostenlosen Versand." in page and "Versand 4,90\xa0€" in page
    assert "Zwischensumme 14,50\xa0€" in page and "Gesamtsumme (inkl. MwSt.) 19,40\xa0€" in page

    client.post(in_language("de", "cart:cart_update", lamp.id), {"quantity": 4})
    page = text(client.get(in_language("de", "cart:cart_detail")))
    assert "Kostenloser Versand für diese Bestellung." in page and "Versand Kostenlos" in page
