"""Words the shop repeats on pages and in emails: VAT and shipping notes, local dates, waiting times."""

from babel.dates import get_timezone_name
from django import template
from django.conf import settings
from django.utils import formats, timezone
from django.utils.translation import get_language, ngettext, to_locale
from django.utils.translation import gettext as _

from shop.money import format_money

register = template.Library()


@register.simple_tag
def vat_note():
    """ "incl. VAT" or "excl. VAT", as SHOP_PRICES_INCLUDE_VAT says of the catalog's prices."""
    return _("incl. VAT") if settings.SHOP_PRICES_INCLUDE_VAT else _("excl. VAT")


@register.simple_tag
def shipping_note():
    """ "Shipping €4.90 per order; free shipping from €50.00." (or without the free part), from the shipping
    settings."""
    cost, free_from = settings.SHOP_SHIPPING_COST, settings.SHOP_FREE_SHIPPING_FROM
    if not cost:
        return _("Free shipping.")
    if free_from is None:
        return _("Shipping %(cost)s per order.") % {"cost": format_money(cost)}
    return _("Shipping %(cost)s per order; free shipping from %(free_from)s.") % {
        "cost": format_money(cost),
        "free_from": format_money(free_from),
    }


@register.filter
def local_datetime(value):
    """`value` in the shop's time zone (TIME_ZONE), in the language's format, with the zone named:
    "Nov. 25, 2026, 10:38 p.m. CET", "25. November 2026 22:38 MEZ"."""
    if not value:
        return ""
    local = timezone.localtime(value)
    return f"{formats.date_format(local, 'DATETIME_FORMAT')} {zone_name(local)}"


@register.filter
def stamp(value):
    """`value` to the second, for operators: "2026-12-07 08:32:55 CET" ("… MEZ" in German); "" for None."""
    if not value:
        return ""
    local = timezone.localtime(value)
    return f"{local:%Y-%m-%d %H:%M:%S} {zone_name(local)}"


def zone_name(local):
    """The zone's short name as the active language writes it (German: MEZ, not CET). CLDR has no English
    short name for most zones (it gives "+0100"): there, and with no language active, the zone's own (CET)."""
    key = (local.tzinfo, local.tzname(), get_language())
    if key not in _zone_names:  # Babel takes about 60 µs to look a name up: once per zone, DST and language
        name = get_timezone_name(local, width="short", locale=to_locale(key[2])) if key[2] else ""
        _zone_names[key] = name if name.isalpha() else local.tzname()
    return _zone_names[key]


_zone_names = {}


@register.filter
def wait_time(seconds):
    """A wait in words: 45 -> "45 seconds", 60 -> "1 minute", 90 -> "90 seconds", 600 -> "10 minutes"."""
    try:
        seconds = max(1, int(seconds))
    except (TypeError, ValueError):
        return _("a little while")
    if seconds % 60 == 0:
        minutes = seconds // 60
        return ngettext("%(count)s minute", "%(count)s minutes", minutes) % {"count": number(minutes)}
    if seconds < 120:
        return ngettext("%(count)s second", "%(count)s seconds", seconds) % {"count": number(seconds)}
    minutes = seconds // 60 + 1  # rounded up: never promise less than Retry-After
    return ngettext("%(count)s minute", "%(count)s minutes", minutes) % {"count": number(minutes)}


@register.filter
def number(value):
    """A whole number as the active language groups its digits: 1234 -> "1,234" in English, "1.234" in German."""
    try:
        return formats.number_format(int(value), force_grouping=True)
    except (TypeError, ValueError):
        return value


@register.simple_tag
def contact_email():
    """Where shoppers write with questions (SHOP_CONTACT_EMAIL), for templates rendered without a request."""
    return settings.SHOP_CONTACT_EMAIL
