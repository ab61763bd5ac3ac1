"""Words the shop repeats on pages and in emails: VAT and shipping notes, local dates, waiting times."""

from django import template
from django.conf import settings
from django.utils import formats, timezone

from shop.money import format_money

register = template.Library()


@register.simple_tag
def vat_note():
    """ "incl. VAT" or "excl. VAT", as SHOP_PRICES_INCLUDE_VAT says of the catalog's prices."""
    return "incl. VAT" if settings.SHOP_PRICES_INCLUDE_VAT else "excl. VAT"


@register.simple_tag
def shipping_note():
    """ "Shipping €4.90, free from €50.00." (or without the free part), from the shipping settings."""
    cost, free_from = settings.SHOP_SHIPPING_COST, settings.SHOP_FREE_SHIPPING_FROM
    if not cost:
        return "Free shipping."
    note = f"Shipping {format_money(cost)} per order"
    return f"{note}; free shipping from {format_money(free_from)}." if free_from is not None else f"{note}."


@register.filter
def local_datetime(value):
    """`value` in the shop's time zone (TIME_ZONE), in the language's format, with the zone named:
    "Nov. 25, 2026, 10:38 p.m. CET"."""
    if not value:
        return ""
    local = timezone.localtime(value)
    return f"{formats.date_format(local, 'DATETIME_FORMAT')} {local.tzname()}"


@register.filter
def wait_time(seconds):
    """A wait in words: 45 -> "45 seconds", 60 -> "1 minute", 90 -> "90 seconds", 600 -> "10 minutes"."""
    try:
        seconds = max(1, int(seconds))
    except (TypeError, ValueError):
        return "a little while"
    if seconds % 60 == 0:
        minutes = seconds // 60
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    if seconds < 120:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    return f"{seconds // 60 + 1} minutes"  # rounded up: never promise less than Retry-After


@register.simple_tag
def contact_email():
    """Where shoppers write with questions (SHOP_CONTACT_EMAIL), for templates rendered without a request."""
    return settings.SHOP_CONTACT_EMAIL
