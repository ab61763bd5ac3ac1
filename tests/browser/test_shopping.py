"""Real-browser end-to-end tests: Debian's Chromium, driven by Playwright, against the live shop.

The shop runs in pytest-django's `live_server` (a thread of this process, serving static files too, on the
same test database); checkout hands the confirmation to the real RabbitMQ and a real Celery worker (a thread
of this process, on the run's own queue, see test_settings), whose emails land in `mailoutbox`.

The browser fixture (tests/conftest.py), the catalog (tests/browser/conftest.py) and the context, screenshot
and axe-core helpers (testkit.browser) are shared with the admin's browser tests. Artifacts go to
test-artifacts/browser/ at the repository root.

Never `playwright install`: the browser is /usr/bin/chromium (skipped when missing, except under CI=true).
"""

import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from playwright.sync_api import expect

from orders.models import Order, OrderEmail
from shop.models import Category, Product
from testkit.browser import (
    ARTIFACTS,
    DESKTOP,
    PHONE,
    assert_accessible,
    assert_no_horizontal_scroll,
    browsing,
    page_weight,
)
from testkit.photos import photo_jpeg
from testkit.waiting import wait_for

# the live server and the worker see committed rows only; pages in a browser: run once, on PostgreSQL
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.any_database, pytest.mark.sqlite_pass]

HEADER_BACKGROUND = "rgb(31, 41, 51)"  # --header-bg in static/css/base.css


# --- Fixtures ------------------------------------------------------------------------------------------


@pytest.fixture
def photo_catalog(transactional_db, media_served):
    """Twelve products (one page), each with a 3024 px phone-sized JPEG uploaded."""
    garden = Category.objects.create(name="Garden", slug="garden")
    return [
        Product.objects.create(
            category=garden,
            name=f"Plant {n:02d}",
            slug=f"plant-{n:02d}",
            price=Decimal("9.00"),
            stock=5,
            image=ContentFile(photo_jpeg(seed=n), name=f"plant-{n:02d}.jpg"),
        )
        for n in range(12)
    ]


# --- Helpers -------------------------------------------------------------------------------------------


def cart_summary(page):
    return page.locator("#cart-summary")


def product_link(page, name):
    """The product's name link on a catalog card (the card's image link has the same accessible name)."""
    return page.locator(".product-card a.product-name", has_text=name)


def cart_line(page, name):
    return page.locator("tr.cart-line", has_text=name)


# --- Tests ---------------------------------------------------------------------------------------------


def test_phone_screens_do_not_scroll_sideways(browser, live_server, catalog, request):
    phone = {"viewport": {"width": 375, "height": 740}, "is_mobile": True, "has_touch": True}
    with browsing(browser, live_server, request.node.name, **phone) as (page, screens):
        h1 = page.get_by_role("heading", level=1)

        page.goto("/")
        expect(h1).to_have_text("All products")
        assert page.evaluate("window.innerWidth") == 375  # the meta viewport honoured: the phone's width
        # The stylesheet applied (else a phone layout would be checked without its CSS, proving nothing).
        expect(page.locator(".site-header")).to_have_css("background-color", HEADER_BACKGROUND)
        expect(page.locator("body")).to_have_css("margin", "0px")
        expect(page.locator(".product-grid")).to_have_css("display", "grid")
        assert_no_horizontal_scroll(page, "catalog")
        assert_accessible(page, "phone catalog")
        screens.shot("phone-01-catalog")

        for name in ("Blue mug", "Watering can"):
            page.goto("/")
            product_link(page, name).click()
            expect(h1).to_have_text(name)
            assert_no_horizontal_scroll(page, f"product {name}")
            page.get_by_role("button", name="Add to cart").click()
            expect(h1).to_have_text("Your cart")
        expect(page.locator("tr.cart-line")).to_have_count(2)
        expect(page.locator("table.cart-table thead")).to_be_hidden()  # the phone layout: rows as cards
        expect(page.locator(".cart-subtotal-row .subtotal")).to_have_text("€22.00")
        expect(page.locator(".cart-shipping-row .shipping")).to_have_text("€4.90")
        expect(page.locator(".cart-total-row .total")).to_have_text("€26.90")
        expect(cart_summary(page)).to_contain_text("2 items")
        assert_no_horizontal_scroll(page, "cart")
        assert_accessible(page, "phone cart")
        screens.shot("phone-02-cart")

        page.get_by_role("link", name="Checkout").click()
        expect(h1).to_have_text("Checkout")
        expect(page.locator(".summary-lines li")).to_have_count(2)
        assert_no_horizontal_scroll(page, "checkout")
        assert_accessible(page, "phone checkout")
        screens.shot("phone-03-checkout")


