"""Stock moves only by recorded deltas: every change is a StockMovement with its reason, applied to the
product under its row lock. The one place stock changes."""

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from .models import Product, StockMovement

Reason = StockMovement.Reason


def low_stock():
    """Products on sale with SHOP_LOW_STOCK_AT units or fewer (sold out included), the fewest first."""
    return Product.objects.filter(available=True, stock__lte=settings.SHOP_LOW_STOCK_AT).order_by("stock", "name", "id")


class StockError(Exception):
    """A stock change that cannot be made; the message is shown to whoever asked."""


def _locked(product_ids):
    """{id: product} for these ids, their rows locked until the transaction ends (PostgreSQL; SQLite takes
    the write lock at BEGIN). Locked in id order, as the checkout locks them (shop.lookups.locked_products):
    two transactions taking the same rows in different orders could each hold one and wait for the other."""
    return Product.objects.select_for_update().order_by("id").in_bulk(list(product_ids))


def _apply(products, deltas, reason, *, order_id=None, by=None, note=""):
    """Apply {product_id: delta} to the locked `products` and record each movement (two statements)."""
    movements = []
    for product_id, delta in deltas.items():
        product = products[product_id]
        product.stock += delta
        if product.stock < 0:
            raise StockError(
                _("“%(product)s” has only %(count)s in stock.")
                % {"product": product.name, "count": product.stock - delta}
            )
        movements.append(
            StockMovement(
                product=product, delta=delta, balance=product.stock, reason=reason, order_id=order_id, by=by, note=note
            )
        )
    if len(deltas) == 1:  # most orders: one row, a plain update rather than bulk_update's CASE
        (product_id,) = deltas
        # Django's own queryset: modeltranslation's rewrites each lookup for the language (65 µs), and stock has none.
        QuerySet(Product).filter(pk=product_id).update(stock=products[product_id].stock)
    else:
        Product.objects.bulk_update([products[product_id] for product_id in deltas], ["stock"])
    StockMovement.objects.bulk_create(movements)


def sell(*, products, quantities, order_id):
    """Take {product_id: quantity} for order `order_id`; `products` must be locked by the caller's transaction."""
    _apply(
        products, {product_id: -quantity for product_id, quantity in quantities.items()}, Reason.SOLD, order_id=order_id
    )


@transaction.atomic
def give_back(*, order_id, quantities):
    """Put {product_id: quantity} of cancelled order `order_id` back in stock."""
    _apply(_locked(quantities), dict(quantities), Reason.RETURNED, order_id=order_id)


@transaction.atomic
def receive(*, product_id, quantity, by, note=""):
    """Record `quantity` units received (a delivery); return the new stock."""
    if quantity < 1:
        raise StockError(_("Enter the number of units received: at least 1."))
    products = _locked([product_id])
    _apply(products, {product_id: quantity}, Reason.RECEIVED, by=by, note=note)
    return products[product_id].stock


@transaction.atomic
def count(*, product_id, counted, by, note=""):
    """Record a stock-take: `counted` units are on the shelf; the difference is the movement. Return it."""
    if counted < 0:
        raise StockError(_("Enter the number of units counted: 0 or more."))
    products = _locked([product_id])
    delta = counted - products[product_id].stock
    if delta:
        _apply(products, {product_id: delta}, Reason.COUNTED, by=by, note=note)
    return delta
