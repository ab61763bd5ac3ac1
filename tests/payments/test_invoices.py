"""Invoices: numbered gapless per year when the order is paid (once, by whatever path), rendered to PDF by the
worker inside the invoice email's outbox claim, stored where no URL serves it, emailed once with the PDF,
downloaded by the customer (order token) and operators (admin) only."""

import stat
import subprocess
import threading
from datetime import datetime
from decimal import Decimal
from unittest.mock import patch

import pytest
from celery.exceptions import Retry
from django.db import connections, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from orders.models import Order, OrderEmail
from orders.services import change_status, place_order
from payments import invoices
from payments.models import Invoice, InvoiceSequence
from payments.tasks import invoice_email
from shop.models import Product
from shop.templatetags.shop_text import local_datetime
from testkit.outbox import pdf_text as outbox_pdf_text
from testkit.payments import place


@pytest.fixture(autouse=True)
def invoice_storage(settings, tmp_path):
    """Invoices stored under a temporary private root, as PRIVATE_MEDIA_ROOT would place them."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.STORAGES = {
        **settings.STORAGES,
        "invoices": {
            "BACKEND": "payments.storage.PrivateStorage",
            "OPTIONS": {"location": tmp_path / "private" / "invoices"},
        },
    }
    return tmp_path / "private" / "invoices"


def pay(order):
    """The order paid (as a webhook or an operator does it): its invoice is numbered now."""
    with patch("celery.app.task.Task.apply_async"):
        changed, _ = change_status(order_ids=[order.id], to="paid")
    assert changed == [order.id]
    return Invoice.objects.get(order=order)


@pytest.fixture
def paid(make_product, customer):
    order = place(make_product, customer)  # 2 teapots at €20.50 + €4.90 shipping = €45.90
    return order, pay(order)


def pdf_text(data):
    result = subprocess.run(["pdftotext", "-layout", "-", "-"], input=data, capture_output=True, check=True)
    return result.stdout.decode()


def invoice_row(order):
    return OrderEmail.objects.get(order=order, kind="invoice")


# --- Numbers --------------------------------------------------------------------------------------------------


def test_invoices_are_numbered_one_by_one_in_the_year_of_payment(make_product, customer):
    year = timezone.localdate().year  # the shop's year (Berlin), not UTC's: they differ for an hour a year
    numbers = [pay(place(make_product, customer)).number for _ in range(3)]
    assert numbers == [f"{year}-000001", f"{year}-000002", f"{year}-000003"]
    assert InvoiceSequence.objects.get(year=year).last_number == 3


def test_each_year_starts_again_at_one(make_product, customer):
    InvoiceSequence.objects.create(year=2031, last_number=41)
    with patch("payments.invoices.timezone.localtime", return_value=datetime(2031, 12, 31, 23, 59)):
        assert pay(place(make_product, customer)).number == "2031-000042"
    with patch("payments.invoices.timezone.localtime", return_value=datetime(2032, 1, 1, 0, 0)):
        assert pay(place(make_product, customer)).number == "2032-000001"


def test_a_payment_rolled_back_gives_its_number_back(make_product, customer):
    first, second = place(make_product, customer), place(make_product, customer)
    with pytest.raises(RuntimeError), transaction.atomic():
        pay(first)
        raise RuntimeError("the process died before the payment committed")
    assert not Invoice.objects.exists()
    assert pay(second).sequence == 1  # no gap where the rolled-back number was


def test_an_order_is_invoiced_once_whatever_path_led_to_paid(paid):
    order, invoice = paid
    with patch("celery.app.task.Task.apply_async"):
        assert change_status(order_ids=[order.id], to="paid") == (
            [],
            {order.id: f"Order {order.number} is paid: it cannot be marked paid."},
        )
        assert invoices.issue(order_id=order.id) == invoice
    assert Invoice.objects.count() == 1 and OrderEmail.objects.filter(kind="invoice").count() == 1


@pytest.mark.django_db(transaction=True)
def test_payments_at_the_same_moment_get_distinct_consecutive_numbers(make_product, customer):
    orders = [place(make_product, customer) for _ in range(8)]
    start = threading.Barrier(len(orders))
    errors = []

    def pay_in_thread(order):
        try:
            start.wait(timeout=10)
            change_status(order_ids=[order.id], to="paid")
        except Exception as error:  # noqa: BLE001  (reported below)
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=pay_in_thread, args=(order,)) for order in orders]
    # Patched once, here: a patch entered and left in each thread could restore another thread's mock.
    with patch("celery.app.task.Task.apply_async"):
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert errors == []
    assert sorted(Invoice.objects.values_list("sequence", flat=True)) == list(range(1, 9))


# --- The PDF and its email -----------------------------------------------------------------------------------


def test_the_invoice_email_carries_the_pdf_with_the_number_lines_and_total(paid, mailoutbox):
    order, invoice = paid
    assert invoice_email(order.id) == "sent"
    [message] = mailoutbox
    assert message.to == ["ada@example.com"] and invoice.number in message.subject
    assert f"Your invoice {invoice.number} is attached" in message.body
    assert "Total paid: €45.90 (incl. €7.33 VAT)" in message.body and "(incl. €7.33 VAT)" in message.alternatives[0][0]
    assert message.extra_headers["Message-ID"].startswith(f"<order-{order.id}-invoice.")
    [(filename, data, mimetype)] = message.attachments
    assert (filename, mimetype) == (f"invoice-{invoice.number}.pdf", "application/pdf") and data.startswith(b"%PDF")
    text = pdf_text(data)
    for words in (
        f"Invoice {invoice.number}",
        "Teapot",
        "€20.50",
        "€41.00",
        "€4.90",
        "€45.90",
        "Ada Lovelace",
        "10115 Berlin",
        f"{order.number}, placed",
    ):
        assert words in text, f"{words!r} not in the PDF:\n{text}"
    assert invoice_row(order).state == "sent"


@pytest.fixture
def discounted(make_product, customer, settings):
    """Paid: 2 teas at 7 % VAT (€8.00) and 2 teapots at 19 % (€20.50), €5.70 off with a coupon, €4.90 shipping."""
    settings.SHOP_FREE_SHIPPING_FROM = None
    tea = make_product(name="Green tea", price=Decimal("8.00"), stock=5, vat_class=Product.VatClass.REDUCED)
    pot = make_product(name="Teapot", price=Decimal("20.50"), stock=5)
    with patch("celery.app.task.Task.apply_async"):
        order = place_order(customer=customer, quantities={tea.id: 2, pot.id: 2})
    # As the coupon sets them at checkout: the goods €57.00, 10 % off.
    Order.objects.filter(id=order.id).update(discount=Decimal("5.70"), coupon_code="SPRING10", total=Decimal("56.20"))
    order.refresh_from_db()
    return order, pay(order)


def words(data):
    return outbox_pdf_text(data)  # in reading order, one column after the other


def test_the_invoice_states_what_an_eu_invoice_must(discounted, settings):
    settings.SHOP_SELLER_NAME = "Teehaus Lovelace GmbH"
    settings.SHOP_SELLER_ADDRESS = "Hafenstraße 5\n20095 Hamburg\nGermany"
    settings.SHOP_SELLER_VAT_ID = "DE123456789"
    settings.SHOP_SELLER_REGISTRATION = "Amtsgericht Hamburg, HRB 99999"
    order, invoice = discounted
    text = words(invoices.render_pdf(invoice, order))
    for required in (
        # The seller: name, address, VAT ID (and the register entry when given).
        "Teehaus Lovelace GmbH Hafenstraße 5 20095 Hamburg Germany VAT ID: DE123456789",
        "Amtsgericht Hamburg, HRB 99999",
        # The buyer, the number, the dates (labels in capitals: text-transform).
        "BILLED TO INVOICE NUMBER Ada Lovelace 12 Analytical Street 10115 Berlin Germany",
        f"{invoice.number} INVOICE DATE {local_datetime(invoice.issued_at)}",
        f"PAYMENT RECEIVED {local_datetime(invoice.issued_at)}",  # marked paid by an operator: no payment row
        "DATE OF SUPPLY The day of dispatch, within 2 working days of payment",
        # Each line: quantity, VAT rate, unit price without and with VAT, amount.
        "Green tea 2 7% €7.48 €8.00 €16.00",
        "Teapot 2 19% €17.23 €20.50 €41.00",
        # The discount with its code, shipping, the total and the VAT in it.
        "Subtotal €57.00 Discount (coupon SPRING10) -€5.70 Shipping €4.90 Total €56.20 Included VAT €7.48",
        # Per rate: the discount (4.10 / 1.60) and shipping (3.52 / 1.38) follow the goods.
        "19% €33.97 €6.45 €40.42",
        "7% €14.75 €1.03 €15.78",
        "All rates €48.72 €7.48 €56.20",
        "All prices include VAT.",
    ):
        assert required in text, f"{required!r} not in the PDF:\n{text}"


def test_an_invoice_of_prices_without_vat_adds_the_vat_to_them(discounted, settings):
    settings.SHOP_PRICES_INCLUDE_VAT = False
    order, invoice = discounted
    text = words(invoices.render_pdf(invoice, order))
    # €56.20 net: 19 % on 40.42 is 7.68, 7 % on 15.78 is 1.10.
    for required in (
        "Green tea 2 7% €8.00 €16.00",
        "Total excl. VAT €56.20 VAT €8.78 Total €64.98",
        "19% €40.42 €7.68 €48.10",
        "7% €15.78 €1.10 €16.88",
        "All prices exclude VAT.",
    ):
        assert required in text, f"{required!r} not in the PDF:\n{text}"


def test_an_invoice_made_with_the_demo_seller_says_so(paid):
    order, invoice = paid
    text = words(invoices.render_pdf(invoice, order))
    assert "myshop Demo GmbH (not a real company)" in text and "VAT ID: DE000000000" in text


def test_a_second_delivery_sends_nothing_and_renders_nothing(paid, mailoutbox):
    order, _ = paid
    invoice_email(order.id)
    with patch("payments.invoices.render_pdf") as render:
        assert invoice_email(order.id) == "already-done"
    assert not render.called and len(mailoutbox) == 1


def test_the_pdf_is_rendered_once_and_kept_in_private_storage(paid, invoice_storage, settings, mailoutbox):
    order, invoice = paid
    invoice_email(order.id)
    invoice.refresh_from_db()
    stored = invoice_storage / invoice.pdf_name
    assert stored.read_bytes() == mailoutbox[0].attachments[0][1]
    assert settings.MEDIA_ROOT not in stored.parents  # never where MEDIA_URL serves from
    with pytest.raises(ValueError):
        invoices.invoice_storage().url(invoice.pdf_name)  # no URL can lead to it


def test_invoice_files_and_their_folders_are_readable_by_the_shop_alone(paid, invoice_storage, mailoutbox):
    order, invoice = paid
    invoice_email(order.id)
    invoice.refresh_from_db()
    stored = invoice_storage / invoice.pdf_name
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    folders = [folder for folder in stored.parents if invoice_storage.parent in (folder, *folder.parents)]
    assert folders and all(stat.S_IMODE(folder.stat().st_mode) == 0o700 for folder in folders), folders


def test_a_render_killed_before_it_was_recorded_is_replaced(paid, invoice_storage, mailoutbox):
    order, invoice = paid
    leftover = invoice_storage / str(invoice.year) / invoice.filename
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(b"%PDF half a file")  # a worker killed after writing, before recording it
    assert invoice_email(order.id) == "sent"
    invoice.refresh_from_db()
    assert invoice.pdf_name == f"{invoice.year}/{invoice.filename}"  # the same name, not a second file
    assert pdf_text(leftover.read_bytes()).count(invoice.number) >= 1


def test_an_invoice_whose_rendering_fails_counts_as_an_attempt_and_is_tried_again(paid, mailoutbox):
    order, _ = paid
    with patch("payments.invoices.render_pdf", side_effect=RuntimeError("a font went missing")):
        with pytest.raises(Retry):
            invoice_email(order.id)
    email = invoice_row(order)
    assert (email.state, email.attempts, email.claim_expires_at) == ("pending", 1, None)
    assert "RuntimeError" in email.last_error
    assert invoice_email(order.id) == "sent" and len(mailoutbox) == 1


def test_an_invoice_that_never_renders_ends_failed_after_its_attempts(paid, mailoutbox, settings):
    order, _ = paid
    OrderEmail.objects.filter(order=order, kind="invoice").update(attempts=settings.ORDER_EMAIL_MAX_ATTEMPTS - 1)
    with patch("payments.invoices.render_pdf", side_effect=RuntimeError("broken template")):
        assert invoice_email(order.id) == "failed"
    assert invoice_row(order).state == "failed" and mailoutbox == []


def test_a_lost_pdf_file_is_rendered_again(paid, invoice_storage, mailoutbox):
    order, invoice = paid
    invoice_email(order.id)
    invoice.refresh_from_db()
    (invoice_storage / invoice.pdf_name).unlink()
    OrderEmail.objects.filter(order=order, kind="invoice").update(state="pending", attempts=0)  # an operator resends
    assert invoice_email(order.id) == "sent"
    assert pdf_text(mailoutbox[-1].attachments[0][1]).count(invoice.number) >= 1


def test_the_invoice_email_greets_by_name_and_repeats_the_delivery_address(make_product, customer, mailoutbox):
    order = place(make_product, {**customer, "first_name": "Ada <b>", "address_line2": "c/o Babbage", "country": "AT"})
    pay(order)
    invoice_email(order.id)
    message = mailoutbox[0]
    assert message.body.startswith("Hello Ada <b>,") and "Ada" not in message.subject
    assert "c/o Babbage" in message.body and "Austria" in message.body
    html = message.alternatives[0][0]
    assert "Hello Ada &lt;b&gt;," in html and "c/o Babbage" in html and "<b>" not in html


# --- Downloads -------------------------------------------------------------------------------------------------


def test_the_customer_downloads_the_invoice_from_the_order_status_page(client, paid, mailoutbox):
    order, invoice = paid
    page = client.get(order.get_absolute_url()).content.decode()
    assert "being prepared" in page and reverse("payments:invoice_download", args=[order.token]) not in page
    assert client.get(reverse("payments:invoice_download", args=[order.token])).status_code == 404
    invoice_email(order.id)
    page = client.get(order.get_absolute_url()).content.decode()
    assert f"Download invoice {invoice.number} (PDF)" in page
    response = client.get(reverse("payments:invoice_download", args=[order.token]))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert f'filename="invoice-{invoice.number}.pdf"' in response["Content-Disposition"]
    assert "no-store" in response["Cache-Control"]
    assert b"".join(response.streaming_content) == mailoutbox[0].attachments[0][1]


def test_invoices_are_never_served_from_media_url(client, paid, settings, mailoutbox):
    order, invoice = paid
    invoice_email(order.id)
    invoice.refresh_from_db()
    settings.ROOT_URLCONF = "testkit.urls_with_media"  # MEDIA_ROOT served, as DEBUG or the proxy would
    for path in (
        f"{settings.MEDIA_URL}{invoice.pdf_name}",
        f"{settings.MEDIA_URL}invoices/{invoice.pdf_name}",
        f"{settings.MEDIA_URL}../private/invoices/{invoice.pdf_name}",
    ):
        assert client.get(path).status_code in (400, 404), path  # 400: a path leaving MEDIA_ROOT


def test_operators_download_invoices_in_the_admin_and_nobody_else(admin_client, paid, mailoutbox, django_user_model):
    order, invoice = paid
    invoice_email(order.id)
    url = reverse("admin:payments_invoice_pdf", args=[invoice.id])
    order_page = admin_client.get(reverse("admin:orders_order_change", args=[order.id])).content.decode()
    assert url in order_page and invoice.number in order_page
    response = admin_client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert admin_client.get(reverse("admin:payments_invoice_changelist")).status_code == 200
    anonymous = Client().get(url)
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]
    clerk = Client()
    clerk.force_login(django_user_model.objects.create_user("clerk", password="x" * 16, is_staff=True))
    assert clerk.get(url).status_code == 404  # staff without the permission to view invoices


def test_operators_send_the_invoice_again_from_the_order_list(admin_client, paid, mailoutbox):
    order, invoice = paid
    invoice_email(order.id)
    with patch("celery.app.task.Task.apply_async"):
        response = admin_client.post(
            reverse("admin:orders_order_changelist"),
            {"action": "resend_invoice", "_selected_action": [order.id]},
            follow=True,
        )
    assert f"Sending the invoice of order {order.number} again" in response.content.decode()
    assert invoice_email(order.id) == "sent"
    assert [m.attachments[0][0] for m in mailoutbox] == [invoice.filename, invoice.filename]
