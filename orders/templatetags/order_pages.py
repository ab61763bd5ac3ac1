from functools import lru_cache

from django import template
from django.conf import settings
from django.template.loader import get_template
from django.utils.html import escape
from django.utils.safestring import SafeString
from django.utils.translation import get_language, gettext, ngettext

from shop.templatetags.shop_text import wait_time

register = template.Library()


LAYOUT = "orders/_what_happens_next.html"
# Stands in for the order's own sentence while the layout is rendered once: no text, filter or escaping changes it.
_CONTACT = "\x00what-happens-next-contact\x00"


@register.simple_tag(takes_context=True)
def what_happens_next(context, order, mode="page"):
    """What happens after an order, in the same words everywhere: `mode` is "page", "email" (HTML) or "text".

    Laid out by orders/_what_happens_next.html. Only the contact sentence differs from order to order, so the
    layout is rendered once per language, mode and escaping, with a stand-in for that sentence, and each call
    puts the order's sentence in its place (on every thank-you page and in both parts of every confirmation
    email, rendering the layout each time was a fifth of the email's templates).
    """
    autoescape = context.autoescape
    language = get_language()
    payment, dispatch, contact = _sentences(language, autoescape, settings.PAYMENT_TIMEOUT, settings.SHOP_DISPATCH_DAYS)
    value = escape if autoescape else str
    filled = contact % {"contact_email": value(settings.SHOP_CONTACT_EMAIL), "number": value(order.number)}
    template = get_template(LAYOUT).template
    # Kept on the template object: a template changed on disk (runserver's reload) is a new object, laid out anew.
    layouts = template.__dict__.setdefault("_layouts", {})
    key = (language, mode, autoescape, payment, dispatch, contact)
    if key not in layouts:
        rendered = _render(template, context, mode, payment, dispatch, SafeString(_CONTACT))
        layouts[key] = rendered.split(_CONTACT) if rendered.count(_CONTACT) == 1 else None
    parts = layouts[key]
    if parts is None:  # a layout that does more with the sentence than show it: rendered for every call
        return _render(template, context, mode, payment, dispatch, SafeString(filled))
    return SafeString(parts[0] + filled + parts[1])


def _render(template, context, mode, payment, dispatch, contact):
    values = {"mode": mode, "payment": payment, "dispatch": dispatch, "contact": contact}
    return template.render(context.new(values))


@lru_cache(maxsize=64)
def _sentences(language, autoescape, payment_timeout, dispatch_days):
    """The three sentences in `language` (the active one, which gettext reads), the last still to be filled in.

    Written here rather than with {% blocktranslate %}: the words are the same for every order, and this tag
    is on every thank-you page and confirmation email, where the template's three translations took a third
    of the email's rendering. As blocktranslate does, the translated words are kept as they are and the values
    put in escaped when the template escapes (`autoescape`); tests/test_shopper_pages.py compares the two.
    """
    value = escape if autoescape else str
    payment = gettext(
        "Pay online within %(timeout)s of placing your order, with the “Pay” button on your order's page. "
        "Until then your order is reserved for you; if it is not paid by then, it is cancelled and its items "
        "go back on sale. We email you the invoice once your payment is confirmed."
    ) % {"timeout": value(wait_time(payment_timeout))}
    dispatch = ngettext(
        "We dispatch your order within %(days)s working day of receiving your payment, and email you when it "
        "is on its way.",
        "We dispatch your order within %(days)s working days of receiving your payment, and email you when it "
        "is on its way.",
        dispatch_days,
    ) % {"days": dispatch_days}
    contact = gettext("Questions? Write to %(contact_email)s and mention your order number, %(number)s.")
    return SafeString(payment), SafeString(dispatch), contact
