"""Learning what is bought together from paid orders, rebuilding it from the database, and choosing what a page
suggests: what was bought with it (Redis), or else the category's best sellers (the database)."""

import logging
from datetime import timedelta
from itertools import groupby, permutations

from django.conf import settings
from django.core.cache import cache
from django.db.models import Sum
from django.utils import timezone

from orders.models import Order, OrderItem
from shop.lookups import available_products
from shop.models import Product

from . import store

logger = logging.getLogger(__name__)

# What counts as bought: paid, and paid then shipped. A paid order cancelled later drops out at the next rebuild.
COUNTED = [Order.Status.PAID, Order.Status.SHIPPED]
SHOWN = 4  # products a page suggests
CANDIDATES = 12  # read per product, so that enough are left once unavailable ones are dropped


# --- Learning -------------------------------------------------------------------------------------------


def count_paid_order(order_id):
    """Add paid order `order_id`'s products to what is bought together, once; True if counted now.

    An order not (or no longer) paid, or unknown, is not counted. Raises what Redis and the database raise.
    """
    if not store.is_configured():  # a worker set up without it
        return False
    statuses = Order.objects.filter(id=order_id).values_list("status", flat=True)
    if not statuses or statuses[0] not in COUNTED:
        return False
    product_ids = OrderItem.objects.filter(order_id=order_id).values_list("product_id", flat=True)
    return store.count_order(store.client(for_page=False), order_id, list(product_ids))


def rebuild():
    """Recount every paid order from the database into fresh keys and swap them in at once; return
    (orders counted, products with a set).

    One streamed query reads the orders (one snapshot: the pairs and the bitmap agree). Orders paid while it
    ran, whose counts went to the keys just replaced, are counted again afterwards: the bitmap makes that safe.
    """
    started = timezone.now()
    connection = store.client(for_page=False)
    pairs, counted = {}, []
    lines = (
        OrderItem.objects.filter(order__status__in=COUNTED)
        .order_by("order_id")
        .values_list("order_id", "product_id")
        .iterator(chunk_size=5000)
    )
    for order_id, order_lines in groupby(lines, key=lambda line: line[0]):
        counted.append(order_id)
        for product_id, other_id in permutations({product_id for _, product_id in order_lines}, 2):
            others = pairs.setdefault(product_id, {})
            others[other_id] = others.get(other_id, 0) + 1
    rebuilt = store.Keys.for_rebuild()
    store.write_rebuild(connection, rebuilt, pairs, counted)
    store.swap_in(connection, rebuilt)
    _count_paid_since(connection, started - timedelta(minutes=5))
    logger.info("recommendations rebuilt: %s orders, %s products", len(counted), len(pairs))
    return len(counted), len(pairs)


def _count_paid_since(connection, since):
    """Count (once) the orders paid since `since`: those a rebuild's snapshot may have missed."""
    lines = (
        OrderItem.objects.filter(order__status__in=COUNTED, order__updated__gte=since)
        .order_by("order_id")
        .values_list("order_id", "product_id")
    )
    for order_id, order_lines in groupby(lines, key=lambda line: line[0]):
        store.count_order(connection, order_id, [product_id for _, product_id in order_lines])


# --- Showing ----------------------------------------------------------------------------------------------


class Suggestions:
    """What a page suggests: `products` (at most SHOWN, available), and whether they were `learned` from orders
    bought together or are the category's best sellers standing in."""

    def __init__(self, products, *, learned):
        self.products, self.learned = products, learned

    def __bool__(self):
        return bool(self.products)


def for_product(product):
    """Up to SHOWN available products bought with `product`; with no such history, its category's best sellers."""
    return _suggest([product.id], [product.category_id])


def for_cart(cart_products):
    """Up to SHOWN available products bought with those in the cart (not themselves), best summed score first;
    with no such history, the best sellers of the first one's category (the same cached list as its page's)."""
    if not cart_products:
        return Suggestions([], learned=False)
    return _suggest([product.id for product in cart_products], [cart_products[0].category_id])


def _suggest(product_ids, category_ids):
    learned = _learned(product_ids)
    if learned:
        return Suggestions(learned, learned=True)
    return Suggestions(_first_available(best_sellers(category_ids), excluded=product_ids), learned=False)


def _learned(product_ids):
    """The available products most bought with these ones; [] when Redis has none, or is away or slow."""
    if not store.is_configured():
        return []
    try:
        scores = store.bought_with(store.client(for_page=True), product_ids, limit=CANDIDATES + len(product_ids))
    except store.RedisUnavailable as error:
        logger.warning("recommendations: Redis unavailable (%s); showing best sellers", type(error).__name__)
        return []
    ranked = sorted(scores, key=lambda product_id: (-scores[product_id], product_id))
    return _first_available(ranked, excluded=product_ids)


def _first_available(ranked_ids, *, excluded):
    """The first SHOWN available products of `ranked_ids` not in `excluded`, in one query."""
    excluded = set(excluded)
    candidates = [product_id for product_id in ranked_ids if product_id not in excluded][: CANDIDATES * 2]
    found = available_products(candidates)
    return [found[product_id] for product_id in candidates if product_id in found][:SHOWN]


def best_sellers(category_ids):
    """Ids of the products of these categories that sold the most units in paid orders, best first; kept in
    the cache for RECOMMENDATIONS_BEST_SELLERS_SECONDS."""
    key = "recommendations:best-sellers:" + ",".join(str(category_id) for category_id in sorted(category_ids))
    try:
        ranked = cache.get(key)
    except Exception:  # the cache is away: ask the database
        ranked = None
    if ranked is None:
        sold = (
            Product.objects.filter(category_id__in=category_ids, order_items__order__status__in=COUNTED)
            .values("id")
            .annotate(sold=Sum("order_items__quantity"))
            .order_by("-sold", "id")
        )
        ranked = [row["id"] for row in sold[: CANDIDATES * 2]]
        try:
            cache.set(key, ranked, settings.RECOMMENDATIONS_BEST_SELLERS_SECONDS)
        except Exception:
            logger.warning("recommendations: best sellers not cached (the cache is away)")
    return ranked
