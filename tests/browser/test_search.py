"""Finding a product in a real browser: search from the header, sort, page through, and a search that finds
nothing; axe-clean at desktop and phone width. Not marked any_database: search differs by database (full text
on PostgreSQL, substrings on SQLite), so it runs in both passes."""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from shop.models import Product
from testkit.browser import DESKTOP, PHONE, assert_accessible, browsing

pytestmark = pytest.mark.django_db(transaction=True)  # the live server sees committed rows only


@pytest.fixture
def kettles(catalog):
    """Three kettles (a word no other product's name contains, on either database) among the catalog."""
    kitchen = catalog["mug"].category
    for name, price in (("Red kettle", "30.00"), ("Kettle descaler", "4.00"), ("Copper kettle", "45.00")):
        Product.objects.create(
            category=kitchen, name=name, slug=name.lower().replace(" ", "-"), price=Decimal(price), stock=3
        )


def card_names(page):
    return page.locator(".product-card .product-name")


@pytest.mark.parametrize("width", [1280, 390])
def test_shopper_searches_from_the_header_sorts_and_pages(browser, live_server, kettles, settings, request, width):
    settings.SHOP_PRODUCTS_PER_PAGE = 2
    with browsing(browser, live_server, request.node.name, **(DESKTOP if width == 1280 else PHONE)) as (
        page,
        screens,
    ):
        h1 = page.get_by_role("heading", level=1)
        page.goto("/")
        search_box = page.get_by_role("search").get_by_label("Search products")
        search_box.fill("kettle")
        search_box.press("Enter")
        expect(h1).to_have_text("Results for “kettle”")
        expect(page.locator(".result-count")).to_have_text("1–2 of 3 products")
        expect(search_box).to_have_value("kettle")
        assert_accessible(page, f"search results at {width} px")
        screens.shot("results")

        page.get_by_label("Sort by").select_option(label="Price, low to high")
        page.get_by_role("button", name="Sort", exact=True).click()
        expect(card_names(page)).to_have_text(["Kettle descaler", "Red kettle"])
        expect(page.get_by_label("Sort by")).to_have_value("price")

        page.get_by_role("link", name="Next").click()
        expect(card_names(page)).to_have_text(["Copper kettle"])
        expect(page.locator(".page-current")).to_have_text("Page 2 of 2")
        assert re.search(r"[?&]q=kettle\b", page.url) and "sort=price" in page.url
        assert_accessible(page, f"search results, page 2, at {width} px")

        search_box.fill("xylophone")
        page.get_by_role("search").get_by_role("button", name="Search").click()
        expect(page.locator(".empty")).to_contain_text("No products match “xylophone”.")
        assert_accessible(page, f"no results at {width} px")
        screens.shot("no-results")
        page.get_by_role("link", name="See all products").click()
        expect(h1).to_have_text("All products")

        response = page.goto("/?q=" + "kettle " * 20)  # too long: refused with a message
        assert response.status == 400
        expect(page.get_by_role("alert")).to_contain_text("Search with at most 100 characters.")
        assert_accessible(page, f"refused search at {width} px")


def test_sorting_works_without_javascript(browser, live_server, kettles, request):
    with browsing(browser, live_server, request.node.name, java_script_enabled=False, **DESKTOP) as (page, _):
        page.goto("/?q=kettle")
        page.get_by_label("Sort by").select_option(label="Price, high to low")
        page.get_by_role("button", name="Sort", exact=True).click()
        expect(card_names(page)).to_have_text(["Copper kettle", "Red kettle", "Kettle descaler"])
