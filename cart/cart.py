"""The session cart: product ids and quantities only; prices always come from the catalog."""
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property

from django.conf import settings

from shop.models import Product

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


def _parse_quantities(raw):
    """{product_id: quantity} from what the session holds, ignoring anything malformed.

    JSON sessions turn the integer keys into strings; they are turned back here, and only here.
    """
    quantities = {}
    if not isinstance(raw, dict):
        return quantities
    for key, value in raw.items():
        try:
            product_id = int(key)
        except (TypeError, ValueError):
            continue
        if isinstance(value, bool) or not isinstance(value, int) or product_id < 1 or value < 1:
            continue
        quantities[product_id] = value
    return quantities


class Cart:
    def __init__(self, session):
        self.session = session
        self._quantities = _parse_quantities(session.get(SESSION_KEY))

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
        return sum((line.total for line in self.lines), Decimal("0.00"))

    def quantity_of(self, product_id):
        return self._quantities.get(product_id, 0)

    # --- changing ------------------------------------------------------------------------------------
    def add(self, product, quantity, *, override=False):
        """Add `quantity` of `product` (or set it, with override); raises CartError if not allowed."""
        new_quantity = quantity if override else self.quantity_of(product.id) + quantity
        check_quantity(product, new_quantity)
        self._quantities[product.id] = new_quantity
        self._save()

    def remove(self, product_id):
        if self._quantities.pop(product_id, None) is not None:
            self._save()

    def clear(self):
        self._quantities = {}
        self.session.pop(SESSION_KEY, None)
        self.__dict__.pop("lines", None)

    def sync(self):
        """Drop lines whose product was deleted or withdrawn; return a notice for each problem found.

        A line asking for more than the stock left stays as the shopper chose it, with a notice: checkout
        refuses it with the same message, and the shopper decides what to change.
        """
        notices = []
        products = Product.objects.in_bulk(list(self._quantities)) if self._quantities else {}
        for product_id, quantity in list(self._quantities.items()):
            product = products.get(product_id)
            if product is None:
                del self._quantities[product_id]
                notices.append("An item in your cart is no longer sold and was removed.")
            elif not product.available:
                del self._quantities[product_id]
                notices.append(f"“{product.name}” is no longer available and was removed from your cart.")
            elif quantity > product.stock:
                left = f"only {product.stock} left" if product.stock else "sold out"
                notices.append(f"“{product.name}”: {left}. Please change the quantity or remove it.")
        if self.session.get(SESSION_KEY) != self._serialised():
            self._save()
        return notices

    def _serialised(self):
        return {str(product_id): quantity for product_id, quantity in self._quantities.items()}

    def _save(self):
        self.session[SESSION_KEY] = self._serialised()
        self.session.modified = True
        self.__dict__.pop("lines", None)


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
