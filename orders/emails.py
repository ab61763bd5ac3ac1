"""The emails an order sends, built from templates in templates/orders/emails/."""

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils.crypto import salted_hmac

from myshop.compiled import CompiledQuery
from shop.money import format_money
from shop.templatetags.shop_text import local_datetime, vat_note

from . import outbox
from .models import Order, OrderItem


def load_order(order_id, *, lines=None):
    """Order `order_id` with its items and their products, in one query; None if there is no such order.

    `lines`: the items already read (with the email's claim, `claimed_order_items`): no query."""
    items = _order_items(order_id) if lines is None else lines
    if items:
        order = items[0].order
    else:  # an order without lines is not made by checkout, but an email must not crash on one
        order = Order.objects.filter(id=order_id).first()
        if order is None:
            return None
    order.loaded_items = items
    return order


# Every email the worker sends runs one of these: compiled once (myshop/compiled.py).
_order_items = CompiledQuery(
    lambda order_id: OrderItem.objects.filter(order_id=order_id).select_related("order", "product").order_by("id"),
    int,
)
# The same, read in the statement that claims the email (outbox.claim(reading=...), PostgreSQL).
claimed_order_items = CompiledQuery(
    lambda order_id: (
        OrderItem.objects.filter(order_id=order_id)
        .filter(outbox.CLAIM_TAKEN)
        .select_related("order", "product")
        .order_by("id")
    ),
    int,
)


def confirmation_message(order, *, site_url=None):
    """The confirmation email for `order` (from load_order): plain text with an HTML alternative."""
    return _order_message(order, "confirmation", f"{settings.SHOP_NAME}: order {order.number} received", site_url)


def shipping_message(order, *, site_url=None):
    """The shipping notice for `order` (from load_order): plain text with an HTML alternative."""
    return _order_message(order, "shipped", f"{settings.SHOP_NAME}: order {order.number} has shipped", site_url)


def invoice_message(order, *, invoice_number, site_url=None):
    """The invoice email for `order` (from load_order), without its PDF: payments.invoices attaches it."""
    return _order_message(
        order, "invoice", f"{settings.SHOP_NAME}: invoice {invoice_number} for order {order.number}", site_url
    )


def _order_message(order, template, subject, site_url):
    items = getattr(order, "loaded_items", None)
    if items is None:
        items = list(order.items.select_related("product"))
    context = {
        "order": order,
        # Each line as the emails show it, in plain values: a template reads a dict's keys at the first try.
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
        "shipping_cost": format_money(order.shipping_cost) if order.shipping_cost else "free",
        "total": format_money(order.total),
        "shop_name": settings.SHOP_NAME,
        "status_url": (site_url or settings.SHOP_SITE_URL).rstrip("/") + order.get_absolute_url(),
        # Worked out once for both parts: as filters and tags in each, they were a third of the templates' work.
        "placed_on": local_datetime(order.created),
        "vat_note": vat_note(),
    }
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string(f"orders/emails/{template}.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[order.email],
        reply_to=[settings.SHOP_CONTACT_EMAIL],
        # The same Message-ID on every attempt makes a rare duplicate recognisable to mail clients. It is
        # derived from the order, never the status-page token: mail servers log Message-IDs.
        headers={
            "Message-ID": f"<order-{order.id}-{template}.{_message_key(order, template)}"
            f"@{settings.EMAIL_MESSAGE_ID_DOMAIN}>"
        },
    )
    message.attach_alternative(render_to_string(f"orders/emails/{template}.html", context), "text/html")
    return message


def _message_key(order, template):
    return salted_hmac("orders.emails.message-id", f"{order.id}:{template}").hexdigest()[:24]
