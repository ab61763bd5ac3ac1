"""The session cart: product ids, quantities and the price the shopper saw; the catalog's price is charged."""

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cached_property
from typing import NamedTuple

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from shop import lookups
from shop.models import Product
from shop.money import format_money, free_shipping_gap, shipping_cost

SESSION_KEY = "cart"
REFUSED_KEY = "cart_refused"


class CartError(Exception):
    """A cart change that cannot be made; the message is shown to the shopper."""


@dataclass(frozen=True)
class CartLine:
    product: Product
    quantity: int

    @property
    def price(self):
        return self.product.price

    @property
    def total(self):
        return self.product.price * self.quantity

    @property
    def in_stock(self):
        """How many of the product can be ordered now: the stock left, none once withdrawn."""
        return self.product.stock if self.product.available else 0

    @property
    def is_stale(self):
        """True if the line asks for more than can be ordered now: checkout refuses it until it is changed."""
        return self.quantity > self.in_stock

    @property
    def problem(self):
        """What is wrong with a stale line, in a few words for its row ("Only 2 left", "Sold out"); else ""."""
        if not self.is_stale:
            return ""
        # Translators: also shown in lower case inside a sentence ("“Mug”: only 2 left. Please change…").
        return _("Only %(count)s left") % {"count": self.in_stock} if self.in_stock else _("Sold out")


class Refusal(NamedTuple):
    """A cart change just refused: the whole quantity asked for (None if it was no number) and why."""

    quantity: int | None
    error: str


def _parse_price(raw):
    try:
        price = Decimal(raw)
    except (TypeError, ValueError, InvalidOperation):
        return None
    return price if price.is_finite() and price >= 0 else None


def _parse_session(raw):
    """({product_id: quantity}, {product_id: price seen}) from what the session holds, ignoring junk.

    Stored as {"<id>": {"quantity": 2, "price": "9.50"}}: JSON sessions turn integer keys into strings
    and have no Decimal, so both are converted back here, and only here.
    """
    quantities, prices = {}, {}
    if not isinstance(raw, dict):
        return quantities, prices
    for key, entry in raw.items():
        try:
            product_id = int(key)
        except (TypeError, ValueError):
            continue
        quantity = entry.get("quantity") if isinstance(entry, dict) else None
        if isinstance(quantity, bool) or not isinstance(quantity, int) or product_id < 1 or quantity < 1:
            continue
        quantities[product_id] = min(quantity, settings.CART_MAX_QUANTITY)  # larger only if tampered with
        prices[product_id] = _parse_price(entry.get("price"))
    return quantities, prices


