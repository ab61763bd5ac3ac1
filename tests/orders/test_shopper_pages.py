"""What shoppers read: what happens after ordering, prices with VAT and shipping, errors they can act on,
quantities the shop can deliver, the catalog's navigation and cards, error pages."""

import re
from datetime import UTC, datetime
from decimal import Decimal
from html import unescape

import pytest
from django.template import Context, Template
from django.template.loader import get_template
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.safestring import mark_safe

from orders import outbox
from orders.forms import OrderCreateForm
from orders.models import Order, OrderItem
from orders.tasks import order_created, order_shipped
from testkit.outbox import CUSTOMER

PHISHING = {  # issue 13: the shop's email used as a relay for someone else's message (and link)
    "first_name": "Refund team",
    "last_name": "Security",
    "email": "victim@example.com",
    "address": "URGENT: your card was charged twice, claim a refund at http://evil.example/r",
    "postal_code": "10115",
    "city": "Call +1 555 0100 now",
}


def text(response):
    """The page's visible words, tags stripped and spaces collapsed."""
    html = response.content.decode()
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).strip()


@pytest.fixture
def order(customer, make_product):
    order = Order.objects.create(**customer)
    OrderItem.objects.create(order=order, product=make_product(name="Blue mug"), price=Decimal("7.00"), quantity=2)
    Order.objects.filter(id=order.id).update(created=datetime(2026, 11, 25, 21, 38, tzinfo=UTC))
    order.refresh_from_db()
    return order


def thank_you_page(client, order):
    session = client.session
    session["last_order_token"] = {"token": str(order.token), "at": datetime.now().timestamp()}
    session.save()
    return client.get(reverse("orders:thank_you"))


def confirmation(order, mailoutbox):
    outbox.add(order.id, "confirmation")  # as checkout would have
    assert order_created(order.id) == "sent"
    return mailoutbox[-1]


# --- what happens next ----------------------------------------------------------------------------------

NEXT_STEPS = [
    # The shop's time zone (Europe/Berlin by default), named: the order was placed at 21:38 UTC.
    "Pay online by Nov. 25, 2026, 11:08 p.m. CET, within 30 minutes of placing your order",
    "We dispatch your order within 3 working days of receiving your payment",
    "Questions? Write to help@shop.example",
]


def test_thank_you_page_status_page_and_email_say_the_same_about_what_happens_next(client, order, mailoutbox, settings):
    settings.SHOP_DISPATCH_DAYS = 3
    settings.SHOP_CONTACT_EMAIL = "help@shop.example"
    message = confirmation(order, mailoutbox)
    html_email = re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", message.alternatives[0][0])))
    plain_email = re.sub(r"\s+", " ", message.body)
    for where, words in (
        ("thank-you page", text(thank_you_page(client, order))),
        ("status page", text(client.get(order.get_absolute_url()))),
        ("plain email", plain_email),
        ("HTML email", html_email),
    ):
        for step in NEXT_STEPS:
            assert step in words, f"{where} lacks {step!r}: {words}"


# The sentences as {% blocktranslate %} made them before the tag made them in Python (issue 11: they are on
# every thank-you page and confirmation email, and took a third of the email's rendering).
BLOCKTRANSLATE = (
    "{% load i18n shop_text %}"
    "{% blocktranslate with timeout=payment_timeout|wait_time asvar payment %}Pay online by {{ deadline }}, within "
    "{{ timeout }} of "
    "placing your order, with the \u201cPay\u201d button on your order's page. Until then your order is reserved for "
    "you; if it is not paid by then, it is cancelled and its items go back on sale. We email you the invoice once "
    "your payment is confirmed.{% endblocktranslate %}"
    "{% blocktranslate count days=dispatch_days asvar dispatch %}We dispatch your order within {{ days }} working "
    "day of receiving your payment, and email you when it is on its way.{% plural %}We dispatch your order within "
    "{{ days }} working days of receiving your payment, and email you when it is on its way.{% endblocktranslate %}"
    "{% blocktranslate with number=order.number asvar contact %}Questions? Write to {{ contact_email }} and mention "
    "your order number, {{ number }}.{% endblocktranslate %}"
    "{{ payment }}|{{ dispatch }}|{{ contact }}"
)


