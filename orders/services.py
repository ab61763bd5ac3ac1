"""Placing an order and handing its confirmation email to the worker: the one place either happens."""
import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from shop.models import Product

from .models import Order, OrderItem

logger = logging.getLogger(__name__)

CUSTOMER_FIELDS = ("first_name", "last_name", "email", "address", "postal_code", "city")


class OrderPlacementError(Exception):
    """The order cannot be placed as asked; the message is shown to the shopper."""


@transaction.atomic
def place_order(*, customer, quantities, notify=True):
    """Create an Order from {product_id: quantity} at current catalog prices, reserving stock.

    Nothing is written unless every line can be filled. The confirmation email is queued only once the
    transaction has committed, so the worker always finds the order. notify=False skips the hand-over
    (the benchmark's "database work only" floor).
    """
    if not quantities:
        raise OrderPlacementError("Your cart is empty.")
    maximum = settings.CART_MAX_QUANTITY
    if any(not isinstance(quantity, int) or not 1 <= quantity <= maximum for quantity in quantities.values()):
        raise OrderPlacementError(f"Each quantity must be between 1 and {maximum}.")

    # Lock the rows (PostgreSQL; SQLite's IMMEDIATE transactions already serialise writers), so two
    # checkouts racing for the last unit cannot both take it.
    products = Product.objects.select_for_update().filter(available=True).in_bulk(list(quantities))
    problems = []
    for product_id, quantity in quantities.items():
        product = products.get(product_id)
        if product is None:
            problems.append("An item in your cart is no longer available.")
        elif product.stock < quantity:
            left = f"only {product.stock} left" if product.stock else "sold out"
            problems.append(f"“{product.name}”: {left}.")
    if problems:
        raise OrderPlacementError(" ".join(problems))

    for product_id, quantity in quantities.items():
        products[product_id].stock -= quantity
    Product.objects.bulk_update(list(products.values()), ["stock"])

    order = Order.objects.create(**{field: customer[field] for field in CUSTOMER_FIELDS})
    OrderItem.objects.bulk_create(
        OrderItem(order=order, product=products[product_id], price=products[product_id].price, quantity=quantity)
        for product_id, quantity in quantities.items()
    )
    if notify:
        transaction.on_commit(lambda: queue_confirmation(order.id))
    return order


def queue_confirmation(order_id):
    """Hand order `order_id`'s confirmation to the broker; True if the broker took it.

    Never raises: the order is already committed and the shopper must get the answer. If the broker is
    unreachable the order stays "not queued" and a later sweep hands it over.
    """
    from .tasks import order_created  # tasks import this module

    try:
        order_created.delay(order_id)
    except Exception:  # kombu raises OperationalError, but a broken broker can surface as anything
        logger.warning("order %s: confirmation not queued, broker unavailable; it will be retried", order_id)
        return False
    Order.objects.filter(id=order_id).update(confirmation_queued_at=timezone.now())
    return True


def forget_queued(order_id):
    """Record that order `order_id`'s confirmation is no longer in the broker, so the sweep hands it over."""
    Order.objects.filter(id=order_id, confirmation_status=Order.ConfirmationStatus.PENDING).update(
        confirmation_queued_at=None
    )


def sweep_confirmations(*, limit=500):
    """Hand over again every confirmation that is owed but not in the broker; return the order ids.

    Owed and not in the broker: never handed over (the broker was down at checkout), handed over long ago
    and still not sent (the message was lost), or claimed by a worker that died.
    """
    now = timezone.now()
    owed = (
        Q(confirmation_status=Order.ConfirmationStatus.PENDING, confirmation_queued_at__isnull=True,
          created__lt=now - timedelta(seconds=settings.ORDER_EMAIL_QUEUE_GRACE_SECONDS))
        | Q(confirmation_status=Order.ConfirmationStatus.PENDING,
            confirmation_queued_at__lt=now - timedelta(seconds=settings.ORDER_EMAIL_REQUEUE_AFTER_SECONDS))
        | Q(confirmation_status=Order.ConfirmationStatus.SENDING,
            confirmation_claimed_at__lt=now - timedelta(seconds=settings.ORDER_EMAIL_CLAIM_SECONDS))
    )
    order_ids = list(Order.objects.filter(owed).order_by("id").values_list("id", flat=True)[:limit])
    queued = []
    for order_id in order_ids:
        if not queue_confirmation(order_id):
            break  # the broker is gone again: the next sweep carries on
        queued.append(order_id)
    return queued


# --- The worker's side --------------------------------------------------------------------------------

CLAIMED = "claimed"
ALREADY_DONE = "already-done"
BUSY = "busy"
MISSING = "missing"


def claim_expires_in(order_id):
    """Seconds until the current claim on order `order_id`'s confirmation expires (0 if none)."""
    claimed_at = Order.objects.filter(id=order_id).values_list("confirmation_claimed_at", flat=True).first()
    if claimed_at is None:
        return 0.0
    expiry = claimed_at + timedelta(seconds=settings.ORDER_EMAIL_CLAIM_SECONDS)
    return max(0.0, (expiry - timezone.now()).total_seconds())


def claim_confirmation(order_id):
    """Atomically take the right to send order `order_id`'s confirmation.

    Returns CLAIMED (send it now), ALREADY_DONE (sent, or failed for good: send nothing), BUSY (another
    worker holds a fresh claim: try later) or MISSING (no such order). A claim older than
    ORDER_EMAIL_CLAIM_SECONDS belongs to a worker that died, and may be taken over.
    """
    now = timezone.now()
    stale_before = now - timedelta(seconds=settings.ORDER_EMAIL_CLAIM_SECONDS)
    claimable = Q(confirmation_status=Order.ConfirmationStatus.PENDING) | Q(
        confirmation_status=Order.ConfirmationStatus.SENDING, confirmation_claimed_at__lt=stale_before
    )
    taken = (
        Order.objects.filter(claimable, id=order_id)
        .update(
            confirmation_status=Order.ConfirmationStatus.SENDING,
            confirmation_claimed_at=now,
            confirmation_attempts=F("confirmation_attempts") + 1,
        )
    )
    if taken:
        return CLAIMED
    status = Order.objects.filter(id=order_id).values_list("confirmation_status", flat=True).first()
    if status is None:
        return MISSING
    if status == Order.ConfirmationStatus.SENDING:
        return BUSY
    return ALREADY_DONE


def mark_confirmation_sent(order_id):
    Order.objects.filter(id=order_id).update(
        confirmation_status=Order.ConfirmationStatus.SENT,
        confirmation_sent_at=timezone.now(),
        confirmation_claimed_at=None,
        confirmation_error="",
    )


def release_confirmation(order_id, *, error, failed):
    """Give the claim back after a failed attempt: pending again (to retry), or failed for good."""
    status = Order.ConfirmationStatus.FAILED if failed else Order.ConfirmationStatus.PENDING
    Order.objects.filter(id=order_id, confirmation_status=Order.ConfirmationStatus.SENDING).update(
        confirmation_status=status, confirmation_claimed_at=None, confirmation_error=error[:1000]
    )