class Cart:
    def __init__(self, session):
        self.session = session
        self._quantities, self._prices_seen = _parse_session(session.get(SESSION_KEY))
        self.repriced = []  # products whose price changed since the shopper saw it (set by sync)

    # --- reading -------------------------------------------------------------------------------------
    def quantities(self):
        """{product_id: quantity} as the shopper chose them."""
        return dict(self._quantities)

    @cached_property
    def lines(self):
        """The lines whose product still exists and is available, in the order they were added."""
        if not self._quantities:
            return []
        products = lookups.available_products(list(self._quantities))
        return [
            CartLine(product=products[product_id], quantity=quantity)
            for product_id, quantity in self._quantities.items()
            if product_id in products
        ]

    def __iter__(self):
        return iter(self.lines)

    def __len__(self):
        """Number of items (sum of quantities) that can be bought."""
        return sum(line.quantity for line in self.lines)

    def __bool__(self):
        return bool(self._quantities)

    def total(self):
        """What the goods cost (the subtotal, before shipping)."""
        return sum((line.total for line in self.lines), Decimal("0.00"))

    def shipping_cost(self):
        return shipping_cost(self.total())

    def grand_total(self):
        """Goods plus shipping: what the shopper pays."""
        return self.total() + self.shipping_cost()

    def free_shipping_gap(self):
        """How much more in goods would ship free: 0 once they do, None if shipping never becomes free."""
        return free_shipping_gap(self.total())

    def stale_lines(self):
        """The lines that cannot be ordered as they are (more than the stock left, or sold out).

        Checkout must not be offered while there are any; the cart page flags each in its row. After
        sync(), this reads the products sync() just read.
        """
        return [line for line in self.lines if line.is_stale]

    def prices_seen(self):
        """{product_id: price} as last shown to the shopper (None where unknown)."""
        return {product_id: price for product_id, price in self._prices_seen.items() if price is not None}

    def quantity_of(self, product_id):
        return self._quantities.get(product_id, 0)

    def addable_quantity(self, product):
        """How many more of `product` this cart may take (what check_quantity would allow)."""
        return max(0, quantity_limit(product) - self.quantity_of(product.id))

    # A change the shopper asked for and was refused, shown again in the form after the redirect.
    def remember_refused(self, product_id, quantity, error=""):
        self.session[REFUSED_KEY] = {"product": product_id, "quantity": quantity, "error": error}

    def pop_refused(self, product_id):
        """The Refusal just remembered for `product_id` (then forgotten), or None."""
        refused = self.session.get(REFUSED_KEY)
        if not isinstance(refused, dict) or refused.get("product") != product_id:
            return None
        self.session.pop(REFUSED_KEY)
        quantity, error = refused.get("quantity"), refused.get("error")
        return Refusal(
            quantity=quantity if isinstance(quantity, int) and not isinstance(quantity, bool) else None,
            error=error if isinstance(error, str) else "",
        )

    # --- changing ------------------------------------------------------------------------------------
    def add(self, product, quantity, *, override=False):
        """Add `quantity` of `product` (or set it, with override); raises CartError if not allowed."""
        in_cart = 0 if override else self.quantity_of(product.id)
        check_quantity(product, in_cart + quantity, in_cart=in_cart)
        new_quantity = in_cart + quantity
        self._quantities[product.id] = new_quantity
        self._prices_seen[product.id] = product.price
        self._save()

    def remove(self, product_id):
        if self._quantities.pop(product_id, None) is not None:
            self._prices_seen.pop(product_id, None)
            self._save()

    def clear(self):
        self._quantities, self._prices_seen = {}, {}
        self.session.pop(SESSION_KEY, None)
        self.__dict__.pop("lines", None)

    def sync(self, *, report_stale=True):
        """Bring the cart in line with the catalog; return a notice for each change the shopper should know.

        Deleted or withdrawn products are dropped. A changed price is reported once (and remembered as
        seen), its product listed in `repriced`. A stale line (see stale_lines) stays as the shopper chose
        it, with a notice unless report_stale is False (the cart page flags it in its row instead).
        """
        notices = []
        self.repriced = []
        products = lookups.products(list(self._quantities))
        for product_id in list(self._quantities):
            product = products.get(product_id)
            if product is None:
                self.remove(product_id)
                notices.append(_("An item in your cart is no longer sold and was removed."))
                continue
            if not product.available:
                self.remove(product_id)
                notices.append(
                    _("“%(product)s” is no longer available and was removed from your cart.")
                    % {"product": product.name}
                )
                continue
            seen = self._prices_seen.get(product_id)
            if seen is not None and seen != product.price:
                notices.append(
                    _("The price of “%(product)s” changed from %(old)s to %(new)s.")
                    % {"product": product.name, "old": format_money(seen), "new": format_money(product.price)}
                )
                self.repriced.append(product)
            self._prices_seen[product_id] = product.price
        if self.session.get(SESSION_KEY, {}) != self._serialised():  # an empty cart needs no session row
            self._save()
        # The lines as `lines` would read them, from the products just read: the page needs no second query.
        self.lines = [
            CartLine(product=products[product_id], quantity=quantity)
            for product_id, quantity in self._quantities.items()
        ]
        if report_stale:
            notices += [
                _("“%(product)s”: %(problem)s. Please change the quantity or remove it.")
                % {"product": line.product.name, "problem": line.problem.lower()}
                for line in self.stale_lines()
            ]
        return notices

    def _serialised(self):
        return {
            str(product_id): {"quantity": quantity, "price": _price_text(self._prices_seen.get(product_id))}
            for product_id, quantity in self._quantities.items()
        }

    def _save(self):
        self.session[SESSION_KEY] = self._serialised()
        self.session.modified = True
        self.__dict__.pop("lines", None)


def _price_text(price):
    return "" if price is None else str(price)


def quantity_limit(product):
    """The most of `product` one cart line may hold: the stock left, at most CART_MAX_QUANTITY (0: none)."""
    if not product.available:
        return 0
    return max(0, min(product.stock, settings.CART_MAX_QUANTITY))


def check_quantity(product, quantity, *, in_cart=0):
    """Raise CartError unless `quantity` of `product` may be in a cart (`in_cart` of it there already)."""
    maximum = settings.CART_MAX_QUANTITY
    if quantity < 1:
        raise CartError(_("The quantity must be at least 1."))
    if not product.available or product.stock < 1:
        raise CartError(_("“%(product)s” is not available at the moment.") % {"product": product.name})
    if quantity <= quantity_limit(product):
        return
    words = {"product": product.name, "maximum": maximum, "stock": product.stock, "in_cart": in_cart}
    if not in_cart:
        if quantity > maximum:
            raise CartError(_("You can order at most %(maximum)s of “%(product)s”.") % words)
        raise CartError(_("Only %(stock)s of “%(product)s” left in stock.") % words)
    more = quantity_limit(product) - in_cart
    # Each clause whole, with its own plural, so that each language words it its own way.
    if quantity > maximum:
        problem = ngettext(
            "You can order at most %(maximum)s of “%(product)s”, and %(in_cart)s is in your cart",
            "You can order at most %(maximum)s of “%(product)s”, and %(in_cart)s are in your cart",
            in_cart,
        )
    else:
        problem = ngettext(
            "Only %(stock)s of “%(product)s” left in stock, and %(in_cart)s is in your cart",
            "Only %(stock)s of “%(product)s” left in stock, and %(in_cart)s are in your cart",
            in_cart,
        )
    if more > 0:
        advice = _("you can add up to %(more)s more.")
    else:
        advice = _("you cannot add more.")
    raise CartError(_("%(problem)s: %(advice)s") % {"problem": problem % words, "advice": advice % {"more": more}})