@pytest.mark.parametrize("mode, autoescape", [("email", True), ("page", True), ("text", False)])
@pytest.mark.parametrize("days, timeout, contact", [(1, 1800, "help@shop.example"), (3, 90, "a&b<c>@shop.example")])
def test_what_happens_next_says_what_blocktranslate_said_escaped_alike(
    order, settings, mode, autoescape, days, timeout, contact
):
    settings.SHOP_DISPATCH_DAYS, settings.PAYMENT_TIMEOUT, settings.SHOP_CONTACT_EMAIL = days, timeout, contact
    Order.objects.filter(id=order.id).update(number="MS-<&>-1")
    order.refresh_from_db()
    deadline = "Nov. 25, 2026, " + ("11:08 p.m. CET" if timeout == 1800 else "10:39 p.m. CET")  # placed 21:38 UTC
    context = {
        "order": order,
        "payment_timeout": timeout,
        "dispatch_days": days,
        "contact_email": contact,
        "deadline": deadline,
    }
    payment, dispatch, contact_sentence = (
        Template(BLOCKTRANSLATE).render(Context(context, autoescape=autoescape)).split("|")
    )
    laid_out = {"mode": mode, "payment": payment, "dispatch": dispatch, "contact": contact_sentence}
    expected = get_template("orders/_what_happens_next.html").template.render(
        Context({key: mark_safe(value) for key, value in laid_out.items()}, autoescape=autoescape)
    )
    made = Template("{% load order_pages %}{% what_happens_next order mode %}").render(
        Context({"order": order, "mode": mode}, autoescape=autoescape)
    )
    assert made == expected


def test_what_happens_next_names_each_order_its_own_number(order, customer):
    other = Order.objects.create(**customer)
    tag = Template("{% load order_pages %}{% what_happens_next order 'text' %}")
    for shown, hidden in ((order, other), (other, order), (order, other)):
        made = tag.render(Context({"order": shown}, autoescape=False))
        assert f"mention your order number, {shown.number}." in made, made
        assert hidden.number not in made


def test_what_happens_next_gives_one_order_its_deadline_in_each_language_and_time_zone(order, settings):
    """The deadline is worked out once for an email's text and HTML parts: never the other language's, another
    zone's or another timeout's."""
    tag = Template("{% load order_pages %}{% what_happens_next order 'text' %}")
    settings.PAYMENT_TIMEOUT = 1800  # placed 21:38 UTC
    for language, deadline in (("en", "Nov. 25, 2026, 11:08 p.m. CET"), ("de", "25. November 2026 23:08 MEZ")) * 2:
        with translation.override(language):
            assert deadline in tag.render(Context({"order": order}, autoescape=False))
    settings.PAYMENT_TIMEOUT = 90
    assert "Nov. 25, 2026, 10:39 p.m. CET" in tag.render(Context({"order": order}, autoescape=False))
    with timezone.override("Europe/London"):
        assert "Nov. 25, 2026, 9:39 p.m. GMT" in tag.render(Context({"order": order}, autoescape=False))


def test_email_subject_says_received_while_payment_is_pending_and_replies_reach_the_shop(order, mailoutbox, settings):
    settings.SHOP_CONTACT_EMAIL = "help@shop.example"
    message = confirmation(order, mailoutbox)
    assert "confirmed" not in message.subject.lower()
    assert message.subject.endswith(f"order {order.number} received")
    assert message.reply_to == ["help@shop.example"]


def test_email_greeting_is_followed_by_a_capitalised_sentence(order, mailoutbox):
    body = confirmation(order, mailoutbox).body
    first_lines = [line for line in body.splitlines() if line.strip()][:2]
    assert first_lines[0] == "Hello Ada," and first_lines[1][0].isupper(), first_lines


def test_the_checkout_refuses_web_and_email_addresses_in_the_name_and_address(client, make_product):
    _fill_cart(client, make_product(), 1)
    typed = {**PHISHING, "first_name": "Visit www.evil.example", "address_line2": "write to refunds@evil.example"}
    response = client.post(reverse("orders:order_create"), typed)
    assert response.status_code == 400 and not Order.objects.exists()
    page = text(response)
    for field in ("first name", "street and house number", "address line 2"):
        assert f"Write your {field} without web or email addresses" in page, page


