"""The checkout page (issue 25): the address a shop that ships needs, checked per country; where the shopper
is (Cart › Details › Pay); one account of paying; no "Place order" for a cart that cannot be ordered."""

import re
from decimal import Decimal
from html import unescape
from unittest.mock import patch
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.urls import reverse

from orders.export import order_rows
from orders.models import Order
from orders.tasks import order_created
from shop.models import Product
from testkit.pages import thank_you_order

CHECKOUT = reverse("orders:order_create")


def text(response):
    """The page's visible words, tags stripped and spaces collapsed."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", response.content.decode(), flags=re.S)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).strip()


def error_summary_links(response):
    summary = re.search(r'<div class="error-summary"[^>]*>(.*?)</div>', response.content.decode(), re.S)
    assert summary, response.content.decode()
    return re.findall(r'<a href="#(id_\w+)">([^<]+)</a>', summary.group(1))


@pytest.fixture
def in_cart(client, make_product):
    product = make_product(name="Blue mug", price=Decimal("7.00"), stock=5)
    assert client.post(reverse("cart:cart_add", args=[product.id]), {"quantity": 2}).status_code == 302
    return product


def place(client, details, django_capture_on_commit_callbacks):
    with patch.object(order_created, "delay"), django_capture_on_commit_callbacks(execute=True):
        return client.post(CHECKOUT, details)


# --- the address ------------------------------------------------------------------------------------------


def test_the_order_keeps_a_second_line_the_country_and_a_phone_with_the_postal_code_written_as_usual(
    client, in_cart, customer, django_capture_on_commit_callbacks
):
    details = {
        **customer,
        "address_line2": "c/o Babbage",
        "postal_code": "1011ab",
        "country": "NL",
        "phone": "+31 20 555 0100",
    }
    order = thank_you_order(place(client, details, django_capture_on_commit_callbacks))
    assert order is not None
    assert (order.address_line2, order.postal_code, order.country, order.phone) == (
        "c/o Babbage",
        "1011 AB",
        "NL",
        "+31 20 555 0100",
    )


@pytest.mark.parametrize(
    "country, postal_code, message",
    [
        ("DE", "ABCDEFGHIJKLMNOP", "Enter a postal code for Germany, like 10115"),
        ("DE", "1011", "Enter a postal code for Germany, like 10115"),
        ("AT", "10115", "Enter a postal code for Austria, like 1010"),
        ("NL", "10115", "Enter a postal code for Netherlands, like 1011 AB"),
    ],
)
def test_a_postal_code_is_checked_for_the_chosen_country(client, in_cart, customer, country, postal_code, message):
    response = client.post(CHECKOUT, {**customer, "country": country, "postal_code": postal_code})
    assert response.status_code == 400 and not Order.objects.exists()
    assert error_summary_links(response) == [("id_postal_code", message)]
    assert 'aria-invalid="true"' in re.search(r"<input[^>]*id=\"id_postal_code\"[^>]*>", response.content.decode())[0]


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("address", "x", "Enter your street and house number, like 12 Main Street"),
        ("city", "x", "Enter your town or city, like Berlin"),
        ("phone", "call me", "Enter a phone number like +49 30 1234567, or leave the phone empty"),
        ("phone", "12", "Enter a phone number like +49 30 1234567, or leave the phone empty"),
        ("country", "US", "Choose a country from the list: we ship only there"),
        ("country", "", "Choose the country to deliver to"),
    ],
)
def test_what_is_no_address_is_refused_saying_what_to_write(client, in_cart, customer, field, value, message):
    response = client.post(CHECKOUT, {**customer, field: value})
    assert response.status_code == 400 and not Order.objects.exists()
    assert error_summary_links(response) == [(f"id_{field}", message)]


def test_the_country_list_is_the_shops_shipping_countries_the_first_chosen(client, in_cart, settings):
    settings.SHOP_SHIPPING_COUNTRIES = ["AT", "DE"]
    html = client.get(CHECKOUT).content.decode()
    select = re.search(r'<select name="country"[^>]*autocomplete="country"[^>]*>(.*?)</select>', html, re.S)
    assert select, html
    options = re.findall(r'<option value="(\w+)"( selected)?>([^<]+)</option>', select.group(1))
    assert options == [("AT", " selected", "Austria"), ("DE", "", "Germany")]


def test_a_shipping_country_the_checkout_cannot_check_fails_the_system_check(settings):
    settings.SHOP_SHIPPING_COUNTRIES = ["DE", "XX"]
    with pytest.raises(SystemCheckError, match="orders.E001"):
        call_command("check")


def test_a_form_posted_without_the_country_is_for_the_first_one(
    client, in_cart, customer, django_capture_on_commit_callbacks, settings
):
    settings.SHOP_SHIPPING_COUNTRIES = ["DE", "AT"]
    order = thank_you_order(place(client, customer, django_capture_on_commit_callbacks))
    assert order.country == "DE"


def test_the_thank_you_page_greets_by_name_and_repeats_the_delivery_address(
    client, in_cart, customer, django_capture_on_commit_callbacks
):
    details = {**customer, "address_line2": "Flat 3", "country": "AT", "postal_code": "1010", "city": "Wien"}
    page = text(place(client, details, django_capture_on_commit_callbacks))
    assert "Thank you, Ada." in page
    assert "Delivery address Ada Lovelace 12 Analytical Street Flat 3 1010 Wien Austria" in page, page


def test_export_and_admin_show_the_new_address_fields(admin_client, customer, make_product):
    order = Order.objects.create(**customer, address_line2="c/o Babbage", country="NL", phone="+31 20 555 0100")
    header, row = list(order_rows(Order.objects.all()))
    exported = dict(zip(header, row))
    # A leading + would start a formula: neutralised as in any cell.
    assert (exported["address line 2"], exported["country"], exported["phone"]) == (
        "c/o Babbage",
        "NL",
        "'+31 20 555 0100",
    )
    page = admin_client.get(reverse("admin:orders_order_change", args=[order.id])).content.decode()
    for name in ("address_line2", "country", "phone"):
        assert f'name="{name}"' in page, name


# --- where the shopper is, and what paying means -------------------------------------------------------------


def current_step(response):
    html = response.content.decode()
    nav = re.search(r'<nav class="checkout-steps" aria-label="Checkout steps">\s*<ol>(.*?)</ol>', html, re.S)
    assert nav, html
    steps = re.findall(r"<li\b([^>]*)>(.*?)</li>", nav.group(1), re.S)
    assert [re.sub(r"<[^>]+>|\(done\)", "", words).strip() for _, words in steps] == ["Cart", "Details", "Pay"]
    return [re.sub(r"<[^>]+>|\(done\)", "", words).strip() for attrs, words in steps if 'aria-current="step"' in attrs]


def test_cart_checkout_and_payment_pages_say_which_step_the_shopper_is_at(
    client, in_cart, customer, django_capture_on_commit_callbacks
):
    assert current_step(client.get(reverse("cart:cart_detail"))) == ["Cart"]
    assert current_step(client.get(CHECKOUT)) == ["Details"]
    placed = place(client, customer, django_capture_on_commit_callbacks)
    assert current_step(placed) == ["Pay"]
    order = thank_you_order(placed)
    assert current_step(client.get(reverse("payments:payment_return", args=[order.token]))) == ["Pay"]


def test_the_checkout_says_when_and_how_the_shopper_pays_as_the_order_pages_then_do(
    client, in_cart, customer, django_capture_on_commit_callbacks
):
    form = text(client.get(CHECKOUT))
    assert "No payment is taken" not in form and "email you payment instructions" not in form
    assert (
        "Once you place the order, you pay €18.90 online: the next page has the “Pay” button. Your order is "
        "reserved for you for 30 minutes while you pay; if it is not paid by then, it is cancelled." in form
    ), form
    page = text(place(client, customer, django_capture_on_commit_callbacks))
    assert "Pay €18.90 online now" in page and "Pay online by" in page and "within 30 minutes" in page


def test_times_shoppers_see_are_in_berlin_time_by_default_named(
    client, in_cart, customer, django_capture_on_commit_callbacks, mailoutbox
):
    page = text(place(client, customer, django_capture_on_commit_callbacks))
    zone = Order.objects.get().created.astimezone(ZoneInfo("Europe/Berlin")).tzname()  # CET or CEST
    times = re.findall(r"\d{1,2}(?::\d\d)? [ap]\.m\. (\w+)", page)
    assert len(times) >= 3 and set(times) == {zone}, page  # placed, and the deadline twice
    assert order_created(Order.objects.get().id) == "sent"  # what the worker runs, with the same settings
    in_email = re.findall(r"\d{1,2}(?::\d\d)? [ap]\.m\. (\w+)", mailoutbox[0].body)
    assert len(in_email) >= 2 and set(in_email) == {zone}, mailoutbox[0].body  # placed, and the deadline


# --- a cart that cannot be ordered as it is ----------------------------------------------------------------


def test_a_cart_asking_for_more_than_the_stock_is_not_offered_place_order_but_sent_back_to_the_cart(client, in_cart):
    Product.objects.filter(id=in_cart.id).update(stock=1)
    response = client.get(CHECKOUT)
    html = response.content.decode()
    assert response.status_code == 200
    assert "Place order" not in html
    alert = re.search(r'<div class="alert-box stale-cart" role="alert"[^>]*>(.*?)</div>', html, re.S)
    assert alert, html
    assert "“Blue mug”: only 1 left." in unescape(alert.group(1))
    assert f'href="{reverse("cart:cart_detail")}"' in alert.group(1)


def test_a_line_sold_out_while_the_form_was_filled_is_said_once_not_in_every_box(client, in_cart, customer):
    """A shopper's review: a banner, the error summary, the cart's box and a line under the form each said it,
    in three wordings. The cart's box says it; the page has one alert."""
    Product.objects.filter(id=in_cart.id).update(stock=0)
    response = client.post(CHECKOUT, customer)
    page = unescape(response.content.decode())
    assert response.status_code == 400 and not Order.objects.exists()
    assert page.count("Blue mug”: sold out") == 1 and page.count('role="alert"') == 1, page
    assert "not available at the moment" not in page and '<li class="warning">' not in page


def test_a_cart_whose_product_is_gone_is_not_offered_place_order_at_once(client, in_cart, make_product):
    other = make_product(name="Teapot")
    client.post(reverse("cart:cart_add", args=[other.id]), {"quantity": 1})
    Product.objects.filter(id=other.id).update(available=False)
    html = client.get(CHECKOUT).content.decode()
    assert "Place order" not in html and "is no longer sold and was removed" in html
    assert "Place order" in client.get(CHECKOUT).content.decode()  # the cart as it is now can be ordered


def test_a_cart_that_can_be_ordered_is_offered_place_order_once_with_a_busy_label(client, in_cart):
    html = client.get(CHECKOUT).content.decode()
    buttons = re.findall(r"<button[^>]*>[^<]*</button>", html)
    assert [button for button in buttons if "Place order" in button] == [
        '<button type="submit" class="button primary large" data-busy-label="Placing your order…">'
        "Place order with obligation to pay</button>"
    ]
