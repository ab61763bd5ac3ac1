"""The parcel carriers an order can ship with, and the link where a customer follows a parcel."""

import re
from dataclasses import dataclass
from urllib.parse import quote

from django.core.exceptions import ValidationError
from django.utils.translation import pgettext_lazy


@dataclass(frozen=True)
class Carrier:
    code: str  # what Order.carrier stores
    label: str  # a brand's name, the same in every language; "Other" is translated
    tracking_url: str = ""  # "{number}" is replaced by the tracking number; "" when the carrier has no page


CARRIERS = {
    carrier.code: carrier
    for carrier in [
        Carrier("dhl", "DHL", "https://www.dhl.de/de/privatkunden/pakete-empfangen/verfolgen.html?piececode={number}"),
        Carrier("dpd", "DPD", "https://tracking.dpd.de/status/de_DE/parcel/{number}"),
        Carrier("ups", "UPS", "https://www.ups.com/track?tracknum={number}"),
        Carrier("gls", "GLS", "https://gls-group.com/DE/de/paketverfolgung?match={number}"),
        Carrier(
            "hermes", "Hermes", "https://www.myhermes.de/empfangen/sendungsverfolgung/sendungsinformation#{number}"
        ),
        Carrier(
            "deutsche-post",
            "Deutsche Post",
            "https://www.deutschepost.de/de/s/sendungsverfolgung.html?piececode={number}",
        ),
        Carrier("other", pgettext_lazy("carrier", "Other")),  # in the operator's language
    ]
}
# Letters, digits and dashes once spaces are taken out: what carriers print on labels (spaces group digits).
TRACKING_NUMBER = re.compile(r"[A-Z0-9-]{6,40}")


def carrier_choices():
    return [(carrier.code, carrier.label) for carrier in CARRIERS.values()]


def clean_tracking_number(raw):
    """The tracking number as stored: spaces out, upper case; ValidationError saying what is wrong."""
    number = "".join((raw or "").split()).upper()
    if not number:
        raise ValidationError("Enter the parcel's tracking number.")
    if not TRACKING_NUMBER.fullmatch(number):
        raise ValidationError(
            "A tracking number has 6 to 40 letters, digits or dashes (spaces are ignored); check this one."
        )
    return number


def carrier_label(code):
    carrier = CARRIERS.get(code)
    return carrier.label if carrier else code


def customer_label(code):
    """The carrier as customers read it: "" for "other", which names no carrier (only the tracking number)."""
    return "" if code == "other" else carrier_label(code)


def tracking_url(code, number):
    """The carrier's page for this parcel; "" for a carrier without one, or no number."""
    carrier = CARRIERS.get(code)
    if carrier is None or not carrier.tracking_url or not number:
        return ""
    return carrier.tracking_url.format(number=quote(number, safe=""))
