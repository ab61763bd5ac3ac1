"""The checkout in a real browser (issue 25): the address form with its per-country postal code, the steps,
one order from a double click, the thank-you page that repeats name and address, and a declined payment that
is an alert with the next step, never a success first. Axe-checked at 1280 and 390 px; run on both databases."""

import json
import re

import pytest
from playwright.sync_api import expect

from orders.models import Order
from shop.models import Product
from testkit.browser import DESKTOP, PHONE, assert_accessible, browsing

pytestmark = pytest.mark.django_db(transaction=True)  # the live server sees committed rows only

WIDTHS = {1280: DESKTOP, 390: PHONE}

# Kept by the page itself across reloads: every text the payment panel showed, in order (the check below
# must see what the shopper saw, including the seconds before the page reloads).
RECORD_PANEL = """
(() => {
  const record = () => {
    const panel = document.querySelector(".payment-panel");
    if (!panel) return;
    const seen = JSON.parse(sessionStorage.getItem("panel-texts") || "[]");
    const text = panel.innerText.replace(/\\s+/g, " ");
    if (seen[seen.length - 1] !== text) {
      seen.push(text);
      sessionStorage.setItem("panel-texts", JSON.stringify(seen));
    }
  };
  document.addEventListener("DOMContentLoaded", () => {
    record();
    new MutationObserver(record).observe(document.body, {subtree: true, childList: true, characterData: true});
  });
})();
"""


def step_at(page):
    return page.locator(".checkout-steps [aria-current='step']")


def add_teapots(page, catalog):
    page.goto(catalog["teapot"].get_absolute_url())
    page.get_by_label("Quantity").fill("2")
    page.get_by_role("button", name="Add to cart").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your cart")


def fill_address(page, **overrides):
    details = {
        "First name": "Ada",
        "Last name": "Lovelace",
        "Email": "ada@example.com",
        "Street and house number": "12 Analytical Street",
        "Address line 2 (optional)": "Flat 3",
        "Postal code": "1010",
        "City": "Wien",
        "Phone (optional)": "+43 1 555 0100",
        **overrides,
    }
    for label, value in details.items():
        page.get_by_label(re.compile(f"^{re.escape(label)}:$")).fill(value)
    page.get_by_label("Country").select_option(label="Austria")


@pytest.mark.parametrize("width", WIDTHS)
def test_shopper_fills_the_address_and_places_one_order_with_a_double_click(
    browser, live_server, catalog, request, width
):
    with browsing(browser, live_server, request.node.name, **WIDTHS[width]) as (page, screens):
        add_teapots(page, catalog)
        expect(step_at(page)).to_have_text("Cart")
        assert_accessible(page, f"cart at {width} px")

        # Someone else bought all but one teapot: the checkout says so and offers no "Place order".
        Product.objects.filter(id=catalog["teapot"].id).update(stock=1)
        page.get_by_role("link", name="Checkout").click()
        expect(page.locator(".stale-cart")).to_contain_text("“Teapot”: only 1 left.")
        expect(page.get_by_role("button", name="Place order")).to_have_count(0)
        assert_accessible(page, f"checkout of a cart that cannot be ordered at {width} px")
        Product.objects.filter(id=catalog["teapot"].id).update(stock=5)
        page.reload()
        expect(step_at(page)).to_have_text("Details")
        fill_address(page, **{"Postal code": "ABCDEFGHIJKLMNOP"})
        page.get_by_role("button", name="Place order").click()
        summary = page.locator("#error-summary")
        expect(summary).to_be_focused()
        expect(summary.get_by_role("link")).to_have_text(["Enter a postal code for Austria, like 1010"])
        expect(page.get_by_label("Address line 2 (optional)")).to_have_value("Flat 3")  # what was typed is kept
        expect(page.get_by_label("Country")).to_have_value("AT")
        assert_accessible(page, f"checkout with a wrong postal code at {width} px")
        screens.shot("01-postal-code-error")

        posts = []
        page.on("request", lambda sent: posts.append(sent.url) if sent.method == "POST" else None)
        page.get_by_label("Postal code").fill("1010")
        page.get_by_role("button", name="Place order").dblclick()
        expect(page.locator(".confirmation")).to_contain_text("Thank you, Ada.")
        address = page.locator(".shipping-address address")
        expect(address).to_have_text(re.compile(r"Ada Lovelace\s*12 Analytical Street\s*Flat 3\s*1010 Wien\s*Austria"))
        expect(step_at(page)).to_have_text("Pay")
        assert [url for url in posts if url.endswith("/orders/create/")] == [f"{live_server.url}/en/orders/create/"]
        assert Order.objects.count() == 1
        assert_accessible(page, f"thank-you page at {width} px")
        screens.shot("02-thank-you")


@pytest.mark.parametrize("width", WIDTHS)
def test_a_declined_payment_is_an_alert_with_the_next_step_never_a_success_first(
    browser, live_server, catalog, settings, request, width
):
    settings.PAYMENT_OFFLINE_CONFIRM_SECONDS = 1  # the provider's answer comes a moment after the decision
    with browsing(browser, live_server, request.node.name, **WIDTHS[width]) as (page, screens):
        page.context.add_init_script(RECORD_PANEL)
        add_teapots(page, catalog)
        page.goto("/orders/create/")
        fill_address(page)
        page.get_by_role("button", name="Place order").click()
        page.get_by_role("button", name="Pay €45.90 now").click()
        page.get_by_role("button", name="Decline payment").click()

        alert = page.get_by_role("alert")
        expect(alert).to_contain_text("Your payment was declined", timeout=30_000)
        expect(alert).to_contain_text("Nothing was charged")
        expect(alert).to_contain_text("try again")
        expect(alert).to_be_focused()
        expect(page.get_by_role("button", name="Try again: pay €45.90 now")).to_be_visible()
        expect(step_at(page)).to_have_text("Pay")
        assert_accessible(page, f"declined payment at {width} px")
        screens.shot("declined")

        seen = json.loads(page.evaluate("sessionStorage.getItem('panel-texts')"))
        assert any("Checking your payment" in text for text in seen), seen  # the wait was seen, and recorded
        for text in seen:
            for success in ("Paid", "invoice", "Thank you"):
                assert success not in text, seen
