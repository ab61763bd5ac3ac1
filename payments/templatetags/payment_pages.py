from django import template
from django.conf import settings
from django.template.loader import render_to_string

from core.csrf import page_token
from payments.services import summarise, summarise_new

register = template.Library()


@register.simple_tag(takes_context=True)
def payment_panel(context, order, summary=None):
    """Where the order's payment stands, and what the shopper can do (pay, try again, get the invoice)."""
    return order_payment_panel(context["request"], order, summary=summary)


def order_payment_panel(request, order, *, summary=None, just_placed=False):
    """The payment panel's HTML; a panel of the order's pages too (orders.pages, added by PaymentsConfig)."""
    if summary is None:
        summary = summarise_new(order) if just_placed else summarise(order)
    context = {
        "order": order,
        "summary": summary,
        "csrf_token": page_token(request),
        "contact_email": settings.SHOP_CONTACT_EMAIL,
    }
    return render_to_string("payments/_panel.html", context)
