"""The emails an order sends, built from templates in templates/orders/emails/."""

import threading

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import DEFAULT_DB_ALIAS, connections
from django.template.loader import render_to_string
from django.utils.crypto import salted_hmac

from shop.money import format_money

from .models import Order, OrderItem


def load_order(order_id):
    """Order `order_id` with its items and their products, in one query; None if there is no such order."""
    items = _items_loader().load(order_id)
    if items:
        order = items[0].order
    else:  # an order without lines is not made by checkout, but an email must not crash on one
        order = Order.objects.filter(id=order_id).first()
        if order is None:
            return None
    order.loaded_items = items
    return order


class _ItemsLoader:
    """`OrderItem.objects.filter(order_id=...).select_related("order", "product")`, compiled once.

    Django compiles a query every time it runs it; for this one, the worker's every email, that was half the
    query's CPU. Here Django's compiler builds the SQL, the converters and the row layout once (per thread: the
    converters belong to the thread's connection), and each call only runs the SQL and builds the objects as
    Django's select_related would (`Model.from_db`, the related objects cached on each item).
    tests/test_confirmation_email.py holds the result to the ORM's, field by field.
    """

    MARKER = -424242  # the order id the query is compiled with, replaced by the real one on each call

    def __init__(self, alias=DEFAULT_DB_ALIAS):
        self.alias = alias
        query = OrderItem.objects.filter(order_id=self.MARKER).select_related("order", "product").query
        self.compiler = query.get_compiler(using=alias)
        self.sql, params = self.compiler.as_sql()
        self.params = list(params)
        self.marker_at = self.params.index(self.MARKER)
        select = self.compiler.select
        self.converters = self.compiler.get_converters([column for column, _, _ in select])
        info = self.compiler.klass_info

        def layout(fields):
            return [select[i][0].target.attname for i in fields], fields

        self.item_layout = layout(info["select_fields"])
        self.related = [
            (related["model"], layout(related["select_fields"]), related["field"])
            for related in info["related_klass_infos"]
        ]

    def load(self, order_id):
        params = list(self.params)
        params[self.marker_at] = order_id
        with connections[self.alias].cursor() as cursor:
            cursor.execute(self.sql, params)
            rows = cursor.fetchall()
        if self.converters:
            rows = self.compiler.apply_converters(rows, self.converters)
        items = []
        for row in rows:
            item = _from_row(OrderItem, self.alias, self.item_layout, row)
            for model, related_layout, field in self.related:
                field.set_cached_value(item, _from_row(model, self.alias, related_layout, row))
            items.append(item)
        return items


def _from_row(model, alias, layout, row):
    names, positions = layout
    return model.from_db(alias, names, [row[position] for position in positions])


_loaders = threading.local()


def _items_loader():
    loader = getattr(_loaders, "loader", None)
    if loader is None:
        loader = _loaders.loader = _ItemsLoader()
    return loader


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
        "items": items,
        "subtotal": format_money(order.subtotal),
        "shipping_cost": format_money(order.shipping_cost) if order.shipping_cost else "free",
        "total": format_money(order.total),
        "shop_name": settings.SHOP_NAME,
        "status_url": (site_url or settings.SHOP_SITE_URL).rstrip("/") + order.get_absolute_url(),
    }
    for item in items:
        item.price_text = format_money(item.price)
        item.cost_text = format_money(item.cost)
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
