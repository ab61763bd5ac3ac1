"""The payment and invoice path end to end, with the real pieces as subprocesses (testkit): the web server, a
private RabbitMQ node, Celery workers with production settings, an SMTP server. The offline provider's webhook
is sent by the worker to the web server; the worker renders the invoice and emails it through the outbox."""

import re
import subprocess
import urllib.parse
from email import policy
from email.parser import BytesParser

import pytest

from orders.models import Order, OrderEmail
from payments.models import Invoice, Payment
from testkit.outbox import CUSTOMER
from testkit.shopper import Shopper, placed_order_number
from testkit.waiting import holds_for, wait_for

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def paying_shop(shop, tmp_path, products):
    """The shop with its webhook address known to the workers, and invoices in a private folder."""
    shop.env.update(PRIVATE_MEDIA_ROOT=str(tmp_path / "private"), PAYMENT_OFFLINE_CONFIRM_SECONDS="0.5")
    shop.web_process = shop.web()
    shop.env["SHOP_SITE_URL"] = shop.web_process.base_url  # where the provider posts, and the emails link to
    return shop


def order_and_pay(web, products, email="ada@example.com"):
    shopper = Shopper(web.base_url)
    for product in products:
        assert shopper.add_to_cart(product.id, 1) == 302
    status, location, body, _ = shopper.checkout({**CUSTOMER, "email": email})
    assert placed_order_number(status, body), body[:500]
    token, back = shopper.pay_offline()
    order = Order.objects.get(token=token)
    # The web server was started before its port was known to it: the path of the return address is its own.
    page = shopper.request("GET", urllib.parse.urlsplit(back)._replace(scheme="", netloc="").geturl())[2]
    assert "Payment being confirmed" in page or "Paid." in page
    return order, shopper


def pdf_attachment(message):
    parsed = BytesParser(policy=policy.default).parsebytes(message.as_bytes())
    [attachment] = [part for part in parsed.iter_attachments() if part.get_content_type() == "application/pdf"]
    return attachment.get_filename(), attachment.get_content()


def pdf_text(data):
    return " ".join(
        subprocess.run(["pdftotext", "-", "-"], input=data, capture_output=True, check=True).stdout.decode().split()
    )


def test_a_paid_order_gets_its_invoice_by_email_once_with_the_pdf(paying_shop, products):
    paying_shop.worker(beat=True)
    order, shopper = order_and_pay(paying_shop.web_process, products)  # Blue mug €7.00 + Teapot €20.50 + €4.90

    wait_for(
        lambda: Order.objects.filter(id=order.id, status="paid").exists(),
        timeout=30,
        what="the provider's webhook, sent by the worker, to mark the order paid",
    )
    invoice = Invoice.objects.get(order=order)
    [message] = wait_for(
        lambda: paying_shop.sink.messages_of("invoice", order.id), timeout=30, what="the invoice email"
    )
    filename, data = pdf_attachment(message)
    assert filename == f"invoice-{invoice.number}.pdf"
    text = pdf_text(data)
    assert f"Invoice {invoice.number}" in text and "Total €32.40" in text, text
    assert holds_for(lambda: len(paying_shop.sink.messages_of("invoice", order.id)) == 1, 2)
    assert OrderEmail.objects.get(order=order, kind="invoice").state == "sent"
    status_page = shopper.request("GET", order.get_absolute_url())[2]
    assert f"Download invoice {invoice.number} (PDF)" in status_page
    assert Payment.objects.get(order=order).state == "succeeded"


@pytest.mark.any_database  # a worker's death mid-render, with real timings: once, in the PostgreSQL pass
def test_a_worker_killed_while_rendering_the_invoice_is_replaced_and_the_invoice_sent_once(paying_shop, products):
    first = paying_shop.worker(name="renderer")
    order, _ = order_and_pay(paying_shop.web_process, products)
    wait_for(
        lambda: re.search(rf"order {order.id}: rendering invoice", first.log()),
        timeout=30,
        what="the worker to start rendering the invoice",
    )
    first.kill()  # SIGKILL, mid-render (WeasyPrint is loaded by the first render)
    assert not re.search(rf"order {order.id}: invoice \S+ rendered", first.log()), "the kill came too late"
    assert paying_shop.sink.messages_of("invoice", order.id) == []

    paying_shop.worker(name="replacement")  # RabbitMQ hands it the message again; the dead claim lapses
    [message] = wait_for(
        lambda: paying_shop.sink.messages_of("invoice", order.id),
        timeout=60,
        what="the replacement worker's invoice email",
    )
    invoice = Invoice.objects.get(order=order)
    assert invoice.sequence == 1  # the number was given with the payment: the kill burnt none
    assert invoice.number in pdf_text(pdf_attachment(message)[1])
    assert holds_for(lambda: len(paying_shop.sink.messages_of("invoice", order.id)) == 1, 3)
    email = OrderEmail.objects.get(order=order, kind="invoice")
    assert (email.state, email.attempts) == ("sent", 2)
