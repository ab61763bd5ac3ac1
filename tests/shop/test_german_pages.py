"""The catalog in German (/de/): its words, its prices and its numbers as German writes them."""

import re
from decimal import Decimal
from html import unescape

import pytest
from django.urls import reverse
from django.utils import translation

from shop.templatetags.shop_text import number, shipping_note, vat_note, wait_time


@pytest.fixture(autouse=True)
def _no_language_left_active():
    """A /de/ request leaves German active in the thread (LocaleMiddleware activates it): the tests after these
    expect none, so that reverse() gives /en/ addresses."""
    yield
    translation.deactivate()


def text(response):
    """The page's words, tags stripped; runs of ordinary white space made one space, no-break spaces kept."""
    return re.sub(r"[ \t\r\n]+", " ", unescape(re.sub(r"<[^>]+>", " ", response.content.decode()))).strip()


def german(name, *args):
    with translation.override("de"):
        return reverse(name, args=args)


def test_the_german_catalog_and_product_page_say_german_words_and_german_prices(client, make_product, settings):
    settings.SHOP_SHIPPING_COST, settings.SHOP_FREE_SHIPPING_FROM = Decimal("4.90"), Decimal("50.00")
    mug = make_product(name="Becher", price=Decimal("12.90"), stock=3)
    make_product(name="Kanne", price=Decimal("1234.50"), stock=0, category=mug.category)

    catalog = client.get(german("shop:product_list"))
    page = text(catalog)
    assert catalog.status_code == 200 and '<html lang="de">' in catalog.content.decode()
    assert "Alle Produkte" in page and "Kategorien" in page and "Sortieren nach" in page
    assert "Preise inkl. MwSt. Versand 4,90\xa0€ pro Bestellung; versandkostenfrei ab 50,00\xa0€." in page
    assert "12,90\xa0€" in page and "1.234,50\xa0€" in page and "Ausverkauft" in page
    assert "1–2 von 2 Produkten" in page and "Preis, aufsteigend" in page
    assert "All products" not in page and "Sold out" not in page

    product = text(client.get(german("shop:product_detail", mug.id, mug.slug)))
    assert "Startseite" in product and "12,90\xa0€ inkl. MwSt." in product
    assert "Auf Lager: nur noch 3 vorrätig" in product and "Menge:" in product and "In den Warenkorb" in product
    assert "Zum Inhalt springen" in product and "Warenkorb: 0 Artikel 0,00\xa0€" in product


def test_the_german_404_page_says_so_in_german(client, db):
    response = client.get("/de/keine-solche-seite/")
    page = text(response)
    assert response.status_code == 404 and '<html lang="de">' in response.content.decode()
    assert "Seite nicht gefunden" in page and "Unter dieser Adresse gibt es keine Seite." in page
    assert "Zum Katalog" in page and "Page not found" not in page


def test_numbers_waits_and_notes_are_written_as_each_language_writes_them(settings):
    settings.SHOP_SHIPPING_COST, settings.SHOP_FREE_SHIPPING_FROM = Decimal("4.90"), None
    with translation.override("de"):
        german = (number(1234), wait_time(60), wait_time(600), wait_time(90), vat_note(), shipping_note())
    with translation.override("en"):
        english = (number(1234), wait_time(60), wait_time(600), wait_time(90), vat_note(), shipping_note())
    assert german == (
        "1.234",
        "1 Minute",
        "10 Minuten",
        "90 Sekunden",
        "inkl. MwSt.",
        "Versand 4,90\xa0€ pro Bestellung.",
    )
    assert english == ("1,234", "1 minute", "10 minutes", "90 seconds", "incl. VAT", "Shipping €4.90 per order.")
