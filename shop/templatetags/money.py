from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django import template
from django.conf import settings
from django.contrib.humanize.templatetags.humanize import intcomma

register = template.Library()

SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥", "CHF": "CHF "}


def format_money(amount, currency=None):
    """'€1,234.50' for Decimal('1234.5'): two decimals, thousands separators, the shop's currency."""
    currency = currency or settings.SHOP_CURRENCY
    try:
        value = Decimal(amount).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    except (InvalidOperation, TypeError, ValueError):
        return ""
    sign = "-" if value < 0 else ""
    number = intcomma(f"{abs(value):.2f}", use_l10n=False)
    symbol = SYMBOLS.get(currency)
    return f"{sign}{symbol}{number}" if symbol else f"{sign}{number} {currency}"


@register.filter
def money(amount):
    return format_money(amount)
