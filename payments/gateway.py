"""The provider interface: what the shop asks of a payment provider, and what a provider tells the shop.

A provider starts a checkout (a page where the shopper pays), turns its webhooks into `ProviderEvent`s after
verifying their signature, answers a check on one checkout, refunds, and closes a checkout nobody may pay
any more. Everything else (the payment's states, the order, the invoice) is the shop's, in services.py.
"""

from dataclasses import dataclass
from decimal import Decimal

# The outcomes a provider can report; they are Payment.State values.
SUCCEEDED = "succeeded"
FAILED = "failed"
EXPIRED = "expired"

# Currencies without minor units (ISO 4217 exponent 0): amounts travel as whole units.
ZERO_DECIMAL_CURRENCIES = {
    "BIF",
    "CLP",
    "DJF",
    "GNF",
    "JPY",
    "KMF",
    "KRW",
    "MGA",
    "PYG",
    "RWF",
    "UGX",
    "VND",
    "VUV",
    "XAF",
    "XOF",
    "XPF",
}


class ProviderError(Exception):
    """The provider could not do what was asked (unreachable, refused); the message is for operators."""


class InvalidSignature(Exception):
    """A webhook whose signature does not verify (forged, tampered with, too old, or unsigned)."""


class MalformedEvent(Exception):
    """A webhook whose signature verifies but whose content the shop cannot read."""


@dataclass(frozen=True)
class Checkout:
    """A checkout started at a provider: its id there, and the page the shopper is sent to."""

    reference: str
    redirect_url: str


@dataclass(frozen=True)
class ProviderEvent:
    """What a provider says happened to one checkout, in the shop's words.

    `id` is the provider's event id (a resent event has the same one); `outcome` is SUCCEEDED, FAILED,
    EXPIRED, or "" when the event asks nothing of the shop. Amounts are in minor units, as providers send them.
    """

    id: str
    type: str
    reference: str
    outcome: str
    amount_minor: int | None = None
    currency: str = ""
    payment_id: str = ""


class Provider:
    """Base of the providers (payments/offline.py, payments/stripe_checkout.py)."""

    name = ""

    def start_checkout(self, *, payment, order, lines, return_url, cancel_url):
        """Start a checkout for `payment` (of `order`, whose `lines` are [(name, unit price, quantity)], a
        coupon's discount the one line with a negative price);
        return a Checkout. The provider sends the shopper to `return_url` (with ?ref=<reference>) after
        paying, to `cancel_url` when they give up. Raises ProviderError."""
        raise NotImplementedError

    def parse_webhook(self, *, body, headers):
        """The ProviderEvent of a webhook request; InvalidSignature or MalformedEvent if it is neither
        authentic nor readable."""
        raise NotImplementedError

    def check(self, payment):
        """Ask the provider what became of `payment`'s checkout: a ProviderEvent, or None while nothing is
        settled. Raises ProviderError."""
        raise NotImplementedError

    def refund(self, payment):
        """Give `payment`'s money back in full; return the provider's refund id. Asking twice refunds once.
        Raises ProviderError."""
        raise NotImplementedError

    def close_checkout(self, payment):
        """Stop `payment`'s checkout from taking money (its order was cancelled). Best effort: a shopper
        may pay in the meantime, which the shop then flags."""
        raise NotImplementedError


def to_minor_units(amount, currency):
    """Decimal('41.90'), 'EUR' -> 4190; whole units for currencies without minor units."""
    exponent = 0 if currency.upper() in ZERO_DECIMAL_CURRENCIES else 2
    return int(Decimal(amount).scaleb(exponent).to_integral_value())


def from_minor_units(minor, currency):
    """4190, 'EUR' -> Decimal('41.90')."""
    exponent = 0 if currency.upper() in ZERO_DECIMAL_CURRENCIES else 2
    return (Decimal(minor).scaleb(-exponent)).quantize(Decimal(1).scaleb(-exponent))
