from django import template
from django.conf import settings

from payments.services import summarise

register = template.Library()


@register.inclusion_tag("payments/_panel.html", takes_context=True)
def payment_panel(context, order, summary=None):
    """Where the order's payment stands, and what the shopper can do (pay, try again, get the invoice)."""
    return {
        "order": order,
        "summary": summary or summarise(order),
        "csrf_token": context.get("csrf_token"),
        "contact_email": settings.SHOP_CONTACT_EMAIL,
    }
