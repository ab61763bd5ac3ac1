from django import template
from django.conf import settings

register = template.Library()


@register.inclusion_tag("orders/_what_happens_next.html", takes_context=True)
def what_happens_next(context, order, mode="page"):
    """What happens after an order, in the same words everywhere: `mode` is "page", "email" (HTML) or "text"."""
    return {
        "order": order,
        "mode": mode,
        "dispatch_days": settings.SHOP_DISPATCH_DAYS,
        "payment_timeout": settings.PAYMENT_TIMEOUT,
        "contact_email": settings.SHOP_CONTACT_EMAIL,
    }
