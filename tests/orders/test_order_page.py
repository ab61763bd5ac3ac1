"""The admin's order page in the operator's words: no internal text, nothing empty, the money in full."""

import html as entities
import re
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.urls import reverse
from django.utils.html import strip_tags

from orders.models import Order, OrderItem
from payments.models import Payment


def page_text(admin_client, order):
    html = admin_client.get(reverse("admin:orders_order_change", args=[order.id])).content.decode()
    content = html[html.index('<main id="content-start"') :]  # the page, without the navigation beside it
    return html, " ".join(entities.unescape(strip_tags(content)).split())


def test_a_payment_is_described_as_an_operator_says_it(admin_client, customer, make_product, settings):
    settings.TIME_ZONE = "Europe/Berlin"
    order = Order.objects.create(**customer, subtotal=Decimal("30.70"), total=Decimal("30.70"))
    OrderItem.objects.create(order=order, product=make_product(), price=Decimal("30.70"), quantity=1)
    payment = Payment.objects.create(order=order, provider="stripe", amount=order.total, currency="EUR", state="failed")
    Payment.objects.filter(id=payment.id).update(created=datetime(2026, 12, 7, 13, 2, tzinfo=ZoneInfo("UTC")))
    html, text = page_text(admin_client, order)
    assert "Card payment, declined, 7 Dec 14:02, €30.70" in text
    assert f"Payment {payment.id} of order" not in text
    assert "Problem" not in text and ": None" not in text  # nothing to say: nothing said
    crumbs = re.search(r'<div class="breadcrumbs">(.*?)</div>', html, re.S).group(1)
    crumbs = " ".join(entities.unescape(strip_tags(crumbs)).split())
    assert crumbs == f"Home › Orders › Order {order.number}"
    assert f"<h1>Order {order.number}</h1>" in html
    assert "Invoice" not in text and "by hand" not in text  # empty sections are left out


def test_a_payment_with_a_problem_says_so(admin_client, customer):
    order = Order.objects.create(**customer, status="cancelled", total=Decimal("9.00"))
    Payment.objects.create(order=order, provider="offline", amount=Decimal("9.00"), currency="EUR", problem="late")
    html, _ = page_text(admin_client, order)
    assert "<dt>Problem</dt><dd>Paid after the order was cancelled</dd>" in html


def test_the_money_section_shows_the_discount_with_its_coupon_only_when_there_is_one(admin_client, customer):
    money = {"subtotal": Decimal("40.00"), "shipping_cost": Decimal("4.90")}
    plain = Order.objects.create(**customer, **money, total=Decimal("44.90"))
    coupon = Order.objects.create(
        **customer, **money, discount=Decimal("4.00"), coupon_code="SPRING10", total=Decimal("40.90")
    )
    _, text = page_text(admin_client, coupon)
    assert "Subtotal: €40.00 Discount: −€4.00 (coupon SPRING10) Shipping: €4.90 Total: €40.90" in text
    assert "Discount (coupon SPRING10)−€4.00" in text  # under the lines too
    _, text = page_text(admin_client, plain)
    assert "Discount" not in text and "Subtotal: €40.00 Shipping: €4.90 Total: €44.90" in text


def test_a_shipped_order_shows_its_parcel_with_the_tracking_link(admin_client, customer):
    order = Order.objects.create(**customer, status="shipped", carrier="dpd", tracking_number="01234567890123")
    html, text = page_text(admin_client, order)
    assert "Parcel: DPD, 01234567890123" in text
    assert 'href="https://tracking.dpd.de/status/de_DE/parcel/01234567890123"' in html
