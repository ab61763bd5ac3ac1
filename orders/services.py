"""Placing orders and changing their status: the one place for each."""
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from shop.models import Product
from shop.money import format_money

from . import outbox
from .models import Order, OrderEmail, OrderItem
from .tasks import order_created, order_shipped

CUSTOMER_FIELDS = ("first_name", "last_name", "email", "address", "postal_code", "city")


class OrderPlacementError(Exception):
    """The order cannot be placed as asked; the message is shown to the shopper."""


def place_order(*, customer, quantities, idempotency_key=None, prices_seen=None):
    """Create an Order from {product_id: quantity} at current catalog prices, reserving stock.

    Nothing is written unless every line can be filled. The confirmation email is queued only once the
    transaction has committed, so the worker always finds the order. With an idempotency key, placing
    the same order again (a double-clicked button, a resubmitted form) returns the first order. With
    prices_seen ({product_id: price}), a price that changed since the shopper saw it refuses the order.
    """
    if idempotency_key is not None:
        existing = Order.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            return existing
    try:
        return _create_order(customer, quantities, idempotency_key, prices_seen or {})
    except IntegrityError:
        # A concurrent submission with the same key committed first: that one is the order.
        existing = Order.objects.filter(idempotency_key=idempotency_key).first() if idempotency_key else None
        if existing is None:
            raise
        return existing


@transaction.atomic
def _create_order(customer, quantities, idempotency_key, prices_seen):
    if not quantities:
        raise OrderPlacementError("Your cart is empty.")
    maximum = settings.CART_MAX_QUANTITY
    if any(not isinstance(quantity, int) or not 1 <= quantity <= maximum for quantity in quantities.values()):
        raise OrderPlacementError(f"Each quantity must be between 1 and {maximum}.")

    # Lock the rows (PostgreSQL; SQLite's IMMEDIATE transactions already serialise writers), so two
    # checkouts racing for the last unit cannot both take it.
    products = Product.objects.select_for_update().filter(available=True).in_bulk(list(quantities))
    if idempotency_key is not None:
        # A twin submission may have waited for the same locks: if it placed the order, that is the order.
        existing = Order.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            return existing
    problems = []
    for product_id, quantity in quantities.items():
        product = products.get(product_id)
        if product is None:
            problems.append("An item in your cart is no longer available.")
        elif product.stock < quantity:
            left = f"only {product.stock} left" if product.stock else "sold out"
            problems.append(f"“{product.name}”: {left}.")
        elif prices_seen.get(product_id, product.price) != product.price:
            problems.append(f"The price of “{product.name}” has just changed to {format_money(product.price)}: "
                            "please check your order and place it again.")
    if problems:
        raise OrderPlacementError(" ".join(problems))

    for product_id, quantity in quantities.items():
        products[product_id].stock -= quantity
    Product.objects.bulk_update(list(products.values()), ["stock"])

    order = Order.objects.create(
        idempotency_key=idempotency_key, **{field: customer[field] for field in CUSTOMER_FIELDS}
    )
    OrderItem.objects.bulk_create(
        OrderItem(order=order, product=products[product_id], price=products[product_id].price, quantity=quantity)
        for product_id, quantity in quantities.items()
    )
    # The outbox row is written with the order: whatever happens after the commit, the email is owed.
    outbox.owe(order.id, OrderEmail.Kind.CONFIRMATION)
    transaction.on_commit(lambda: order_created.delay(order.id))  # never raises (see outbox.OutboxTask)
    return order


@transaction.atomic
def mark_paid(*, order_ids):
    """Mark pending orders paid; return the ids changed."""
    changed = list(Order.objects.select_for_update()
                   .filter(id__in=order_ids, status=Order.Status.PENDING).values_list("id", flat=True))
    Order.objects.filter(id__in=changed, status=Order.Status.PENDING).update(status=Order.Status.PAID,
                                                                             updated=timezone.now())
    return changed


@transaction.atomic
def mark_shipped(*, order_ids):
    """Mark orders shipped and email each customer a shipping notice (once); return the ids changed."""
    changed = list(
        Order.objects.select_for_update()
        .filter(id__in=order_ids, status__in=[Order.Status.PENDING, Order.Status.PAID])
        .values_list("id", flat=True)
    )
    Order.objects.filter(id__in=changed).update(status=Order.Status.SHIPPED, updated=timezone.now())
    for order_id in changed:
        outbox.owe(order_id, OrderEmail.Kind.SHIPPING)
        transaction.on_commit(lambda order_id=order_id: order_shipped.delay(order_id))
    return changed