@pytest.mark.broker
def test_shopper_orders_in_the_browser_and_gets_the_confirmation_email(
    browser, live_server, catalog, worker_outbox, request
):
    desktop = {"viewport": {"width": 1280, "height": 900}}
    with browsing(browser, live_server, request.node.name, **desktop) as (page, screens):
        h1 = page.get_by_role("heading", level=1)
        categories = page.get_by_role("navigation", name="Categories")

        # The catalog: every available product, sold-out ones marked; an empty cart.
        page.goto("/")
        expect(page).to_have_title(re.compile(r"^All products · "))
        expect(h1).to_have_text("All products")
        expect(page.locator(".product-card a.product-name")).to_have_text(
            ["Blue mug", "Garden gnome", "Teapot", "Watering can"]
        )
        gnome_card = page.locator(".product-card", has_text="Garden gnome")
        expect(gnome_card.locator(".badge.sold-out")).to_have_text("Sold out")
        expect(cart_summary(page)).to_contain_text("0 items")
        expect(cart_summary(page)).to_contain_text("€0.00")
        assert_accessible(page, "catalog")
        screens.shot("01-catalog")

        # A category from the sidebar: only its products, the category marked as current.
        categories.get_by_role("link", name="Kitchen").click()
        expect(page).to_have_url(re.compile(r"/category/kitchen/$"))
        expect(h1).to_have_text("Kitchen")
        expect(page.locator(".product-card a.product-name")).to_have_text(["Blue mug", "Teapot"])
        expect(categories.get_by_role("link", name="Kitchen")).to_have_attribute("aria-current", "page")

        # A product, added to the cart.
        product_link(page, "Blue mug").click()
        expect(h1).to_have_text("Blue mug")
        expect(page.locator(".product-detail .price")).to_have_text("€7.00 incl. VAT")
        expect(page.locator(".stock")).to_have_text("In stock")
        expect(page.locator(".product-category")).to_have_text("Kitchen")
        expect(page.locator(".description")).to_contain_text("Holds a large tea.")
        expect(page.get_by_label("Quantity")).to_have_value("1")
        expect(page.get_by_label("Quantity")).to_have_attribute("max", "10")  # the stock left
        expect(page.locator(".product-detail .vat-note")).to_have_text("incl. VAT")
        assert_accessible(page, "product")
        screens.shot("02-product")
        page.get_by_role("button", name="Add to cart").click()
        expect(h1).to_have_text("Your cart")
        expect(page.locator(".messages")).to_contain_text("“Blue mug”: 1 in your cart.")
        expect(cart_summary(page)).to_contain_text("1 item")
        expect(cart_summary(page)).to_contain_text("€7.00")

        # Back to the catalog for a second product (two of them), from the other category.
        page.get_by_role("link", name="Continue shopping").click()
        expect(h1).to_have_text("All products")
        categories.get_by_role("link", name="Garden").click()
        expect(h1).to_have_text("Garden")
        expect(page.locator(".product-card a.product-name")).to_have_text(["Garden gnome", "Watering can"])
        product_link(page, "Watering can").click()
        expect(h1).to_have_text("Watering can")
        expect(page.locator(".stock")).to_have_text("In stock: only 8 left")
        page.get_by_label("Quantity").fill("2")
        page.get_by_role("button", name="Add to cart").click()
        expect(h1).to_have_text("Your cart")
        expect(page.locator(".messages")).to_contain_text("“Watering can”: 2 in your cart.")
        expect(page.locator("tr.cart-line")).to_have_count(2)
        expect(cart_line(page, "Blue mug").locator("td[data-label=Total]")).to_have_text("€7.00")
        expect(cart_line(page, "Watering can").locator("td[data-label=Total]")).to_have_text("€30.00")
        expect(page.locator(".cart-subtotal-row .subtotal")).to_have_text("€37.00")
        expect(page.locator(".cart-total-row .total")).to_have_text("€41.90")  # plus €4.90 shipping
        expect(cart_summary(page)).to_contain_text("3 items")
        expect(cart_summary(page)).to_contain_text("€37.00")

        # Three mugs instead of one: the line total, the cart total and the header follow.
        page.get_by_label("Quantity of Blue mug").fill("3")
        cart_line(page, "Blue mug").get_by_role("button", name="Update").click()
        expect(page.locator(".messages")).to_contain_text("“Blue mug”: 3 in your cart.")
        expect(page.get_by_label("Quantity of Blue mug")).to_have_value("3")
        expect(cart_line(page, "Blue mug").locator("td[data-label=Total]")).to_have_text("€21.00")
        expect(page.locator(".cart-shipping-row .shipping")).to_have_text("Free")  # from €50.00
        expect(page.locator(".cart-total-row .total")).to_have_text("€51.00")
        expect(cart_summary(page)).to_contain_text("5 items")
        expect(cart_summary(page)).to_contain_text("€51.00")

        # The watering cans go again.
        cart_line(page, "Watering can").get_by_role("button", name="Remove").click()
        expect(page.locator(".messages")).to_contain_text("Item removed from your cart.")
        expect(page.locator("tr.cart-line")).to_have_count(1)
        expect(cart_line(page, "Blue mug").locator("td[data-label=Total]")).to_have_text("€21.00")
        expect(page.locator(".cart-subtotal-row .subtotal")).to_have_text("€21.00")
        expect(page.locator(".cart-total-row .total")).to_have_text("€25.90")
        expect(cart_summary(page)).to_contain_text("3 items")
        expect(cart_summary(page)).to_contain_text("€21.00")
        assert_accessible(page, "cart")
        screens.shot("03-cart")

        # Checkout, first with an address Django rejects. The browser's own check of type=email would stop
        # "not-an-email" before it is sent: switch it off, so that the server's answer is what is tested.
        page.get_by_role("link", name="Checkout").click()
        expect(h1).to_have_text("Checkout")
        expect(page.locator(".summary-lines li")).to_have_count(1)
        expect(page.locator(".summary-lines li")).to_contain_text("3 × Blue mug")
        expect(page.locator(".summary-subtotal")).to_contain_text("€21.00")
        expect(page.locator(".summary-total")).to_contain_text("€25.90")
        assert_accessible(page, "checkout")
        form = page.locator(".checkout-form form")
        form.evaluate("form => { form.noValidate = true; }")
        page.get_by_label("First name").fill("Ada")
        page.get_by_label("Last name").fill("Lovelace")
        page.get_by_label("Email").fill("not-an-email")
        page.get_by_label("Street and house number").fill("12 Analytical Street")
        page.get_by_label("Postal code").fill("10115")
        page.get_by_label("City").fill("Berlin")
        page.get_by_role("button", name="Place order").click()
        email_field = page.locator(".field.has-error")
        expect(email_field).to_have_count(1)
        expect(email_field.locator(".errorlist")).to_have_text("Enter an email address like name@example.com")
        expect(page).to_have_title(re.compile(r"^Error: Checkout · "))
        summary = page.locator("#error-summary")
        expect(summary).to_be_focused()  # static/js/shop.js: the summary is announced and the next Tab is in it
        expect(summary.get_by_role("link")).to_have_text(["Enter an email address like name@example.com"])
        expect(email_field.get_by_label("Email")).to_have_value("not-an-email")
        expect(page).to_have_url(re.compile(r"/orders/create/$"))
        expect(page.get_by_label("First name")).to_have_value("Ada")  # what was typed is kept
        expect(page.get_by_label("City")).to_have_value("Berlin")
        expect(page.locator(".summary-lines li")).to_contain_text("3 × Blue mug")  # the cart too
        expect(cart_summary(page)).to_contain_text("3 items")
        expect(cart_summary(page)).to_contain_text("€21.00")
        assert not Order.objects.exists()
        assert_accessible(page, "checkout with an error")
        screens.shot("04-checkout-with-error")
        summary.get_by_role("link").click()  # the summary's link puts the cursor in the field
        expect(page.get_by_label("Email")).to_be_focused()

        # A valid address: the order is placed and its number shown.
        page.get_by_label("Email").fill("ada@example.com")
        page.get_by_role("button", name="Place order with obligation to pay").click()
        expect(h1).to_have_text("Thank you for your order")
        expect(page).to_have_url(re.compile(r"/orders/created/$"))
        expect(page.locator("#order-number")).to_have_text(re.compile(r"^MS-[0-9A-Z]{4}-[0-9A-Z]{4}$"))
        number = page.locator("#order-number").inner_text()
        expect(page.locator(".confirmation")).to_contain_text("ada@example.com")
        items = page.locator(".order-items tbody tr")
        expect(items).to_have_count(1)
        expect(items.locator("td")).to_have_text(["Blue mug", "€7.00", "3", "€21.00"])
        expect(page.locator(".order-subtotal-row td")).to_have_text("€21.00")
        expect(page.locator(".order-shipping-row td")).to_have_text("€4.90")
        expect(page.locator(".order-total-row .total")).to_have_text("€25.90")  # what the order charges
        expect(cart_summary(page)).to_contain_text("0 items")  # the cart was emptied
        expect(cart_summary(page)).to_contain_text("€0.00")
        expect(page.locator(".next-steps")).to_contain_text("within 30 minutes of placing your order")
        assert_accessible(page, "thank-you page")
        screens.shot("05-confirmation")

        # The page came as the form's answer, under its own address: a reload asks for the page (GET), it does
        # not send the form again, and shows the same order.
        with page.expect_request(lambda request: "/orders/" in request.url) as reloaded:
            page.reload()
        assert (reloaded.value.method, reloaded.value.url.split("/", 3)[-1]) == ("GET", "en/orders/created/")
        expect(page.locator("#order-number")).to_have_text(number)
        assert Order.objects.count() == 1

        order = Order.objects.get(number=number)
        assert order.email == "ada@example.com" and order.city == "Berlin"
        assert [(item.product.name, item.quantity) for item in order.items.all()] == [("Blue mug", 3)]
        assert Product.objects.get(id=catalog["mug"].id).stock == 7
        assert Product.objects.get(id=catalog["can"].id).stock == 8  # removed from the cart: not reserved

        # The worker sends the confirmation email for that order.
        [email] = wait_for(
            lambda: [m for m in worker_outbox if f"order {number}" in m.subject],
            timeout=20,
            what=f"the worker's confirmation email for order {number}",
        )
        assert re.search(rf"\border {number}\b", email.subject), email.subject
        assert email.to == ["ada@example.com"]
        assert "3 × Blue mug @ €7.00 = €21.00" in email.body, email.body
        assert "Subtotal: €21.00" in email.body and "Total: €25.90" in email.body, email.body
        assert "Watering can" not in email.body
        wait_for(
            lambda: OrderEmail.objects.filter(order=order, kind="confirmation", state="sent").exists(),
            what="the order marked as confirmed",
        )

        # The status link of the confirmation page (the email's link has the same path, on SHOP_SITE_URL).
        status_link = page.get_by_role("link", name="your order status page")
        expect(status_link).to_have_attribute("href", order.get_absolute_url())
        assert order.get_absolute_url() in email.body
        status_link.click()
        expect(page).to_have_url(re.compile(re.escape(order.get_absolute_url()) + "$"))
        expect(h1).to_have_text(f"Order {number}")
        expect(page.locator("#order-number")).to_have_text(number)
        expect(page.locator(".order-status")).to_have_text("Pending payment")
        expect(page.locator(".confirmation-status")).to_contain_text("Sent")
        expect(page.locator(".order-items tbody tr td")).to_have_text(["Blue mug", "€7.00", "3", "€21.00"])
        expect(page.locator(".order-subtotal-row td")).to_have_text("€21.00")
        expect(page.locator(".order-shipping-row td")).to_have_text("€4.90")
        expect(page.locator(".order-total-row .total")).to_have_text("€25.90")  # what the order charges
        expect(page.locator(".shipping-address")).to_contain_text("Ada Lovelace")
        expect(page.locator(".shipping-address")).to_contain_text("10115 Berlin")
        expect(page.locator(".next-steps")).to_contain_text("within 30 minutes of placing your order")
        assert_accessible(page, "status page")
        screens.shot("06-order-status")

    assert len(worker_outbox) == 1


