from datetime import timedelta
from functools import lru_cache

from django import template
from django.conf import settings
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString
from django.utils.translation import get_language, gettext, ngettext

from shop.money import format_money
from shop.templatetags.shop_text import local_datetime, wait_time

register = template.Library()


@register.inclusion_tag("orders/_what_happens_next.html", takes_context=True)
def what_happens_next(context, order, mode="page"):
    """What happens after an order, in the same words everywhere: `mode` is "page", "email" (HTML) or "text"."""
    autoescape, language = context.autoescape, get_language()
    payment, dispatch, contact = _sentences(language, autoescape, settings.PAYMENT_TIMEOUT, settings.SHOP_DISPATCH_DAYS)
    value = escape if autoescape else str
    filled = contact % {"contact_email": value(settings.SHOP_CONTACT_EMAIL), "number": value(order.number)}
    payment = payment % {"deadline": value(_kept_deadline(order, language))}
    return {"mode": mode, "payment": SafeString(payment), "dispatch": dispatch, "contact": SafeString(filled)}


def payment_deadline(order):
    """Until when `order` waits for its online payment, for people: "Nov. 25, 2026, 11:08 p.m. CET"."""
    return local_datetime(order.created + timedelta(seconds=settings.PAYMENT_TIMEOUT))


def _kept_deadline(order, language):
    """payment_deadline(order), kept on the order for the email's second part: Django formats a date in about
    30 µs, and the confirmation's text and HTML each say it."""
    key = (language, timezone.get_current_timezone(), order.created, settings.PAYMENT_TIMEOUT)
    kept = order.__dict__.get("_payment_deadline")
    if kept is None or kept[0] != key:
        kept = order.__dict__["_payment_deadline"] = (key, payment_deadline(order))
    return kept[1]


@register.simple_tag
def checkout_payment_note(total):
    """What the checkout form says about paying: the account the order's pages and emails give after it."""
    return gettext(
        "Once you place the order, you pay %(total)s online: the next page has the “Pay” button. Your order is "
        "reserved for you for %(timeout)s while you pay; if it is not paid by then, it is cancelled."
    ) % {"total": format_money(total), "timeout": wait_time(settings.PAYMENT_TIMEOUT)}


@lru_cache(maxsize=64)
def _sentences(language, autoescape, payment_timeout, dispatch_days):
    """The three sentences in `language` (the active one, which gettext reads), the order's deadline and the
    last one still to be filled in.

    Translated whole, with the values put in escaped when the template escapes, as {% blocktranslate %} does;
    made once per language and settings (tests/orders/test_shopper_pages.py compares the two).
    """
    value = escape if autoescape else str
    payment = gettext(
        "Pay online by %(deadline)s, within %(timeout)s of placing your order, with the “Pay” button on your "
        "order's page. Until then your order is reserved for you; if it is not paid by then, it is cancelled and "
        "its items go back on sale. We email you the invoice once your payment is confirmed."
    ) % {"timeout": value(wait_time(payment_timeout)), "deadline": "%(deadline)s"}
    dispatch = ngettext(
        "We dispatch your order within %(days)s working day of receiving your payment, and email you when it "
        "is on its way.",
        "We dispatch your order within %(days)s working days of receiving your payment, and email you when it "
        "is on its way.",
        dispatch_days,
    ) % {"days": dispatch_days}
    contact = gettext("Questions? Write to %(contact_email)s and mention your order number, %(number)s.")
    return payment, SafeString(dispatch), contact
