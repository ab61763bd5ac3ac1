"""An order placed in German, end to end: the test client places it at /de/orders/create/, the order is paid,
and the real worker, over the real RabbitMQ, sends its confirmation and its invoice in German, the PDF too.
The worker's threads have no language of their own: only the order's switches them to German."""

from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import translation

from orders.models import Order, OrderEmail
from orders.services import change_status
from shop.templatetags.shop_text import local_datetime
from testkit.outbox import pdf_text
from testkit.waiting import wait_for

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def invoice_storage(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "invoices": {"BACKEND": "payments.storage.PrivateStorage", "OPTIONS": {"location": tmp_path / "invoices"}},
    }


def _sent(order, kind):
    return OrderEmail.objects.filter(order=order, kind=kind, state="sent").exists()


def test_an_order_placed_in_german_gets_german_emails_and_a_german_invoice(
    client, make_product, customer, worker_outbox
):
    mug = make_product(name="Blue mug", price=Decimal("617.25"))
    client.post(reverse("cart:cart_add", args=[mug.id]), {"quantity": 2})

    response = client.post("/de/orders/create/", customer)

    order = Order.objects.get()
    assert response.status_code == 200 and "Vielen Dank für Ihre Bestellung" in response.content.decode()
    assert order.language == "de"
    wait_for(lambda: _sent(order, "confirmation"), what="the worker to send the confirmation")
    change_status(order_ids=[order.id], to="paid")  # as a webhook or an operator does: the invoice is numbered
    wait_for(lambda: _sent(order, "invoice"), what="the worker to send the invoice")

    with translation.override("de"):
        placed = local_datetime(order.created)  # "7. Dezember 2026 10:38 CET"
    confirmation, invoice_email = worker_outbox
    assert confirmation.subject == f"myshop: Bestellung {order.number} eingegangen"
    assert confirmation.body.startswith("Hallo Ada,") and f"Bestellung {order.number} vom {placed} erhalten" in (
        confirmation.body
    )
    assert "Zwischensumme: 1.234,50\xa0€" in confirmation.body and "Wie es weitergeht" in confirmation.body
    assert f"/de/orders/{order.token}/" in confirmation.body
    invoice = order.invoice
    assert invoice_email.subject == f"myshop: Rechnung {invoice.number} zur Bestellung {order.number}"
    assert "Vielen Dank für Ihre Zahlung" in invoice_email.body and "Bezahlt insgesamt: 1.234,50\xa0€" in (
        invoice_email.body
    )
    [(filename, pdf, mimetype)] = invoice_email.attachments
    text = pdf_text(pdf)
    # The attachment is named in German too.
    assert filename == f"Rechnung-{invoice.number}.pdf" and mimetype == "application/pdf"
    assert f"Rechnung {invoice.number}" in text and "Gesamtsumme 1.234,50 €" in text, text
    assert f"aufgegeben am {placed}" in text and "Enthaltene MwSt." in text and "Invoice" not in text, text