def test_home_page_with_twelve_photos_weighs_under_500_kb_on_a_phone(browser, live_server, photo_catalog, request):
    with browsing(browser, live_server, request.node.name, **PHONE) as (page, screens):
        total, by_type = page_weight(page, "/")
        expect(page.locator(".product-card")).to_have_count(12)
        screens.shot("phone-home-12-photos")
        with (ARTIFACTS / "page-weight.txt").open("a") as report:
            report.write(f"home page, 12 photo products, phone 390 px @3x: {total} bytes {by_type}\n")
        print(f"home page on a phone: {total} bytes transferred, {by_type}")
        assert total < 500_000, f"the home page weighs {total} bytes on a phone: {by_type}"


def fill_checkout(page, **overrides):
    details = {
        "First name": "Ada",
        "Last name": "Lovelace",
        "Email": "ada@example.com",
        "Street and house number": "12 Analytical Street",
        "Postal code": "10115",
        "City": "Berlin",
        **overrides,
    }
    for label, value in details.items():
        page.get_by_label(label).fill(value)


@pytest.mark.parametrize("width", [1280, 390])
def test_every_shop_page_passes_axe_at_desktop_and_phone_width(browser, live_server, catalog, settings, request, width):
    """Every screen a shopper can reach, axe-checked: catalog, category, product, cart, checkout (and with
    errors), thank-you, status, 404, the expired-session page and the 429 page."""
    from django.core.cache import cache

    device = DESKTOP if width == 1280 else PHONE
    with browsing(browser, live_server, request.node.name, **device) as (page, screens):
        h1 = page.get_by_role("heading", level=1)

        def check(screen):
            assert_accessible(page, f"{screen} at {width} px")
            screens.shot(screen)

        page.goto("/")
        check("catalog")
        page.goto("/category/garden/")
        expect(h1).to_have_text("Garden")
        check("category")
        page.goto(catalog["teapot"].get_absolute_url())
        expect(page.get_by_label("Quantity")).to_have_attribute("max", "5")  # stock 5, cap 20
        check("product")
        page.get_by_label("Quantity").fill("2")
        page.get_by_role("button", name="Add to cart").click()
        expect(h1).to_have_text("Your cart")
        expect(page.get_by_label("Quantity of Teapot")).to_have_attribute("max", "5")
        check("cart")
        page.goto(catalog["teapot"].get_absolute_url())
        expect(page.locator(".in-cart")).to_have_text("2 already in your cart.")
        expect(page.get_by_label("Quantity")).to_have_attribute("max", "3")  # 5 left, 2 of them in the cart

        page.goto("/orders/create/")
        check("checkout")
        fill_checkout(page, **{"First name": "", "Email": "nope"})
        page.get_by_role("button", name="Place order").click()
        expect(page).to_have_title(re.compile(r"^Error: "))
        check("checkout-errors")
        fill_checkout(page)
        page.get_by_role("button", name="Place order").click()
        expect(h1).to_have_text("Thank you for your order")
        check("thank-you")
        page.get_by_role("link", name="your order status page").click()
        expect(h1).to_contain_text("Order")
        check("status")
        # Paying: the offline provider's page, and the page it sends the shopper back to.
        settings.PAYMENT_OFFLINE_CONFIRM_SECONDS = 3600  # nothing settles while axe looks at the page
        page.get_by_role("button", name=re.compile(r"^Pay €")).click()
        expect(h1).to_have_text(re.compile(r"^Pay "))
        check("offline-provider")
        page.get_by_role("button", name="Decline payment").click()
        expect(page.locator(".payment-panel")).to_contain_text("Checking your payment")
        check("payment-being-confirmed")

        response = page.goto("/no-such-page/")
        assert response.status == 404
        expect(h1).to_have_text("Page not found")
        check("404")

        # The session's form went stale: its CSRF cookie is gone when the shopper submits.
        page.goto(catalog["mug"].get_absolute_url())
        page.get_by_role("button", name="Add to cart").click()
        expect(cart_summary(page)).to_contain_text("1 item")
        page.goto(catalog["mug"].get_absolute_url())
        page.context.clear_cookies(name="csrftoken")
        page.get_by_role("button", name="Add to cart").click()
        expect(h1).to_have_text("Your session expired")
        expect(cart_summary(page)).to_contain_text("1 item")  # the cart is kept
        check("csrf-expired")
        page.get_by_role("link", name="Try again").click()
        expect(h1).to_have_text("Blue mug")  # back on the product page, the cart as it was
        expect(cart_summary(page)).to_contain_text("1 item")

        cache.clear()
        settings.RATE_LIMIT_CART = "1/60"
        try:
            page.get_by_role("button", name="Add to cart").click()
            page.goto(catalog["mug"].get_absolute_url())
            page.get_by_role("button", name="Add to cart").click()
            expect(h1).to_have_text("Too many requests")
            expect(page.locator(".error-page")).to_contain_text("Please wait 1 minute and try again")
            check("429")
        finally:
            cache.clear()

        # The 500 page, as core.views.server_error renders it, served at a URL of the live server.
        from django.test import RequestFactory

        from core.views import server_error

        error_page = server_error(RequestFactory().get("/")).content
        page.route(
            "**/server-error-page/",
            lambda route: route.fulfill(status=500, body=error_page, content_type="text/html; charset=utf-8"),
        )
        page.goto("/server-error-page/")
        expect(h1).to_have_text("Something went wrong on our side")
        check("500")


