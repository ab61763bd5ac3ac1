"""Invoices: a number when the order is paid, a PDF the worker renders and keeps privately, and the email
that carries it.

The number is "<year>-<sequence>", gapless per year and given once: `issue` takes the next sequence from the
year's counter row under its lock, in the transaction that records the payment, so a rolled-back payment or
a killed process never burns a number, and two payments at once never share one. The year is the database
clock's, in the shop's time zone. The PDF is rendered later, by the worker, inside the invoice email's outbox
claim (payments.tasks.invoice_email): a worker killed while rendering is replaced like one killed while
sending, and every attempt counts. It is stored in the private "invoices" storage (PRIVATE_MEDIA_ROOT), which
no URL serves; customers and operators download it through views that check who asks.
"""

import logging

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.db import transaction
from django.db.models.functions import Now
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from core.languages import spoken_language
from orders import outbox, vat
from orders.models import Order
from shop.money import format_money, format_rate

from .models import Invoice, InvoiceSequence, Payment

logger = logging.getLogger(__name__)


@transaction.atomic
def issue(*, order_id):
    """Number order `order_id`'s invoice and owe its email, in the caller's transaction (the one that marks
    the order paid); return the Invoice. An order that has one keeps it: one invoice per order."""
    invoice = Invoice.objects.filter(order_id=order_id).first()
    if invoice is not None:
        return invoice
    now = Order.objects.filter(id=order_id).annotate(now=Now()).values_list("now", flat=True).get()
    year = timezone.localtime(now).year
    InvoiceSequence.objects.bulk_create([InvoiceSequence(year=year)], ignore_conflicts=True)
    counter = InvoiceSequence.objects.select_for_update().get(year=year)  # held until the payment commits
    counter.last_number += 1
    counter.save(update_fields=["last_number"])
    invoice = Invoice.objects.create(order_id=order_id, year=year, sequence=counter.last_number, issued_at=now)
    outbox.add(order_id, "invoice")
    outbox.publish_on_commit([order_id], "invoice")
    return invoice


def issue_for_paid_orders(sender, order_ids, status, **kwargs):
    """Receiver of orders.signals.order_status_changed: number the invoice of every order just marked paid,
    in the transaction that marks it (a webhook's, an operator's), so a rollback gives the number back."""
    if status == Order.Status.PAID:
        for order_id in order_ids:
            issue(order_id=order_id)


def invoice_storage():
    return storages["invoices"]


def render_pdf(invoice, order):
    """The invoice as PDF bytes (WeasyPrint), from templates/payments/invoice.html: what an EU invoice must
    state (docs/invoices.md), with the VAT per rate from orders.vat; in the order's language, whoever renders it."""
    with translation.override(spoken_language(order.language)):  # not a language removed since
        return _render_pdf(invoice, order)


def _render_pdf(invoice, order):
    # Imported here: only the worker renders, and WeasyPrint costs web processes time and memory to load.
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    items = list(order.items.select_related("product"))
    payment = (
        order.payments.filter(
            state__in=[Payment.State.SUCCEEDED, Payment.State.REFUNDING, Payment.State.REFUNDED], problem=""
        )
        .order_by("paid_at")
        .first()
    )
    include_vat = settings.SHOP_PRICES_INCLUDE_VAT
    breakdown = vat.order_breakdown(order, items, prices_include_vat=include_vat)
    context = {
        "invoice": invoice,
        "order": order,
        "lines": [
            {
                "name": item.product.name,
                "quantity": item.quantity,
                "vat_rate": format_rate(item.vat_rate),
                "price_excluding_vat": format_money(
                    vat.excluding_vat(item.price, item.vat_rate, prices_include_vat=include_vat)
                ),
                "price": format_money(item.price),
                "cost": format_money(item.cost),
            }
            for item in items
        ],
        "subtotal": format_money(order.subtotal),
        "discount": format_money(-order.discount) if order.discount else "",
        "shipping_cost": format_money(order.shipping_cost) if order.shipping_cost else _("free"),
        "vat_parts": [
            {
                "rate": format_rate(part.rate),
                "net": format_money(part.net),
                "vat": format_money(part.vat),
                "gross": format_money(part.gross),
            }
            for part in breakdown.parts
        ],
        "net": format_money(breakdown.net),
        "vat": format_money(breakdown.vat),
        "gross": format_money(breakdown.gross),
        "paid": format_money(order.total),
        "payment": payment,
        "paid_at": payment.paid_at if payment else invoice.issued_at,
        "dispatch_days": settings.SHOP_DISPATCH_DAYS,
        "seller": {
            "name": settings.SHOP_SELLER_NAME,
            "address": settings.SHOP_SELLER_ADDRESS,
            "vat_id": settings.SHOP_SELLER_VAT_ID,
            "registration": settings.SHOP_SELLER_REGISTRATION,
        },
        "shop_name": settings.SHOP_NAME,
        "contact_email": settings.SHOP_CONTACT_EMAIL,
        "prices_include_vat": include_vat,
    }
    html = render_to_string("payments/invoice.html", context)
    # Nothing is fetched while rendering (no file, no network): the document is self-contained.
    return HTML(string=html, url_fetcher=URLFetcher(allowed_protocols=())).write_pdf()


def ensure_pdf(invoice, order):
    """The invoice's PDF bytes: the stored file, or rendered and stored now (the first time, or if lost)."""
    storage = invoice_storage()
    if invoice.pdf_name:
        try:
            with storage.open(invoice.pdf_name, "rb") as stored:
                return stored.read()
        except FileNotFoundError:
            logger.warning(
                "order %s: invoice %s was rendered but its file is gone; rendering it again", order.id, invoice.number
            )
    logger.info("order %s: rendering invoice %s", order.id, invoice.number)
    pdf = render_pdf(invoice, order)
    name = f"{invoice.year}/{invoice.filename}"
    if storage.exists(name):  # left by a worker killed before it recorded the file: same invoice, replace it
        storage.delete(name)
    name = storage.save(name, ContentFile(pdf))
    Invoice.objects.filter(id=invoice.id).update(pdf_name=name, rendered_at=Now())
    invoice.pdf_name = name
    logger.info("order %s: invoice %s rendered (%s bytes)", order.id, invoice.number, len(pdf))
    return pdf


def open_pdf(invoice):
    """The stored PDF, open for reading; None while the worker has not rendered it."""
    if not invoice.pdf_name:
        return None
    try:
        return invoice_storage().open(invoice.pdf_name, "rb")
    except FileNotFoundError:
        return None


def pdf_attachment(order):
    """The invoice email's attachment: [(filename, PDF, mimetype)]. Renders and stores the PDF the first time,
    inside the email's outbox claim (payments.tasks.invoice_email), so every attempt counts."""
    invoice = Invoice.objects.get(order_id=order.id)
    return [(invoice.download_name, ensure_pdf(invoice, order), "application/pdf")]
