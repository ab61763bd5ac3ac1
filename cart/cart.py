"""The session cart: product ids, quantities and the price the shopper saw; the catalog's price is charged."""
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cached_property

from django.conf import settings

from shop.models import Product
from shop.money import format_money, shipping_cost

SESSION_KEY = "cart"


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
        products = Product.objects.filter(available=True).in_bulk(list(self._quantities))
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

    def prices_seen(self):
        """{product_id: price} as last shown to the shopper (None where unknown)."""
        return {product_id: price for product_id, price in self._prices_seen.items() if price is not None}

    def quantity_of(self, product_id):
        return self._quantities.get(product_id, 0)

    # --- changing ------------------------------------------------------------------------------------
    def add(self, product, quantity, *, override=False):
        """Add `quantity` of `product` (or set it, with override); raises CartError if not allowed."""
        new_quantity = quantity if override else self.quantity_of(product.id) + quantity
        check_quantity(product, new_quantity)
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

    def sync(self):
        """Bring the cart in line with the catalog; return a notice for each change the shopper should know.

        Deleted or withdrawn products are dropped. A changed price is reported once (and remembered as
        seen), its product listed in `repriced`. A line asking for more than the stock left stays as the
        shopper chose it, with a notice: checkout refuses it with the same message.
        """
        notices = []
        self.repriced = []
        products = Product.objects.in_bulk(list(self._quantities)) if self._quantities else {}
        for product_id, quantity in list(self._quantities.items()):
            product = products.get(product_id)
            if product is None:
                self.remove(product_id)
                notices.append("An item in your cart is no longer sold and was removed.")
                continue
            if not product.available:
                self.remove(product_id)
                notices.append(f"“{product.name}” is no longer available and was removed from your cart.")
                continue
            seen = self._prices_seen.get(product_id)
            if seen is not None and seen != product.price:
                notices.append(f"The price of “{product.name}” changed from {format_money(seen)} to "
                               f"{format_money(product.price)}.")
                self.repriced.append(product)
            self._prices_seen[product_id] = product.price
            if quantity > product.stock:
                left = f"only {product.stock} left" if product.stock else "sold out"
                notices.append(f"“{product.name}”: {left}. Please change the quantity or remove it.")
        if self.session.get(SESSION_KEY, {}) != self._serialised():  # an empty cart needs no session row
            self._save()
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


def check_quantity(product, quantity):
    """Raise CartError unless `quantity` of `product` may be in a cart."""
    maximum = settings.CART_MAX_QUANTITY
    if quantity < 1:
        raise CartError("The quantity must be at least 1.")
    if quantity > maximum:
        raise CartError(f"You can order at most {maximum} of “{product.name}”.")
    if not product.available or product.stock < 1:
        raise CartError(f"“{product.name}” is not available at the moment.")
    if quantity > product.stock:
        raise CartError(f"Only {product.stock} of “{product.name}” left in stock.")