def test_keyboard_reaches_content_with_a_visible_ring_and_one_stop_per_card(browser, live_server, catalog, request):
    with browsing(browser, live_server, request.node.name, **DESKTOP) as (page, screens):
        page.goto("/")
        page.keyboard.press("Tab")
        skip = page.get_by_role("link", name="Skip to content")
        expect(skip).to_be_focused()
        expect(skip).to_be_in_viewport()
        screens.shot("skip-link")
        page.keyboard.press("Enter")
        expect(page.locator("main")).to_be_focused()

        # From the content on: the categories, the sort control, then each card is one Tab stop (its name's
        # link), and the ring goes round the card.
        stops = []
        for _ in range(9):
            page.keyboard.press("Tab")
            stops.append(page.evaluate("document.activeElement.id || document.activeElement.textContent.trim()"))
        assert stops == [
            *("All", "Garden", "Kitchen", "sort", "Sort"),
            *("Blue mug", "Garden gnome", "Teapot", "Watering can"),
        ]
        expect(page.locator(".product-card a")).to_have_count(4)
        card = page.locator(".product-card", has_text="Watering can")
        expect(card).to_have_css("outline-style", "solid")
        expect(card).to_have_css("outline-width", "3px")
        screens.shot("card-focused")

        # Every ring: solid, and at least 3:1 against what is around it (header, page, card, buttons).
        ratios = page.evaluate("""() => {
            const luminance = rgb => {
                const [r, g, b] = rgb.match(/[\\d.]+/g).slice(0, 3).map(Number).map(v => {
                    v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
                return 0.2126 * r + 0.7152 * g + 0.0722 * b;
            };
            const background = element => {
                for (let e = element; e; e = e.parentElement) {
                    const colour = getComputedStyle(e).backgroundColor;
                    if (!/rgba\\(.*, 0\\)$/.test(colour) && colour !== "transparent") return colour;
                }
                return "rgb(255, 255, 255)";
            };
            const targets = [".logo", "#site-search-q", "#cart-summary", ".categories a", ".product-card"];
            return targets.map(selector => {
                const element = document.querySelector(selector);
                const ring = selector === ".product-card" ? element : element;
                if (selector === ".product-card") element.querySelector(".product-name").focus();
                else element.focus();
                const style = getComputedStyle(ring);
                const [a, b] = [luminance(style.outlineColor), luminance(background(ring.parentElement))];
                return [selector, style.outlineStyle, (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)];
            });
        }""")
        for selector, style, ratio in ratios:
            assert style == "solid" and ratio >= 3, (selector, style, ratio)


