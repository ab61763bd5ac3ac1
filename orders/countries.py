"""The countries the shop ships to (SHOP_SHIPPING_COUNTRIES), their names and how their postal codes look.

Postal codes are checked by django-localflavor's field for each country, which also writes them the usual
way ("1234ab" becomes "1234 AB"); the message is the shop's own, with an example. Names and messages are in
the active language (the page's, or the order's in its emails).
"""

import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from localflavor.at.forms import ATZipCodeField
from localflavor.be.forms import BEPostalCodeField
from localflavor.ch.forms import CHZipCodeField
from localflavor.cz.forms import CZPostalCodeField
from localflavor.de.forms import DEZipCodeField
from localflavor.dk.forms import DKPostalCodeField
from localflavor.es.forms import ESPostalCodeField
from localflavor.fr.forms import FRZipCodeField
from localflavor.it.forms import ITZipCodeField
from localflavor.nl.forms import NLZipCodeField
from localflavor.pl.forms import PLPostalCodeField


@dataclass(frozen=True)
class Country:
    code: str  # ISO 3166-1 alpha-2
    name: str  # gettext_lazy: read it through country_name() or str() in the language wanted
    postal_code_field: type
    example: str  # a valid postal code, for the error message


KNOWN = {
    country.code: country
    for country in (
        Country("DE", gettext_lazy("Germany"), DEZipCodeField, "10115"),
        Country("AT", gettext_lazy("Austria"), ATZipCodeField, "1010"),
        Country("BE", gettext_lazy("Belgium"), BEPostalCodeField, "1000"),
        Country("CH", gettext_lazy("Switzerland"), CHZipCodeField, "8001"),
        Country("CZ", gettext_lazy("Czechia"), CZPostalCodeField, "110 00"),
        Country("DK", gettext_lazy("Denmark"), DKPostalCodeField, "1050"),
        Country("ES", gettext_lazy("Spain"), ESPostalCodeField, "28001"),
        Country("FR", gettext_lazy("France"), FRZipCodeField, "75001"),
        Country("IT", gettext_lazy("Italy"), ITZipCodeField, "00118"),
        Country("NL", gettext_lazy("Netherlands"), NLZipCodeField, "1011 AB"),
        Country("PL", gettext_lazy("Poland"), PLPostalCodeField, "00-001"),
    )
}


def known_countries():
    """(code, name) of every country in the table: the choices of a stored address (Order.country), which
    outlive a change to SHOP_SHIPPING_COUNTRIES; the forms a shopper fills offer shipping_countries()."""
    return list(_known_countries(get_language()))


@lru_cache(maxsize=16)
def _known_countries(language):
    """known_countries() sorted as `language` sorts them, once per language (every address form asks)."""
    return tuple(sorted(((country.code, country.name) for country in KNOWN.values()), key=lambda c: sort_key(c[1])))


def sort_key(name):
    """Sorts a name as a dictionary does: an umlaut or accent as its plain letter ("Österreich" with the O's,
    "Dänemark" before "Deutschland"), not after Z as code points put it."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", str(name)) if not unicodedata.combining(c))
    return plain.casefold(), str(name)


def shipping_countries():
    """(code, name) of each country the shop ships to, as SHOP_SHIPPING_COUNTRIES lists them: what the
    checkout and saved-address forms offer, the names in the active language."""
    return list(_shipping_countries(get_language(), tuple(settings.SHOP_SHIPPING_COUNTRIES)))


@lru_cache(maxsize=16)
def _shipping_countries(language, codes):
    """The names translated once per language, not on every checkout page (eleven lookups)."""
    return tuple((code, str(KNOWN[code].name)) for code in codes if code in KNOWN)


def default_country():
    """The first country the shop ships to."""
    return settings.SHOP_SHIPPING_COUNTRIES[0]


def country_name(code):
    """The country's name in the active language ("Deutschland" in German); the code if it is not known."""
    return str(KNOWN[code].name) if code in KNOWN else code


def clean_postal_code(code, value):
    """`value` written as `code`'s postal codes are; ValidationError saying what one looks like otherwise."""
    country = KNOWN[code]
    try:
        return country.postal_code_field().clean(value)
    except ValidationError:
        raise ValidationError(
            _("Enter a postal code for %(country)s, like %(example)s")
            % {"country": country.name, "example": country.example},
            code="invalid_postal_code",
        ) from None
