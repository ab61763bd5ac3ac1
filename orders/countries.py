"""The countries the shop ships to (SHOP_SHIPPING_COUNTRIES), their names and how their postal codes look.

Postal codes are checked by django-localflavor's field for each country, which also writes them the usual
way ("1234ab" becomes "1234 AB"); the message is the shop's own, with an example.
"""

from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
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
    name: str
    postal_code_field: type
    example: str  # a valid postal code, for the error message


KNOWN = {
    country.code: country
    for country in (
        Country("DE", "Germany", DEZipCodeField, "10115"),
        Country("AT", "Austria", ATZipCodeField, "1010"),
        Country("BE", "Belgium", BEPostalCodeField, "1000"),
        Country("CH", "Switzerland", CHZipCodeField, "8001"),
        Country("CZ", "Czechia", CZPostalCodeField, "110 00"),
        Country("DK", "Denmark", DKPostalCodeField, "1050"),
        Country("ES", "Spain", ESPostalCodeField, "28001"),
        Country("FR", "France", FRZipCodeField, "75001"),
        Country("IT", "Italy", ITZipCodeField, "00118"),
        Country("NL", "Netherlands", NLZipCodeField, "1011 AB"),
        Country("PL", "Poland", PLPostalCodeField, "00-001"),
    )
}


def known_countries():
    """(code, name) of every country in the table: the choices of a stored address (Order.country), which
    outlive a change to SHOP_SHIPPING_COUNTRIES; the forms a shopper fills offer shipping_countries()."""
    return sorted(((country.code, country.name) for country in KNOWN.values()), key=lambda choice: choice[1])


def shipping_countries():
    """(code, name) of each country the shop ships to, as SHOP_SHIPPING_COUNTRIES lists them: what the
    checkout and saved-address forms offer."""
    return [(code, KNOWN[code].name) for code in settings.SHOP_SHIPPING_COUNTRIES if code in KNOWN]


def default_country():
    """The first country the shop ships to."""
    return settings.SHOP_SHIPPING_COUNTRIES[0]


def country_name(code):
    return KNOWN[code].name if code in KNOWN else code


def clean_postal_code(code, value):
    """`value` written as `code`'s postal codes are; ValidationError saying what one looks like otherwise."""
    country = KNOWN[code]
    try:
        return country.postal_code_field().clean(value)
    except ValidationError:
        raise ValidationError(
            f"Enter a postal code for {country.name}, like {country.example}", code="invalid_postal_code"
        ) from None