@pytest.mark.parametrize(
    ("field", "typed"),
    [
        ("first_name", "Win at evil-prize.com"),  # mail clients link a bare domain, no scheme or slash needed
        ("address_line2", "claim refund: paypal-help.net?id=1"),
        ("city", "bit.ly"),
    ],
)
def test_a_bare_domain_in_a_typed_field_is_refused(field, typed):
    form = OrderCreateForm({**CUSTOMER, field: typed})
    assert not form.is_valid() and "without web or email addresses" in str(form.errors[field])


@pytest.mark.parametrize("typed", ["St.Peter-Str. 5", "Hauptstr. 1", "c/o A.Smith", "Rue de la Paix 3"])
def test_abbreviations_in_an_address_are_not_taken_for_links(typed):
    assert OrderCreateForm({**CUSTOMER, "address": typed}).is_valid()


def test_every_order_email_greets_by_name_and_repeats_the_address_linking_only_to_the_shop(order, mailoutbox):
    Order.objects.filter(id=order.id).update(address_line2="c/o Babbage", country="NL", postal_code="1011 AB")
    order.refresh_from_db()
    message = confirmation(order, mailoutbox)
    outbox.add(order.id, "shipping")
    assert order_shipped(order.id) == "sent"
    for message in mailoutbox:
        html = message.alternatives[0][0]
        for content in (message.body, re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))):
            assert "Hello Ada," in content
            assert re.search(
                r"Ada Lovelace\s+12 Analytical Street\s+c/o Babbage\s+1011 AB Berlin\s+Netherlands", content
            )
        # Every link in the HTML email is the shop's own.
        assert set(re.findall(r'href="([^"]+)"', html)) == {f"http://127.0.0.1:8000{order.get_absolute_url()}"}


def test_status_page_shows_the_address_as_plain_text_never_as_a_link(client, make_product):
    order = Order.objects.create(**PHISHING)
    page = client.get(order.get_absolute_url()).content.decode()
    assert "claim a refund at http://evil.example/r" in page and 'href="http://evil' not in page


# --- dates ----------------------------------------------------------------------------------------------


def test_dates_are_shown_in_the_shops_time_zone_with_the_zone_named(client, order, mailoutbox, settings):
    settings.TIME_ZONE = "Europe/Berlin"
    page = text(client.get(order.get_absolute_url()))
    assert "Nov. 25, 2026, 10:38 p.m. CET" in page, page
    assert "Nov. 25, 2026, 10:38 p.m. CET" in text(thank_you_page(client, order))
    assert "Nov. 25, 2026, 10:38 p.m. CET" in confirmation(order, mailoutbox).body


def test_thank_you_page_points_to_the_status_page_to_bookmark(client, order):
    html = thank_you_page(client, order).content.decode()
    link = re.search(r'<a [^>]*href="' + re.escape(order.get_absolute_url()) + r'"[^>]*>(.*?)</a>', html, re.S)
    assert link and "order status page" in link.group(1).lower()
    assert "bookmark this page" not in html.lower()
    assert "bookmark" in text(thank_you_page(client, order)).lower()


# --- prices, VAT, shipping, the button -----------------------------------------------------------------


def _fill_cart(client, product, quantity):
    assert client.post(reverse("cart:cart_add", args=[product.id]), {"quantity": quantity}).status_code == 302


def test_cart_and_checkout_show_goods_shipping_and_grand_total(client, make_product, settings):
    settings.SHOP_SHIPPING_COST = Decimal("4.90")
    settings.SHOP_FREE_SHIPPING_FROM = Decimal("50.00")
    _fill_cart(client, make_product(name="Blue mug", price=Decimal("7.00")), 3)
    for url in (reverse("cart:cart_detail"), reverse("orders:order_create")):
        page = text(client.get(url))
        assert re.search(r"Subtotal €21\.00 Shipping €4\.90 Total \(incl\. VAT\) €25\.90", page), page
        assert "Prices incl. VAT. Shipping €4.90 per order; free shipping from €50.00." in page


def test_free_shipping_is_shown_as_free(client, make_product, settings):
    settings.SHOP_FREE_SHIPPING_FROM = Decimal("50.00")
    _fill_cart(client, make_product(price=Decimal("30.00")), 2)
    page = text(client.get(reverse("cart:cart_detail")))
    assert re.search(r"Shipping Free Total \(incl\. VAT\) €60\.00", page), page


def test_prices_say_whether_vat_is_included(client, make_product, settings):
    product = make_product(price=Decimal("7.00"))
    for include, words in ((True, "incl. VAT"), (False, "excl. VAT")):
        settings.SHOP_PRICES_INCLUDE_VAT = include
        for url in (reverse("shop:product_list"), product.get_absolute_url()):
            assert words in text(client.get(url)), (url, include)


