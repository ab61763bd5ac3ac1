"""An order's VAT per rate: the discount and shipping spread over the goods' rates, to the cent.

How and why (the discount and shipping follow the goods in proportion, rounding that adds up): docs/invoices.md.
"""

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings

from shop.money import CENT, ZERO, to_amount

HUNDRED = Decimal(100)


@dataclass(frozen=True)
class RatePart:
    """The order's amounts at one VAT rate (percent). `taxable` is what the rate applies to: the goods, less
    their share of the discount, plus their share of shipping; `net + vat == gross` to the cent."""

    rate: Decimal
    goods: Decimal
    discount: Decimal
    shipping: Decimal
    net: Decimal
    vat: Decimal
    gross: Decimal

    @property
    def taxable(self):
        return self.goods - self.discount + self.shipping


@dataclass(frozen=True)
class Breakdown:
    """An order's VAT, one part per rate (highest rate first), and its totals."""

    parts: tuple
    prices_include_vat: bool

    @property
    def net(self):
        return sum((part.net for part in self.parts), ZERO)

    @property
    def vat(self):
        return sum((part.vat for part in self.parts), ZERO)

    @property
    def gross(self):
        return sum((part.gross for part in self.parts), ZERO)


def order_breakdown(order, items=None, *, prices_include_vat=None):
    """`order`'s VAT per rate, from its lines' frozen prices and rates, its discount and its shipping.

    With prices including VAT (SHOP_PRICES_INCLUDE_VAT, the default) the parts' gross adds up to the order's
    total; with prices excluding it, their net does and the VAT comes on top."""
    items = order.items.all() if items is None else items
    goods = {}
    for item in items:
        goods[item.vat_rate] = goods.get(item.vat_rate, ZERO) + item.cost
    return split(
        goods,
        discount=order.discount,
        shipping=order.shipping_cost,
        prices_include_vat=settings.SHOP_PRICES_INCLUDE_VAT if prices_include_vat is None else prices_include_vat,
    )


def split(goods, *, discount=ZERO, shipping=ZERO, prices_include_vat=True):
    """The Breakdown of goods worth {rate: amount}, less `discount`, plus `shipping`.

    The discount is shared over the rates in proportion to their goods; shipping in proportion to the goods
    as discounted (or as priced, when the discount takes them all). Each share is whole cents, the shares add
    up exactly, and the VAT of each rate is worked out once, on its whole amount."""
    goods = {Decimal(rate): to_amount(amount) for rate, amount in goods.items()}
    discount, shipping = to_amount(discount), to_amount(shipping)
    if not goods:
        raise ValueError("An order without lines has no VAT to work out.")
    if any(amount < 0 for amount in goods.values()) or discount < 0 or shipping < 0:
        raise ValueError("Goods, discount and shipping cannot be negative.")
    if discount > sum(goods.values()):
        raise ValueError(f"A discount of {discount} exceeds the goods it reduces ({sum(goods.values())}).")
    rates = sorted(goods, reverse=True)
    discounts = spread(discount, [goods[rate] for rate in rates])
    discounted = [goods[rate] - share for rate, share in zip(rates, discounts, strict=True)]
    shipping_shares = spread(shipping, discounted if any(discounted) else [goods[rate] for rate in rates])
    parts = []
    for rate, share, ship in zip(rates, discounts, shipping_shares, strict=True):
        taxable = goods[rate] - share + ship
        if prices_include_vat:
            vat = to_amount(taxable * rate / (HUNDRED + rate))
            net, gross = taxable - vat, taxable
        else:
            vat = to_amount(taxable * rate / HUNDRED)
            net, gross = taxable, taxable + vat
        parts.append(RatePart(rate, goods[rate], share, ship, net, vat, gross))
    return Breakdown(tuple(parts), prices_include_vat)


def spread(amount, weights):
    """`amount` shared in proportion to `weights`, in whole cents that add up to it exactly (the cents
    left by rounding down go to the largest remainders; all to the first weight if every weight is 0)."""
    cents = int(amount / CENT)
    total = sum(weights, ZERO)
    if not total:
        return [amount if index == 0 else ZERO for index in range(len(weights))]
    exact = [Decimal(cents) * weight / total for weight in weights]
    shares = [int(share) for share in exact]  # rounded down: every weight is >= 0
    by_remainder = sorted(range(len(weights)), key=lambda index: (shares[index] - exact[index], -weights[index]))
    for index in by_remainder[: cents - sum(shares)]:
        shares[index] += 1
    return [Decimal(share) * CENT for share in shares]


def excluding_vat(price, rate, *, prices_include_vat=None):
    """A unit price without its VAT, to the cent (as invoices state it next to the price)."""
    include = settings.SHOP_PRICES_INCLUDE_VAT if prices_include_vat is None else prices_include_vat
    return to_amount(price * HUNDRED / (HUNDRED + rate)) if include else to_amount(price)
