"""The order's language: kept at checkout, and every email and the invoice written in it by whatever process
sends them, whatever language that process has active (the real worker: tests/broker/test_german_order.py)."""

from decimal import Decimal
from unittest.mock import patch

import pytest
from celery.exceptions import Retry
from django.urls import reverse
from django.utils import translation

from orders import emails
from orders.models import Order, OrderEmail
from orders.services import Shipment, change_status, place_order, ship
from orders.tasks import load_order, order_created
from shop.templatetags.shop_text import local_datetime
from testkit.outbox import pdf_text

GERMAN_MONTHS = "Januar Februar März April Mai Juni Juli August September Oktober November Dezember".split()
EURO = "\xa0€"  # German money has a no-break space before the sign: "1.234,50 €"


@pytest.fixture(autouse=True)
def invoice_storage(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "invoices": {"BACKEND": "payments.storage.PrivateStorage", "OPTIONS": {"location": tmp_path / "invoices"}},
    }


@pytest.fixture
def lamp(make_product):
    return make_product(name="Lamp", price=Decimal("1234.50"))


def _order(customer, lamp, language):
    return place_order(customer=customer, quantities={lamp.id: 1}, language=language)


def _email(order, kind):
    return emails.message(load_order(order.id), emails.KINDS[kind])


def _paid(order):
    with patch("celery.app.task.Task.apply_async"):  # the invoice email is published after the commit
        change_status(order_ids=[order.id], to="paid")


@pytest.mark.parametrize("language", ["de", "xx", "", None])
def test_the_order_keeps_a_language_of_the_shop_or_the_default(db, customer, lamp, language):
    order = _order(customer, lamp, language)
    assert Order.objects.get(id=order.id).language == ("de" if language == "de" else "en")


def test_a_german_orders_emails_and_invoice_are_german_whatever_the_sender_has_active(db, customer, lamp):
    order = _order(customer, lamp, "de")
    with translation.override("en"):
        confirmation = _email(order, "confirmation")
        _paid(order)
        invoice_email = _email(order, "invoice")
        ship(shipments={order.id: Shipment("dhl", "00340434161094042557")})
        shipping = _email(order, "shipping")
    with translation.override("de"):
        placed = local_datetime(order.created)  # "7. Dezember 2026 10:38 CET"
    assert placed.split()[1] in GERMAN_MONTHS, placed
    assert confirmation.subject == f"myshop: Bestellung {order.number} eingegangen"
    assert confirmation.body.startswith("Hallo Ada,") and f"vom {placed} erhalten" in confirmation.body
    assert f"Gesamtsumme: 1.234,50{EURO}" in confirmation.body and "Versand: kostenlos" in confirmation.body
    assert f"Zwischensumme: 1.234,50{EURO}" in confirmation.body and "Deutschland" in confirmation.body
    assert f"/de/orders/{order.token}/" in confirmation.body
    html = confirmation.alternatives[0].content
    assert '<html lang="de">' in html and "Wie es weitergeht" in html and f"1.234,50{EURO}" in html
    number = order.invoice.number
    assert invoice_email.subject == f"myshop: Rechnung {number} zur Bestellung {order.number}"
    assert "Vielen Dank für Ihre Zahlung" in invoice_email.body and f"/de/orders/{order.token}/" in invoice_email.body
    [(filename, pdf, _)] = invoice_email.attachments
    assert filename == f"Rechnung-{number}.pdf"  # the file's name in the shopper's language too
    text = pdf_text(pdf)
    assert f"Rechnung {number}" in text and "RECHNUNGSDATUM" in text and "USt-IdNr." in text, text
    assert "Gesamtsumme 1.234,50 €" in text and f"aufgegeben am {placed}" in text and "Invoice" not in text, text
    assert shipping.subject == f"myshop: Bestellung {order.number} wurde versandt"
    assert "Sendungsnummer: 00340434161094042557" in shipping.body and "Im Paket" in shipping.body


def test_an_english_orders_email_stays_english_when_german_is_active(db, customer, lamp):
    order = _order(customer, lamp, "en")
    with translation.override("de"):
        confirmation = _email(order, "confirmation")
    assert confirmation.subject == f"myshop: order {order.number} received"
    assert confirmation.body.startswith("Hello Ada,") and "Total: €1,234.50" in confirmation.body
    assert f"/en/orders/{order.token}/" in confirmation.body and "Germany" in confirmation.body


def test_a_retry_and_an_operators_resend_of_a_german_order_are_german(
    db, customer, lamp, mailoutbox, admin_client, django_capture_on_commit_callbacks
):
    order = _order(customer, lamp, "de")
    with translation.override("en"):
        with patch("orders.mail.Sending.send", side_effect=ConnectionRefusedError("refused")):
            with pytest.raises(Retry):
                order_created(order.id)
        assert order_created(order.id) == "sent"  # the retry, as the broker delivers it again
        with patch.object(order_created, "delay"), django_capture_on_commit_callbacks(execute=True):
            admin_client.post(
                reverse("admin:orders_order_changelist"),
                {"action": "resend_confirmation", "_selected_action": [order.id]},
            )
        assert OrderEmail.objects.get(order=order, kind="confirmation").state == "pending"
        assert order_created(order.id) == "sent"  # the resend, as the worker runs it
    assert [email.subject for email in mailoutbox] == [f"myshop: Bestellung {order.number} eingegangen"] * 2
    assert all(email.body.startswith("Hallo Ada,") for email in mailoutbox)


def test_the_german_checkout_page_and_its_form_errors(client, customer, lamp):
    client.post(reverse("cart:cart_add", args=[lamp.id]), {"quantity": 1})
    with translation.override("de"):
        checkout = reverse("orders:order_create")
    assert checkout == "/de/orders/create/"
    page = client.get(checkout).content.decode()
    assert "<h1>Kasse</h1>" in page and "Zahlungspflichtig bestellen" in page and "Straße und Hausnummer" in page
    assert f"1.234,50{EURO}" in page and "Deutschland" in page
    response = client.post(checkout, {**customer, "postal_code": "1011"})
    page = response.content.decode()
    assert response.status_code == 400 and "Bitte prüfen Sie Ihre Bestellung" in page
    assert "Geben Sie eine gültige Postleitzahl für Deutschland ein, z. B. 10115" in page
    assert not Order.objects.exists()