def test_checkout_button_says_it_commits_to_pay(client, make_product):
    _fill_cart(client, make_product(), 1)
    html = client.get(reverse("orders:order_create")).content.decode()
    assert re.search(r'<button type="submit"[^>]*>\s*Place order and pay later\s*</button>', html) or re.search(
        r'<button type="submit"[^>]*>\s*Place order with obligation to pay\s*</button>', html
    ), html


# --- checkout errors ------------------------------------------------------------------------------------


def test_checkout_errors_are_summarised_at_the_top_with_links_and_say_what_to_fix(client, make_product, customer):
    _fill_cart(client, make_product(), 1)
    response = client.post(reverse("orders:order_create"), {**customer, "first_name": "", "email": "nope", "city": ""})
    html = response.content.decode()
    assert response.status_code == 400
    assert re.search(r"<title>Error: Checkout", html)
    summary = re.search(r'<div class="error-summary"[^>]*>(.*?)</div>', html, re.S)
    assert summary, html
    links = re.findall(r'<a href="#(id_\w+)">([^<]+)</a>', summary.group(1))
    assert links == [
        ("id_first_name", "Enter your first name"),
        ("id_email", "Enter an email address like name@example.com"),
        ("id_city", "Enter your town or city"),
    ], links
    assert "This field is required." not in html
    assert re.search(r'<script src="/static/js/shop\.js" defer></script>', html)


def test_checkout_without_errors_has_no_summary_and_a_plain_title(client, make_product):
    _fill_cart(client, make_product(), 1)
    html = client.get(reverse("orders:order_create")).content.decode()
    assert "error-summary" not in html and "<title>Checkout" in html


# --- quantities ------------------------------------------------------------------------------------------


def _quantity_max(html, name="quantity"):
    return int(re.search(r'<input type="number" name="' + name + r'"[^>]*max="(\d+)"', html).group(1))


def test_product_page_quantity_stops_at_what_can_still_be_added(client, make_product, settings):
    settings.CART_MAX_QUANTITY = 20
    scarce = make_product(stock=5)
    assert _quantity_max(client.get(scarce.get_absolute_url()).content.decode()) == 5
    _fill_cart(client, scarce, 3)
    html = client.get(scarce.get_absolute_url()).content.decode()
    assert _quantity_max(html) == 2 and "3 already in your cart" in text(client.get(scarce.get_absolute_url()))
    plenty = make_product(stock=100)
    assert _quantity_max(client.get(plenty.get_absolute_url()).content.decode()) == 20


def test_product_page_when_the_cart_holds_all_there_is(client, make_product):
    product = make_product(stock=2)
    _fill_cart(client, product, 2)
    page = text(client.get(product.get_absolute_url()))
    assert "All 2 left are in your cart" in page and "Add to cart" not in page


