"""Amounts of money: rounding, formatting, what shipping costs, and VAT rates. The one place for each."""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.conf import settings

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥", "CHF": "CHF "}


def to_amount(value):
    """`value` as a Decimal rounded to cents (half up), the way every stored amount is kept."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def format_money(amount, currency=None):
    """'€1,234.50' for Decimal('1234.5'): two decimals, thousands separators, the shop's currency."""
    currency = currency or settings.SHOP_CURRENCY
    try:
        value = to_amount(amount)
    except (InvalidOperation, TypeError, ValueError):
        return ""
    sign = "-" if value < 0 else ""
    number = f"{abs(value):,.2f}"  # as humanize's intcomma without localisation, at a tenth of the cost
    symbol = SYMBOLS.get(currency)
    return f"{sign}{symbol}{number}" if symbol else f"{sign}{number} {currency}"


def vat_rate(vat_class="standard"):
    """The VAT rate in percent for a product's VAT class ("standard" or "reduced"), from the settings."""
    return settings.SHOP_VAT_REDUCED_RATE if vat_class == "reduced" else settings.SHOP_VAT_RATE


def format_rate(rate):
    """'19%' for Decimal('19.00'), '5.5%' for Decimal('5.50'): a VAT rate as invoices print it."""
    return f"{Decimal(rate).normalize():f}%"


def standard_vat_rate():
    """The standard VAT rate in percent (SHOP_VAT_RATE): what an order line without a rate of its own gets."""
    return vat_rate("standard")


def shipping_cost(subtotal):
    """Shipping for an order of goods worth `subtotal`: the flat rate, free from the threshold on."""
    threshold = settings.SHOP_FREE_SHIPPING_FROM
    if not subtotal or (threshold is not None and subtotal >= threshold):
        return ZERO
    return settings.SHOP_SHIPPING_COST


def free_shipping_gap(subtotal):
    """How much more in goods would ship free: ZERO once they do; None if shipping never becomes free (no
    SHOP_FREE_SHIPPING_FROM) or costs nothing anyway."""
    threshold = settings.SHOP_FREE_SHIPPING_FROM
    if threshold is None or not settings.SHOP_SHIPPING_COST:
        return None
    return max(ZERO, to_amount(threshold - subtotal))
