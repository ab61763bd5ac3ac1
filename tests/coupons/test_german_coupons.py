"""Coupons in the German cart: the discount and every refusal in German, with German amounts and dates."""

import re
from datetime import UTC, datetime
from decimal import Decimal
from html import unescape

import pytest
from django.urls import reverse
from django.utils import translation

from coupons.models import Coupon


@pytest.fixture(autouse=True)
def _no_language_left_active():
    """A /de/ request leaves German active in the thread (LocaleMiddleware activates it): the tests after these
    expect none, so that reverse() gives /en/ addresses."""
    yield
    translation.deactivate()


def text(response):
    """The page's words, tags stripped; runs of ordinary white space made one space, no-break spaces kept."""
    return re.sub(r"[ \t\r\n]+", " ", unescape(re.sub(r"<[^>]+>", " ", response.content.decode()))).strip()


def german(name, *args):
    with translation.override("de"):
        return reverse(name, args=args)


def apply(client, code):
    return client.post(german("coupons:coupon_apply"), {"code": code}, follow=True)


def test_the_german_cart_with_a_coupon_shows_the_discount_in_german(client, make_product, make_coupon, settings):
    settings.SHOP_SHIPPING_COST, settings.SHOP_FREE_SHIPPING_FROM = Decimal("4.90"), Decimal("50.00")
    client.post(german("cart:cart_add", make_product(price=Decimal("36.90")).id), {"quantity": 1})
    make_coupon(code="SPRING", value=Decimal("20"))

    page = text(apply(client, "spring"))
    assert "Mit dem Gutschein SPRING sparen Sie 7,38\xa0€ auf Ihre Waren (20 % Rabatt)." in page  # the message
    assert "Mit dem Gutschein SPRING sparen Sie 7,38\xa0€ auf Ihre Waren. Entfernen" in page  # the coupon box
    assert "Gutschein SPRING −7,38\xa0€" in page and "Gesamtsumme (inkl. MwSt.) 34,42\xa0€" in page
    assert "Noch 25,60\xa0€ bis zum kostenlosen Versand." in page


def test_a_refused_coupon_says_why_in_german_with_german_amounts_and_dates(client, make_product, make_coupon):
    client.post(german("cart:cart_add", make_product(price=Decimal("36.90")).id), {"quantity": 1})
    make_coupon(code="BIG", minimum_order=Decimal("100.00"))
    ended = datetime(2026, 3, 5, 12, 0, tzinfo=UTC)
    make_coupon(
        code="OLD", kind=Coupon.Kind.AMOUNT, value=Decimal("5"), valid_from=ended.replace(month=1), valid_to=ended
    )

    assert (
        "Der Gutschein BIG gilt ab einem Warenwert von 100,00\xa0€: Legen Sie noch Waren für 63,10\xa0€ in den "
        "Warenkorb und lösen Sie den Code dann erneut ein."
    ) in text(apply(client, "BIG"))
    # Berlin's time, with the German month's name.
    assert "Der Gutschein OLD ist abgelaufen (er war gültig bis 5. März 2026 13:00 MEZ)." in text(apply(client, "OLD"))
    page = text(apply(client, "NOPE"))
    assert "Es gibt keinen Gutschein „NOPE“. Prüfen Sie den Code und versuchen Sie es erneut." in page
    assert "Gutscheincode Einlösen" in page and "−" not in page