def test_checkout_works_without_javascript_and_its_error_links_lead_to_the_fields(
    browser, live_server, catalog, request
):
    with browsing(browser, live_server, request.node.name, java_script_enabled=False, **DESKTOP) as (page, screens):
        page.goto(catalog["mug"].get_absolute_url())
        page.get_by_role("button", name="Add to cart").click()
        page.goto("/orders/create/")
        fill_checkout(page, City="")
        page.get_by_role("button", name="Place order").click()
        summary = page.locator("#error-summary")
        expect(summary.get_by_role("link")).to_have_text(["Enter your town or city"])
        expect(summary.get_by_role("link")).to_have_attribute("href", "#id_city")
        screens.shot("checkout-errors-no-js")
        page.get_by_label("City").fill("Berlin")
        page.get_by_role("button", name="Place order").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Thank you for your order")
        number = page.locator("#order-number").inner_text()

        # Without the script the page keeps the form's address: a reload sends the form again, and its
        # one-time key shows the same order instead of placing a second one.
        with page.expect_request(lambda request: "/orders/" in request.url) as reloaded:
            page.reload()
        assert reloaded.value.method == "POST"
        expect(page.locator("#order-number")).to_have_text(number)
        assert Order.objects.count() == 1


def test_photos_are_served_as_resized_copies_on_product_and_cart_pages(browser, live_server, photo_catalog, request):
    with browsing(browser, live_server, request.node.name, **DESKTOP) as (page, screens):
        product = photo_catalog[0]
        page.goto(product.get_absolute_url())
        image = page.locator(".product-detail-image img")
        expect(image).to_have_js_property("complete", True)
        source = image.evaluate("image => image.currentSrc")
        assert re.search(r"-(560|640)w\.webp$", source), source  # a 530 px slot at 1x
        assert_accessible(page, "product with photo")
        screens.shot("product-photo")
        page.get_by_role("button", name="Add to cart").click()
        screens.shot("cart-photo")
        session_cookies = page.context.cookies()
    # The same cart in a browser that has not seen the product's page (a browser reuses a larger copy it has
    # already loaded): the 64 px thumbnail loads the smallest copy.
    with browsing(browser, live_server, request.node.name + "-fresh", **DESKTOP) as (fresh, _):
        fresh.context.add_cookies(session_cookies)
        fresh.goto("/cart/")
        thumb = fresh.locator("tr.cart-line img.thumb")
        expect(thumb).to_have_js_property("complete", True)
        assert thumb.evaluate("image => image.currentSrc").endswith("-160w.webp")


