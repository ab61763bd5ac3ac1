"""The admin pages operators use, in Chromium at 1280 px: the order list fits without scrolling sideways, the
order page's buttons work, and axe-core finds no violation on the order list, the order page, the product
list and the pages around them. The browser fixture is in tests/conftest.py, the catalog in
tests/browser/conftest.py; the context, axe and screenshot helpers in testkit.browser."""

from datetime import UTC
from decimal import Decimal

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from orders.models import Order, OrderEmail, OrderItem
from testkit.browser import DESKTOP, assert_accessible, browsing

# admin pages in a browser: run once, on PostgreSQL
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.any_database, pytest.mark.sqlite_pass]

PASSWORD = "a long admin passphrase"
# As long as the form lets through: 50-character names and a 254-character email address; and the widest
# number, a big total and the longest email states.
LONG_EMAIL = "a" * 64 + "@" + ".".join(["b" * 62, "c" * 62, "d" * 60]) + ".de"
assert len(LONG_EMAIL) == 254
WIDEST = {
    "first_name": "Maximiliane-Konstanze Theodora Wilhelmina von",
    "last_name": "Hohenzollern-Sigmaringen-Schwarzenberg-Lichtens",
    "email": LONG_EMAIL,
    "number": "MS-WWWW-WWWW",
    "total": Decimal("99999.99"),
}


@pytest.fixture
def orders(catalog):
    """An order in each status, one whose confirmation failed, and one with the widest cells (WIDEST, both
    emails sent but unconfirmed)."""
    mug, teapot = catalog["mug"], catalog["teapot"]
    made = {}
    for status in ("pending", "paid", "shipped", "cancelled", "widest"):
        fields = {
            "first_name": "Ada",
            "last_name": "Lovelace",
            "email": "ada@example.com",
            "subtotal": Decimal("34.50"),
            "shipping_cost": Decimal("4.90"),
            "total": Decimal("39.40"),
            **(WIDEST if status == "widest" else {}),
        }
        order = Order.objects.create(
            address="12 Analytical Street",
            postal_code="10115",
            city="Berlin",
            status="shipped" if status == "widest" else status,
            **fields,
        )
        OrderItem.objects.create(order=order, product=mug, price=Decimal("7.00"), quantity=2)
        OrderItem.objects.create(order=order, product=teapot, price=Decimal("20.50"), quantity=1)
        confirmation = {"paid": "failed", "widest": "unconfirmed"}.get(status, "sent")
        OrderEmail.objects.create(
            order=order,
            kind="confirmation",
            state=confirmation,
            last_error="550 mailbox unavailable" if confirmation == "failed" else "",
        )
        if status in ("shipped", "widest"):
            OrderEmail.objects.create(
                order=order, kind="shipping", state="sent" if status == "shipped" else "unconfirmed"
            )
        made[status] = order
    return made


@pytest.fixture
def operator(django_user_model):
    return django_user_model.objects.create_superuser("boss", "boss@example.com", PASSWORD)


def log_in(page):
    page.goto(reverse("admin:login"))
    page.fill("#id_username", "boss")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    expect(page.locator("#site-name")).to_be_visible()


def assert_nothing_scrolls_sideways(page, screen):
    """Neither the page nor the list's own scrolling box (Django puts the table in one) is wider than the
    window; every column header is inside it."""
    widths = page.evaluate("""() => {
        const results = document.querySelector('.results');
        return {page: [document.documentElement.scrollWidth, document.documentElement.clientWidth],
                results: results ? [results.scrollWidth, results.clientWidth] : null,
                headers: [...document.querySelectorAll('#result_list thead th')].map(
                    th => [th.innerText.trim(), Math.round(th.getBoundingClientRect().right)])};
    }""")
    scroll, client = widths["page"]
    assert scroll <= client, f"{screen}: the page is {scroll}px wide in a {client}px window"
    if widths["results"]:
        scroll, client = widths["results"]
        assert scroll <= client, f"{screen}: the list is {scroll}px wide in its {client}px box"
    outside = [(text, right) for text, right in widths["headers"] if right > page.viewport_size["width"]]
    assert outside == [], f"{screen}: columns beyond the window's edge: {outside}"


def test_order_list_shows_every_column_at_1280_px_without_scrolling_and_passes_axe(
    browser, live_server, orders, operator, request
):
    with browsing(browser, live_server, request.node.name, **DESKTOP) as (page, screens):
        log_in(page)
        page.goto(reverse("admin:orders_order_changelist"))
        headers = page.locator("#result_list thead th")
        expect(headers).to_have_text(
            ["", "Number", "Customer", "Email", "Total", "Placed", "Status", "Confirmation", "Shipping notice"]
        )
        row = page.locator("#result_list tbody tr", has_text=orders["paid"].number)
        expect(row).to_contain_text("€39.40")
        expect(row.locator("td.field-confirmation")).to_have_text("Failed")
        expect(page.locator("#result_list tbody tr", has_text="MS-WWWW-WWWW")).to_contain_text("€99,999.99")
        assert_nothing_scrolls_sideways(page, "order list")
        screens.shot("order-list")
        assert_accessible(page, "order list")

        # The filters and the search, as an operator uses them.
        page.get_by_role("link", name="Failed").first.click()
        expect(page.locator("#result_list tbody tr")).to_have_count(1)
        assert_accessible(page, "order list, confirmation failed")
        page.goto(reverse("admin:orders_order_changelist"))
        page.fill("#searchbar", orders["shipped"].number.lower())
        page.keyboard.press("Enter")
        expect(page.locator("#result_list tbody tr")).to_have_count(1)
        expect(page.locator("#result_list tbody tr")).to_contain_text(orders["shipped"].number)
        assert_nothing_scrolls_sideways(page, "order list, searched")
        assert_accessible(page, "order list, searched")

        # The outbox shares the search and the counting.
        page.goto(reverse("admin:orders_orderemail_changelist") + "?state__exact=failed")
        expect(page.locator("#result_list tbody tr")).to_have_count(1)
        assert_accessible(page, "outbox list, failed")


