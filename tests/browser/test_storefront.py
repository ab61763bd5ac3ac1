"""The demo catalog as a newcomer first sees it, in a real browser at desktop and phone width: a picture on
every card (its resized copies, not the placeholder), a light home page, and the breadcrumb trail.

Runs on both databases (not marked any_database): the demo command writes through the ORM on each.
"""

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from testkit.browser import DESKTOP, PHONE, assert_accessible, assert_no_horizontal_scroll, browsing, page_weight

pytestmark = pytest.mark.django_db(transaction=True)  # the live server sees committed rows only


@pytest.fixture
def demo_catalog(transactional_db, media_served):
    call_command("load_demo_catalog", verbosity=0)


def card_pictures(page):
    """[(the URL the browser chose, its natural width)] of every product card's picture."""
    return page.evaluate(
        "[...document.querySelectorAll('.product-card img')].map(image => [image.currentSrc, image.naturalWidth])"
    )


def test_demo_catalog_shows_real_pictures_and_a_product_its_breadcrumbs(browser, live_server, demo_catalog, request):
    for device, width in ((DESKTOP, 1280), (PHONE, 390)):
        with browsing(browser, live_server, f"{request.node.name}-{width}", **device) as (page, screens):
            total, by_type = page_weight(page, "/")  # scrolled to the end: every lazy picture loads
            pictures = card_pictures(page)
            assert len(pictures) == 12
            for source, natural_width in pictures:
                assert "/media/products/" in source and source.endswith("w.webp") and natural_width > 0, source
            if device is PHONE:
                print(f"demo catalog's home page on a phone: {total} bytes transferred, {by_type}")
                assert total < 500_000, f"the home page weighs {total} bytes on a phone: {by_type}"
                assert_no_horizontal_scroll(page, "home")
            assert_accessible(page, f"demo catalog at {width} px")
            screens.shot("home")

            page.get_by_role("link", name="Hand grinder with conical burrs").click()
            trail = page.get_by_role("navigation", name="Breadcrumb")
            expect(trail.get_by_role("link")).to_have_text(["Home", "Brewing gear"])
            expect(trail.locator('[aria-current="page"]')).to_have_text("Hand grinder with conical burrs")
            photo = page.locator(".product-detail-image img")
            expect(photo).to_have_js_property("complete", True)
            assert photo.evaluate("image => image.currentSrc").endswith("w.webp")
            if device is PHONE:
                assert_no_horizontal_scroll(page, "product")
            assert_accessible(page, f"demo product at {width} px")
            screens.shot("product")

            trail.get_by_role("link", name="Brewing gear").click()
            expect(page.get_by_role("heading", level=1)).to_have_text("Brewing gear")
            expect(page.locator(".product-card")).to_have_count(4)
