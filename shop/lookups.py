"""The catalog lookups every order makes, compiled once (core/compiled.py): the product page's product, the
product added to the cart, the cart's products, and the checkout's products under their row locks."""

from core.compiled import CompiledQuery

from .models import Product

_on_sale = CompiledQuery(
    lambda product_id, slug: (
        Product.objects.select_related("category").filter(id=product_id, slug=slug, available=True).order_by()[:1]
    ),
    int,
    str,
)
_available = CompiledQuery(lambda product_id: Product.objects.filter(id=product_id, available=True).order_by()[:1], int)
_available_in = CompiledQuery(lambda ids: Product.objects.filter(available=True, id__in=ids).order_by(), [int])
_in = CompiledQuery(lambda ids: Product.objects.filter(id__in=ids).order_by(), [int])
# In id order, as every stock change locks them (shop.stock._locked): never one row each, waiting for the other.
_locked_in = CompiledQuery(lambda ids: Product.objects.select_for_update().filter(id__in=ids).order_by("id"), [int])


def product_on_sale(product_id, slug):
    """The available product with this id and slug, its category loaded; None if there is none."""
    found = _on_sale(product_id, slug)
    return found[0] if found else None


def available_product(product_id):
    """The available product with this id; None if there is none."""
    found = _available(product_id)
    return found[0] if found else None


def available_products(product_ids):
    """{id: product} of the available products among these ids (as `in_bulk`)."""
    return _by_id(_available_in, product_ids)


def products(product_ids):
    """{id: product} of the products among these ids, available or not (as `in_bulk`)."""
    return _by_id(_in, product_ids)


def locked_products(product_ids):
    """{id: product} of these products, their rows locked in id order until the transaction ends (PostgreSQL;
    SQLite's IMMEDIATE transactions already serialise writers). Inside a transaction only, as select_for_update."""
    return _by_id(_locked_in, product_ids)


def _by_id(query, product_ids):
    """{id: product} as `in_bulk` gives it; no query for no ids."""
    return {product.id: product for product in query(list(product_ids))} if product_ids else {}
