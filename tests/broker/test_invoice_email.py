"""The payment and invoice path end to end, with the real pieces as subprocesses (testkit): the web server, a
private RabbitMQ node, Celery workers with production settings, an SMTP server. The offline provider's webhook
is sent by the worker to the web server; the worker renders the invoice and emails it through the outbox.
(A worker killed mid-render: tests/faults/test_worker_deaths.py.)"""

import pytest

from orders.models import Order, OrderEmail
from payments.models import Invoice, Payment
from testkit.outbox import order_and_pay, pdf_attachment, pdf_text
from testkit.waiting import holds_for, wait_for

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]


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
