"""A running shop's emails, for the fault tests: an order placed (and paid) through its web server, the outbox
rows of the emails it owes, the copies the SMTP server received, an invoice's PDF, and an operator's resend
from the admin."""

import subprocess
import urllib.parse
from email import policy
from email.parser import BytesParser

from orders.models import Order, OrderEmail
from testkit.shopper import Shopper, placed_order_number

CUSTOMER = {
    "first_name": "Ada",
    "last_name": "Lovelace",
    "email": "ada@example.com",
    "address": "12 Analytical Street",
    "postal_code": "10115",
    "city": "Berlin",
}


def place_order(web, products, email="ada@example.com"):
    """Fill a cart and check out through the web server; return (order, seconds the checkout POST took)."""
    shopper = Shopper(web.base_url)
    for product in products:
        assert shopper.add_to_cart(product.id, 1) == 302
    status, location, body, seconds = shopper.checkout({**CUSTOMER, "email": email})
    order = Order.objects.latest("id")
    assert placed_order_number(status, body) == order.number, body[:500]  # the answer is its thank-you page
    return order, seconds


def emails_for(sink, order, kind="confirmation"):
    """The copies of `order`'s `kind` email the SMTP server received (one item per copy)."""
    return [order_id for order_id in sink.order_ids(kind) if order_id == order.id]


def email_row(order, kind="confirmation"):
    return OrderEmail.objects.get(order_id=order.id, kind=kind)


def email_in_state(order, state, kind="confirmation"):
    return OrderEmail.objects.filter(order_id=order.id, kind=kind, state=state).exists()


def operator_resends(web, order, settings, action="resend_confirmation"):
    """An operator logs in to the running web server's admin and runs `action` on `order`."""
    from django.contrib.auth import get_user_model

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]  # as the web server has
    get_user_model().objects.create_superuser("operator", "op@example.com", "a-long-password-123")
    operator = Shopper(web.base_url)
    status, _, body = operator.request(
        "POST", "/admin/login/?next=/admin/", {"username": "operator", "password": "a-long-password-123"}
    )
    assert status == 302, body[-3000:]
    status, _, _ = operator.request(
        "POST", "/admin/orders/order/", {"action": action, "_selected_action": order.id, "index": 0}
    )
    assert status == 302


def order_and_pay(web, products, email="ada@example.com"):
    """Check out through the web server and pay with the offline provider; return (order, shopper)."""
    shopper = Shopper(web.base_url)
    for product in products:
        assert shopper.add_to_cart(product.id, 1) == 302
    status, location, body, _ = shopper.checkout({**CUSTOMER, "email": email})
    assert placed_order_number(status, body), body[:500]
    token, back = shopper.pay_offline()
    order = Order.objects.get(token=token)
    # The web server was started before its port was known to it: the path of the return address is its own.
    page = shopper.request("GET", urllib.parse.urlsplit(back)._replace(scheme="", netloc="").geturl())[2]
    assert "Checking your payment" in page or "Paid." in page
    return order, shopper


def pdf_attachment(message):
    """The (filename, bytes) of the one PDF attached to an email the SMTP server received."""
    parsed = BytesParser(policy=policy.default).parsebytes(message.as_bytes())
    [attachment] = [part for part in parsed.iter_attachments() if part.get_content_type() == "application/pdf"]
    return attachment.get_filename(), attachment.get_content()


def pdf_text(data):
    """The words of a PDF (pdftotext), joined by single spaces."""
    return " ".join(
        subprocess.run(["pdftotext", "-", "-"], input=data, capture_output=True, check=True).stdout.decode().split()
    )