def test_order_page_buttons_move_the_order_and_the_pages_pass_axe(browser, live_server, orders, operator, request):
    order = orders["pending"]
    with browsing(browser, live_server, request.node.name, **DESKTOP) as (page, screens):
        log_in(page)
        page.goto(reverse("admin:orders_order_change", args=[order.id]))
        expect(page.get_by_role("heading", name=f"Next steps for order {order.number}")).to_be_visible()
        buttons = page.locator(".order-buttons button")
        expect(buttons).to_have_text(
            ["Mark paid", "Cancel: stock goes back on sale", "Send the order confirmation again"]
        )
        expect(page.locator("#line-1 th")).to_have_text("2 × Blue mug")
        expect(page.locator("#line-1")).to_contain_text("€7.00")
        expect(page.locator("#line-1")).to_contain_text("€14.00")
        expect(page.locator("#email-confirmation")).to_contain_text("Sent")
        expect(page.get_by_role("link", name="Delete")).to_have_count(0)
        assert_nothing_scrolls_sideways(page, "order page")
        screens.shot("order-page")
        assert_accessible(page, "order page")

        page.get_by_role("button", name="Mark paid").click()
        expect(page.locator("ul.messagelist")).to_contain_text(f"Marked paid: order {order.number}.")
        expect(buttons).to_have_text(
            [
                "Ship: carrier and tracking number",
                "Cancel: stock goes back on sale",
                "Send the order confirmation again",
                "Send the invoice again",
            ]
        )  # paid: invoiced
        assert_accessible(page, "order page after a move")

        page.get_by_role("button", name="Cancel: stock goes back on sale").click()
        expect(page.get_by_role("heading", level=1)).to_have_text(f"Cancel order {order.number}?")
        screens.shot("cancel-asks-first")
        assert_accessible(page, "cancel confirmation")
        page.get_by_role("link", name="No, back to the order").click()
        order.refresh_from_db()
        assert order.status == "paid"


def test_shipping_asks_the_carrier_and_tracking_number_and_the_page_passes_axe(
    browser, live_server, orders, operator, request
):
    order = orders["paid"]
    with browsing(browser, live_server, request.node.name, **DESKTOP) as (page, screens):
        log_in(page)
        page.goto(reverse("admin:orders_order_change", args=[order.id]))
        page.get_by_role("button", name="Ship: carrier and tracking number").click()
        expect(page.get_by_role("heading", level=1)).to_have_text(f"Ship order {order.number}")
        assert_accessible(page, "ship page")
        page.get_by_label(f"Carrier of order {order.number}").select_option(label="DHL")
        page.get_by_label(f"Tracking number of order {order.number}").fill("0034 0434 1610 9404 2557")
        screens.shot("ship-page")
        page.get_by_role("button", name="Ship and email the customer").click()
        expect(page.locator("ul.messagelist")).to_contain_text("Shipped; each customer gets a notice")
        expect(page.locator(".field-shipment")).to_contain_text("DHL, 00340434161094042557")
        assert_accessible(page, "order page, shipped")


def test_product_list_fits_1280_px_with_editable_cells_and_passes_axe(browser, live_server, catalog, operator, request):
    catalog["mug"].__class__.objects.filter(id=catalog["mug"].id).update(
        name="Enamel camping mug with a lid, a carabiner handle and a long name", price=Decimal("99999.99")
    )
    with browsing(browser, live_server, request.node.name, **DESKTOP) as (page, screens):
        log_in(page)
        page.goto(reverse("admin:shop_product_changelist"))
        expect(page.get_by_label("Price of Teapot")).to_have_value("20.50")
        expect(page.get_by_label("Garden gnome is available")).to_be_checked()
        assert_nothing_scrolls_sideways(page, "product list")
        screens.shot("product-list")
        assert_accessible(page, "product list")

        page.get_by_role("link", name="Low: 5 or fewer, on sale").click()
        names = page.locator("#result_list tbody th")  # the first column, a link: the row's header cell
        expect(names).to_have_text(["Garden gnome", "Teapot"])  # sold out first
        assert_nothing_scrolls_sideways(page, "product list, low stock")
        page.goto(reverse("admin:shop_product_stock", args=[catalog["mug"].id]))
        assert_accessible(page, "stock of a product")


def test_coupon_list_fits_1280_px(browser, live_server, operator, request):
    from datetime import datetime

    from coupons.models import Coupon

    Coupon.objects.create(
        code="WINTER-SALE-2026",
        valid_from=datetime(2026, 12, 1, tzinfo=UTC),
        valid_to=datetime(2027, 1, 31, 23, 59, tzinfo=UTC),
        kind=Coupon.Kind.PERCENT,
        value=Decimal("20"),
        minimum_order=Decimal("50"),
        max_uses=1000,
    )
    with browsing(browser, live_server, request.node.name, **DESKTOP) as (page, screens):
        log_in(page)
        page.goto(reverse("admin:coupons_coupon_changelist"))
        expect(page.get_by_role("link", name="WINTER-SALE-2026")).to_be_visible()
        assert_nothing_scrolls_sideways(page, "coupon list")
        screens.shot("coupon-list")
