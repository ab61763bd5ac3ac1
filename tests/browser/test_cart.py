"""The cart page in a real browser: a stale line flagged and fixed in its row, quantity 0, the free-shipping
note; axe-checked at desktop and phone width. Run on both databases (the issue asks it of the cart's flows)."""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from shop.stock import count
from testkit.browser import DESKTOP, assert_accessible, browsing

pytestmark = pytest.mark.django_db(transaction=True)  # the live server sees committed rows only

PHONE_WIDTH = {"width": 390, "height": 844}


def test_stale_line_is_flagged_and_fixed_in_its_row(browser, live_server, catalog, settings, request):
    settings.SHOP_SHIPPING_COST = Decimal("4.90")
    settings.SHOP_FREE_SHIPPING_FROM = Decimal("50.00")
    teapot, mug, can = catalog["teapot"], catalog["mug"], catalog["can"]  # €20.50 (5), €7.00 (10), €15.00 (8)
    with browsing(browser, live_server, request.node.name, **DESKTOP) as (page, screens):
        for product, quantity in ((teapot, 3), (mug, 1), (can, 1)):
            page.goto(product.get_absolute_url())
            page.get_by_label("Quantity").fill(str(quantity))
            page.get_by_role("button", name="Add to cart").click()
        note = page.locator(".free-shipping-note")
        expect(note).to_have_text("Free shipping on this order.")  # €83.50

        # Sold elsewhere while the cart waited: 2 teapots left, no can.
        count(product_id=teapot.id, counted=2, by=None)
        count(product_id=can.id, counted=0, by=None)
        page.reload()
        teapot_row = page.locator(f"#line-{teapot.id}")
        can_row = page.locator(f"#line-{can.id}")
        expect(teapot_row.locator(".line-problem")).to_have_text("Only 2 left")
        expect(page.get_by_label("Quantity of Teapot")).to_have_accessible_description("Only 2 left")
        expect(can_row.locator(".line-problem")).to_have_text("Sold out")
        expect(page.locator(".stale-summary")).to_contain_text("2 items in your cart cannot be ordered as they are")
        expect(page.locator(f"#line-{mug.id} .line-problem")).to_have_count(0)
        for width, viewport in ((1280, DESKTOP["viewport"]), (390, PHONE_WIDTH)):
            page.set_viewport_size(viewport)
            assert_accessible(page, f"stale cart at {width} px")
            screens.shot(f"stale-cart-{width}")
        page.set_viewport_size(DESKTOP["viewport"])

        # One click each: the teapots down to what is left, the can out.
        teapot_row.get_by_role("button", name="Change to 2").click()
        expect(page.get_by_label("Quantity of Teapot")).to_have_value("2")
        expect(teapot_row.locator(".line-problem")).to_have_count(0)
        expect(page.locator(".stale-summary")).to_contain_text("1 item in your cart cannot be ordered as it is")
        can_row.get_by_role("button", name="Remove").click()
        expect(can_row).to_have_count(0)
        expect(page.locator(".stale-summary")).to_have_count(0)
        expect(note).to_have_text("€2.00 more for free shipping.")  # €48.00

        # Quantity 0 removes a line.
        page.get_by_label("Quantity of Blue mug").fill("0")
        page.locator(f"#line-{mug.id}").get_by_role("button", name="Update").click()
        expect(page.locator(".messages")).to_contain_text("“Blue mug” was removed from your cart.")
        expect(page.locator(f"#line-{mug.id}")).to_have_count(0)
        expect(note).to_have_text("€9.00 more for free shipping.")  # €41.00
        expect(page.locator(".cart-line")).to_have_count(1)
        for width, viewport in ((1280, DESKTOP["viewport"]), (390, PHONE_WIDTH)):
            page.set_viewport_size(viewport)
            assert_accessible(page, f"fixed cart at {width} px")
        expect(page).to_have_title(re.compile(r"^Your cart"))
