"""The kinds of email an order sends, and the messages made from their templates.

Each kind is declared once, with `orders.tasks.email_task` in the tasks module of the app that owes it; its
templates are `<template>.txt` and `<template>.html`. See docs/architecture.md, "Adding a kind of email".
"""

from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.languages import spoken_language
from shop.money import format_money
from shop.templatetags.shop_text import local_datetime, vat_note

from .vat import order_breakdown


@dataclass(frozen=True)
class EmailKind:
    """One kind of order email: what the outbox stores (`name`), shows (`label`) and sends."""

    name: str
    label: str
    subject: str  # a format string of `shop` and `order`, in gettext_lazy: "{shop}: order {order.number} received"
    template: str  # "orders/emails/confirmation": .txt is the text, .html the HTML alternative
    task: object  # the Celery task that sends it (its name stays stable: queued messages name it)
    attachments: object = None  # order -> [(filename, content, mimetype)], added to every copy


KINDS = {}


def register(kind):
    """Add `kind` to the kinds the outbox knows; declaring a name twice is a mistake."""
    if kind.name in KINDS:
        raise ValueError(f"the email kind {kind.name!r} is declared twice")
    KINDS[kind.name] = kind
    return kind


def kind_choices():
    """(name, label) of every declared kind: the choices of OrderEmail.kind, the label in the language active
    when it is shown (the catalog has the labels: orders.admin.EMAIL_KIND_LABELS)."""
    return [(kind.name, gettext_lazy(kind.label)) for kind in KINDS.values()]


def message(order, kind, *, site_url=None):
    """The `kind` email for `order` (from load_order): plain text with an HTML alternative, and its
    attachments, all in the order's language, whichever process sends it and whatever language it has active
    (the first attempt, a retry, the sweep's, an operator's resend all come here)."""
    with translation.override(spoken_language(order.language)):  # not a language removed since
        return _message(order, kind, site_url=site_url)


def _message(order, kind, *, site_url):
    items = getattr(order, "loaded_items", None)
    if items is None:
        items = list(order.items.select_related("product"))
    context = {
        "order": order,
        # Each line in plain values: a template reads a dict's keys at the first try.
        "lines": [
            {
                "quantity": item.quantity,
                "name": item.product.name,
                "price": format_money(item.price),
                "cost": format_money(item.cost),
            }
            for item in items
        ],
        "subtotal": format_money(order.subtotal),
        "discount": f"−{format_money(order.discount)}" if order.discount else "",  # the coupon's line
        "shipping_cost": format_money(order.shipping_cost) if order.shipping_cost else _("free"),
        "total": format_money(order.total),
        "shop_name": settings.SHOP_NAME,
        # "/de/orders/<token>/": the status page in the order's language (reverse() is in it here).
        "status_url": (site_url or settings.SHOP_SITE_URL).rstrip("/") + order.get_absolute_url(),
        "placed_on": local_datetime(order.created),
        "vat_note": vat_note(),
        "total_vat_note": _total_vat_note(order, items),
        # The shipping notice's parcel: carrier and tracking link ("" until the order ships).
        "carrier": order.customer_carrier_label if order.carrier else "",
        "tracking_number": order.tracking_number,
        "tracking_url": order.tracking_url,
    }
    email = EmailMultiAlternatives(
        subject=str(kind.subject).format(shop=settings.SHOP_NAME, order=order),  # translated: gettext_lazy
        body=render_to_string(f"{kind.template}.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[order.email],
        reply_to=[settings.SHOP_CONTACT_EMAIL],
        # The same Message-ID on every attempt lets mail clients recognise a rare duplicate. Derived from the
        # order's id, never its status-page token: mail servers log Message-IDs.
        headers={"Message-ID": _message_id(order, kind)},
    )
    email.attach_alternative(render_to_string(f"{kind.template}.html", context), "text/html")
    for attachment in kind.attachments(order) if kind.attachments else []:
        email.attach(*attachment)
    return email


def _total_vat_note(order, items):
    """ "incl. €7.33 VAT" (the VAT in the total, as the invoice states it); the plain vat_note when prices
    exclude VAT, or the order has no lines."""
    if not settings.SHOP_PRICES_INCLUDE_VAT or not items:
        return vat_note()
    return _("incl. %(vat)s VAT") % {"vat": format_money(order_breakdown(order, items).vat)}


def _message_id(order, kind):
    key = salted_hmac("orders.emails.message-id", f"{order.id}:{kind.name}").hexdigest()[:24]
    return f"<order-{order.id}-{kind.name}.{key}@{settings.EMAIL_MESSAGE_ID_DOMAIN}>"