def test_the_accessibility_check_fails_on_a_violation(browser, live_server, catalog, request):
    """The axe check can fail: an unlabelled button put into the page is reported."""
    with browsing(browser, live_server, request.node.name, **DESKTOP) as (page, _):
        page.goto("/")
        page.evaluate("document.querySelector('main').append(document.createElement('button'))")
        with pytest.raises(AssertionError, match="button-name"):
            assert_accessible(page, "catalog with an unlabelled button")


def test_home_page_without_photos_stays_light_on_a_phone(browser, live_server, catalog, request):
    with browsing(browser, live_server, request.node.name, **PHONE) as (page, screens):
        total, by_type = page_weight(page, "/")
        with (ARTIFACTS / "page-weight.txt").open("a") as report:
            report.write(f"home page, 4 products without photos, phone 390 px @3x: {total} bytes {by_type}\n")
        print(f"home page without photos on a phone: {total} bytes transferred, {by_type}")
        assert total < 40_000, f"the home page weighs {total} bytes on a phone: {by_type}"


@pytest.mark.broker
def test_shopper_pays_with_the_offline_provider_and_gets_the_invoice_once_with_its_pdf(
    browser, live_server, catalog, worker_outbox, settings, tmp_path, request
):
    """The payment step in a real browser: the thank-you page leads to the offline provider's page; after
    "Approve" the shop shows "payment being confirmed" until the provider's signed webhook (sent by the real
    worker, through RabbitMQ) arrives; the worker then renders the invoice and emails it, once, as a PDF."""
    import subprocess

    from payments.models import Invoice

    settings.SHOP_SITE_URL = live_server.url  # where the provider posts its webhook (and emails link to)
    settings.PAYMENT_OFFLINE_CONFIRM_SECONDS = 1
    settings.STORAGES = {
        **settings.STORAGES,
        "invoices": {"BACKEND": "payments.storage.PrivateStorage", "OPTIONS": {"location": tmp_path / "invoices"}},
    }
    with browsing(browser, live_server, request.node.name, **DESKTOP, accept_downloads=True) as (page, screens):
        h1 = page.get_by_role("heading", level=1)
        page.goto(catalog["teapot"].get_absolute_url())
        page.get_by_label("Quantity").fill("2")
        page.get_by_role("button", name="Add to cart").click()
        page.goto("/orders/create/")
        fill_checkout(page)
        page.get_by_role("button", name="Place order with obligation to pay").click()
        expect(h1).to_have_text("Thank you for your order")
        number = page.locator("#order-number").inner_text()
        order = Order.objects.get(number=number)
        expect(page.locator(".payment-panel")).to_contain_text("Pay €45.90 online now")
        screens.shot("pay-01-thank-you")

        page.get_by_role("button", name="Pay €45.90 now").click()
        expect(h1).to_have_text("Pay myshop")
        expect(page.locator(".offline-amount")).to_have_text("€45.90")
        assert_accessible(page, "offline provider")
        screens.shot("pay-02-provider")
        page.get_by_role("button", name="Approve payment").click()

        # Back at the shop before the provider has confirmed: nothing is paid on the shopper's word.
        expect(h1).to_have_text(f"Order {number}: payment")
        expect(page.locator(".payment-panel")).to_contain_text("Checking your payment")
        assert Order.objects.get(id=order.id).status == "pending"
        assert_accessible(page, "payment being confirmed")
        screens.shot("pay-03-being-confirmed")

        # The webhook arrives (the worker sends it after the provider's delay); the page updates by itself.
        expect(page.locator(".payment-panel")).to_contain_text("Paid.", timeout=30_000)
        assert Order.objects.get(id=order.id).status == "paid"
        invoice = Invoice.objects.get(order=order)

        [email] = wait_for(
            lambda: [m for m in worker_outbox if "invoice" in m.subject],
            timeout=30,
            what=f"the worker's invoice email for order {number}",
        )
        assert email.to == ["ada@example.com"] and invoice.number in email.subject
        [(filename, pdf, mimetype)] = email.attachments
        assert (filename, mimetype) == (f"invoice-{invoice.number}.pdf", "application/pdf")
        text = " ".join(
            subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode().split()
        )
        assert f"Invoice {invoice.number}" in text and "Total €45.90" in text, text
        wait_for(
            lambda: OrderEmail.objects.filter(order=order, kind="invoice", state="sent").exists(),
            what="the invoice email recorded as sent",
        )

        page.goto(order.get_absolute_url())
        expect(page.locator(".order-status")).to_have_text("Paid")
        link = page.get_by_role("link", name=f"Download invoice {invoice.number} (PDF)")
        assert_accessible(page, "paid status page")
        screens.shot("pay-04-paid")
        with page.expect_download() as download:
            link.click()
        assert download.value.suggested_filename == f"invoice-{invoice.number}.pdf"
        assert Path(download.value.path()).read_bytes() == pdf  # the same document as emailed

    assert [m.subject for m in worker_outbox if "invoice" in m.subject] == [email.subject]  # exactly once