def test_asking_more_than_the_stock_keeps_the_chosen_quantity_and_says_what_is_possible(client, make_product):
    product = make_product(name="Teapot", stock=5)
    _fill_cart(client, product, 3)
    response = client.post(reverse("cart:cart_add", args=[product.id]), {"quantity": 4}, follow=True)
    assert response.redirect_chain[-1][0] == product.get_absolute_url()
    html = response.content.decode()
    assert "Only 5 of “Teapot” left in stock, and 3 are in your cart: you can add up to 2 more." in text(response)
    assert re.search(r'<input type="number" name="quantity" value="4"', html), html
    # Shown once: the next visit starts from 1 again.
    assert 'value="4"' not in client.get(product.get_absolute_url()).content.decode()
    response = client.post(reverse("cart:cart_update", args=[product.id]), {"quantity": 9}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("cart:cart_detail")
    assert "Only 5 of “Teapot” left in stock." in text(response)
    assert re.search(r'<input type="number" name="quantity" value="9"', response.content.decode())
    from cart.cart import Cart

    assert Cart(client.session).quantities() == {product.id: 3}


def test_cart_page_quantity_max_follows_stock_and_the_line_cap(client, make_product, settings):
    settings.CART_MAX_QUANTITY = 20
    scarce, plenty = make_product(stock=4), make_product(stock=500)
    _fill_cart(client, scarce, 1)
    _fill_cart(client, plenty, 1)
    html = client.get(reverse("cart:cart_detail")).content.decode()
    assert re.findall(r'<input type="number" name="quantity"[^>]*max="(\d+)"', html) == ["4", "20"]


# --- catalog ---------------------------------------------------------------------------------------------


def test_navigation_lists_only_categories_with_something_to_buy(client, make_category, make_product):
    tea = make_category(name="Tea", slug="tea")
    make_product(category=tea)
    make_category(name="Empty shelf", slug="empty-shelf")
    hidden = make_category(name="Withdrawn", slug="withdrawn")
    make_product(category=hidden, available=False)
    sold_out = make_category(name="Sold out shelf", slug="sold-out-shelf")
    make_product(category=sold_out, stock=0)
    page = client.get(reverse("shop:product_list")).content.decode()
    nav = re.search(r'<nav class="categories".*?</nav>', page, re.S).group(0)
    assert "Tea" in nav and "Sold out shelf" in nav
    assert "Empty shelf" not in nav and "Withdrawn" not in nav


def test_each_product_card_is_one_link(client, make_product):
    product = make_product(name="Blue mug")
    html = client.get(reverse("shop:product_list")).content.decode()
    card = re.search(r'<li class="card product-card">.*?</li>', html, re.S).group(0)
    assert re.findall(r"<a\b[^>]*href=\"([^\"]+)\"", card) == [product.get_absolute_url()]


def test_every_page_starts_with_a_skip_link_to_the_content(client, db):
    html = client.get(reverse("shop:product_list")).content.decode()
    first_link = re.search(r"<a\b[^>]*>.*?</a>", html.split("<body", 1)[1], re.S).group(0)
    assert 'href="#main"' in first_link and "Skip to content" in first_link
    assert re.search(r'<main[^>]*id="main"', html)


def test_pages_ship_no_inline_script_or_style_attribute(client, make_product, customer):
    product = make_product(stock=3)
    _fill_cart(client, product, 1)
    pages = [
        client.get(reverse("shop:product_list")),
        client.get(product.get_absolute_url()),
        client.get(reverse("cart:cart_detail")),
        client.get(reverse("orders:order_create")),
        client.post(reverse("orders:order_create"), {**customer, "email": "x"}),
        client.get("/nope/"),
    ]
    for response in pages:
        html = response.content.decode()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), response.request["PATH_INFO"]
        assert not re.search(r"<[^>]+\sstyle=", html), response.request["PATH_INFO"]
        assert not re.search(r"<[^>]+\son[a-z]+=", html), response.request["PATH_INFO"]  # no inline handlers


# --- bin/run -------------------------------------------------------------------------------------------------


def test_bin_run_points_email_links_at_the_port_it_serves(tmp_path):
    """bin/run with its commands stubbed: the web server's port and SHOP_SITE_URL agree unless one is set."""
    import os
    import shutil
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    (tmp_path / "bin").mkdir()
    shutil.copy(root / "bin" / "run", tmp_path / "bin" / "run")
    (tmp_path / "bin" / "_setup.sh").write_text("")
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    for tool in ("python", "celery"):
        stub = tmp_path / ".venv" / "bin" / tool
        stub.write_text('#!/bin/sh\ncase "$*" in *runserver*) echo "serves $* at $SHOP_SITE_URL";; esac\n')
        stub.chmod(0o755)

    def run(**env):
        base = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
        return subprocess.run(
            ["bash", "bin/run"], cwd=tmp_path, env={**base, **env}, capture_output=True, text=True, timeout=30
        ).stdout

    assert "127.0.0.1:8000 at http://127.0.0.1:8000" in run()
    assert "127.0.0.1:8123 at http://127.0.0.1:8123" in run(PORT="8123")
    assert "at https://shop.example.com" in run(PORT="8123", SHOP_SITE_URL="https://shop.example.com")


def test_product_page_when_the_cart_holds_the_most_one_line_may(client, make_product, settings):
    settings.CART_MAX_QUANTITY = 3
    product = make_product(stock=50)
    _fill_cart(client, product, 3)
    page = text(client.get(product.get_absolute_url()))
    assert "Your cart holds 3, the most one order can take." in page and "Add to cart" not in page
    response = client.post(reverse("cart:cart_add", args=[product.id]), {"quantity": 1}, follow=True)
    assert "You can order at most 3 of" in text(response) and "you cannot add more." in text(response)
