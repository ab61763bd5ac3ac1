"""The shop in German, in a real browser: a German browser gets the German pages, shops and checks out in them,
every page axe-clean and saying lang="de"; the language switch fits the header at desktop and phone width and
takes the shopper to the same page in English.

The English flow is tests/browser/test_shopping.py; this one stays lean: the same steps, German words asserted
by the glossary's terms (docs/languages.md), not by whole sentences."""

import re

import pytest
from playwright.sync_api import expect

from orders.models import Order
from testkit.browser import DESKTOP, PHONE, assert_accessible, assert_no_horizontal_scroll, browsing

# Once, in the PostgreSQL pass: the SQLite pass already carries the other browser tests (bin/test).
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.any_database]

GERMAN_BROWSER = {"locale": "de-DE"}  # Chromium's Accept-Language: de-DE,de;q=0.9
HEADER_TEXT = "rgb(255, 255, 255)"  # --header-text in static/css/base.css


def assert_german(page, screen, *words):
    """The page is German (lang="de" on <html>), axe-clean, and shows each of `words`."""
    expect(page.locator("html")).to_have_attribute("lang", "de")
    text = page.locator("body").inner_text()
    missing = [word for word in words if word not in text]
    assert not missing, f"{screen}: no {missing} on the German page"
    assert_accessible(page, f"{screen} (German)")


def assert_switch_in_header(page, screen):
    """The language switch is inside the header's box, not pushed out of it, and offers the other language."""
    header = page.locator(".site-header .header-inner").bounding_box()
    switch = page.locator(".language-switch").bounding_box()
    assert (
        switch and header["x"] <= switch["x"] and switch["x"] + switch["width"] <= header["x"] + header["width"] + 0.5
    )
    assert header["y"] <= switch["y"] and switch["y"] + switch["height"] <= header["y"] + header["height"] + 0.5, screen


def test_a_german_browser_shops_and_checks_out_in_german(browser, live_server, catalog, request):
    with browsing(browser, live_server, request.node.name, **DESKTOP, **GERMAN_BROWSER) as (page, screens):
        page.goto("/")
        expect(page).to_have_url(re.compile(r"/de/$"))
        assert_german(page, "catalog", "Warenkorb")
        assert_switch_in_header(page, "catalog")
        switch = page.locator(".language-switch button")
        expect(switch).to_have_attribute("lang", "en")
        expect(switch).to_have_css("color", HEADER_TEXT)  # readable on the dark header, as the account links

        page.locator(".product-card a.product-name", has_text="Blue mug").click()
        expect(page).to_have_url(re.compile(r"/de/product/"))
        expect(page.locator(".product-detail .price")).to_contain_text("7,00\xa0€")  # German money
        assert_german(page, "product", "Menge", "inkl. MwSt.")
        screens.shot("de-01-product")
        page.locator("form.add-to-cart button[type=submit]").click()

        expect(page).to_have_url(re.compile(r"/de/cart/$"))
        expect(page.locator(".cart-total-row .total")).to_have_text("11,90\xa0€")  # 7,00 € and 4,90 € shipping
        assert_german(page, "cart", "Warenkorb", "Zwischensumme", "Versand", "Kasse")
        screens.shot("de-02-cart")
        page.locator('a[href="/de/orders/create/"]').first.click()

        expect(page).to_have_url(re.compile(r"/de/orders/create/$"))
        assert_german(page, "checkout", "Kasse")
        for name, value in {
            "first_name": "Ada",
            "last_name": "Lovelace",
            "email": "ada@example.com",
            "address": "Analytische Straße 12",
            "postal_code": "10115",
            "city": "Berlin",
        }.items():
            page.locator(f".checkout-form [name={name}]").fill(value)
        screens.shot("de-03-checkout")
        page.locator(".checkout-form form button[type=submit]").click()

        expect(page).to_have_url(re.compile(r"/de/orders/created/$"))
        expect(page.locator("#order-number")).to_have_text(re.compile(r"^MS-[0-9A-Z]{4}-[0-9A-Z]{4}$"))
        expect(page.locator(".order-total-row .total")).to_have_text("11,90\xa0€")
        assert_german(page, "thank-you page", "Bestellung")
        screens.shot("de-04-thank-you")
        number = page.locator("#order-number").inner_text()

        # A phone's width: the switch still fits the header; switched, the same page comes in English.
        page.set_viewport_size(PHONE["viewport"])
        assert_switch_in_header(page, "thank-you page at 390 px")
        assert_no_horizontal_scroll(page, "thank-you page at 390 px")
        assert_accessible(page, "thank-you page at 390 px (German)")
        screens.shot("de-05-thank-you-phone")
        page.locator(".language-switch button[lang=en]").click()
        expect(page).to_have_url(re.compile(r"/en/orders/created/$"))
        expect(page.locator("html")).to_have_attribute("lang", "en")
        expect(page.locator("#order-number")).to_have_text(number)
        expect(page.locator(".order-total-row .total")).to_have_text("€11.90")
        assert_switch_in_header(page, "English thank-you page at 390 px")
        expect(page.locator(".language-switch button")).to_have_attribute("lang", "de")
        assert_accessible(page, "thank-you page at 390 px (English)")
        page.goto("/")  # the choice is kept over the German browser's wish
        expect(page).to_have_url(re.compile(r"/en/$"))
    assert Order.objects.get().email == "ada@example.com"
