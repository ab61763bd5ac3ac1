"""Placing orders, changing their status, and handing their emails to the worker: the one place for each."""
import logging
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from shop.models import Product
from shop.money import format_money

from .models import Order, OrderItem

logger = logging.getLogger(__name__)

CUSTOMER_FIELDS = ("first_name", "last_name", "email", "address", "postal_code", "city")


class OrderPlacementError(Exception):
    """The order cannot be placed as asked; the message is shown to the shopper."""


def place_order(*, customer, quantities, notify=True, idempotency_key=None, prices_seen=None):
    """Create an Order from {product_id: quantity} at current catalog prices, reserving stock.

    Nothing is written unless every line can be filled. The confirmation email is queued only once the
    transaction has committed, so the worker always finds the order. With an idempotency key, placing
    the same order again (a double-clicked button, a resubmitted form) returns the first order. With
    prices_seen ({product_id: price}), a price that changed since the shopper saw it refuses the order.
    notify=False skips the hand-over and owes no email (the benchmark's "database work only" floor).
    """
    if idempotency_key is not None:
        existing = Order.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            return existing
    try:
        return _create_order(customer, quantities, notify, idempotency_key, prices_seen or {})
    except IntegrityError:
        # A concurrent submission with the same key committed first: that one is the order.
        existing = Order.objects.filter(idempotency_key=idempotency_key).first() if idempotency_key else None
        if existing is None:
            raise
        return existing


@transaction.atomic
def _create_order(customer, quantities, notify, idempotency_key, prices_seen):
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
        idempotency_key=idempotency_key,
        confirmation_status=Order.EmailStatus.PENDING if notify else Order.EmailStatus.NOT_DUE,
        **{field: customer[field] for field in CUSTOMER_FIELDS},
    )
    OrderItem.objects.bulk_create(
        OrderItem(order=order, product=products[product_id], price=products[product_id].price, quantity=quantity)
        for product_id, quantity in quantities.items()
    )
    if notify:
        transaction.on_commit(lambda: queue_email(order.id, CONFIRMATION))
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
    Order.objects.filter(id__in=changed).update(
        status=Order.Status.SHIPPED, shipping_status=Order.EmailStatus.PENDING, updated=timezone.now()
    )
    for order_id in changed:
        transaction.on_commit(lambda order_id=order_id: queue_email(order_id, SHIPPING))
    return changed


@transaction.atomic
def resend_email(*, order_ids, kind):
    """Make the `kind` email of these orders owed again and hand it over (for operators); return the ids."""
    status, claimed_at = _field(kind, "status"), _field(kind, "claimed_at")
    being_sent = Q(**{status: Order.EmailStatus.SENDING,
                      f"{claimed_at}__gte": timezone.now() - timedelta(seconds=settings.ORDER_EMAIL_CLAIM_SECONDS)})
    # An email a worker is sending right now is left alone: resetting it would let a second worker send it.
    resent = list(Order.objects.select_for_update().filter(id__in=order_ids)
                  .exclude(**{status: Order.EmailStatus.NOT_DUE}).exclude(being_sent)
                  .values_list("id", flat=True))
    Order.objects.filter(id__in=resent).update(**{
        status: Order.EmailStatus.PENDING, _field(kind, "claimed_at"): None, _field(kind, "queued_at"): None,
        _field(kind, "attempts"): 0, "updated": timezone.now(),
    })
    for order_id in resent:
        transaction.on_commit(lambda order_id=order_id: queue_email(order_id, kind))
    return resent


# --- Order emails -------------------------------------------------------------------------------------
# Each kind of email has the same six fields on Order, named <kind>_status, _queued_at, _claimed_at,
# _sent_at, _attempts and _error. The row, not the broker, remembers that an email is owed.

CONFIRMATION = "confirmation"
SHIPPING = "shipping"
EMAIL_KINDS = (CONFIRMATION, SHIPPING)


def _field(kind, name):
    if kind not in EMAIL_KINDS:
        raise ValueError(f"unknown email kind {kind!r}")
    return f"{kind}_{name}"


def queue_email(order_id, kind):
    """Hand order `order_id`'s `kind` email to the broker; True if the broker took it.

    Never raises: the order is already committed and the shopper or operator must get an answer. If the
    broker is unreachable the email stays "not handed over" and the sweep hands it over later.
    """
    from .tasks import EMAIL_TASKS  # tasks import this module

    try:
        EMAIL_TASKS[kind].delay(order_id)
    except Exception:  # kombu raises OperationalError, but a broken broker can surface as anything
        logger.warning("order %s: %s email not queued, broker unavailable; the sweep will retry", order_id, kind)
        return False
    Order.objects.filter(id=order_id).update(**{_field(kind, "queued_at"): timezone.now()})
    return True


def forget_queued(order_id, kind):
    """Record that order `order_id`'s `kind` email is no longer in the broker, so the sweep hands it over."""
    Order.objects.filter(id=order_id, **{_field(kind, "status"): Order.EmailStatus.PENDING}).update(
        **{_field(kind, "queued_at"): None}
    )


def sweep_unsent_emails(*, limit=500):
    """Hand over again every email that is owed but not in the broker; return {kind: [order ids]}.

    Owed and not in the broker: never handed over (the broker was down), handed over long ago and still
    not sent (the message was lost), or claimed by a worker that died.
    """
    now = timezone.now()
    swept = {kind: [] for kind in EMAIL_KINDS}
    for kind in EMAIL_KINDS:
        status, queued_at, claimed_at = (_field(kind, name) for name in ("status", "queued_at", "claimed_at"))
        owed = (
            Q(**{status: Order.EmailStatus.PENDING, f"{queued_at}__isnull": True,
                 "updated__lt": now - timedelta(seconds=settings.ORDER_EMAIL_QUEUE_GRACE_SECONDS)})
            | Q(**{status: Order.EmailStatus.PENDING,
                   f"{queued_at}__lt": now - timedelta(seconds=settings.ORDER_EMAIL_REQUEUE_AFTER_SECONDS)})
            | Q(**{status: Order.EmailStatus.SENDING,
                   f"{claimed_at}__lt": now - timedelta(seconds=settings.ORDER_EMAIL_CLAIM_SECONDS)})
        )
        for order_id in Order.objects.filter(owed).order_by("id").values_list("id", flat=True)[:limit]:
            if not queue_email(order_id, kind):
                return swept  # the broker is gone again: the next sweep carries on
            swept[kind].append(order_id)
    return swept


# --- The worker's side --------------------------------------------------------------------------------

CLAIMED = "claimed"
ALREADY_DONE = "already-done"
BUSY = "busy"
MISSING = "missing"


def claim_email(order_id, kind):
    """Atomically take the right to send order `order_id`'s `kind` email.

    Returns (outcome, claim): outcome is CLAIMED (send it now; `claim` identifies this claim for
    mark_email_sent/release_email), ALREADY_DONE (sent, failed for good, or not due: send nothing), BUSY
    (another worker holds a fresh claim: try later) or MISSING (no such order). A claim older than
    ORDER_EMAIL_CLAIM_SECONDS belongs to a worker that died, and may be taken over.
    """
    status, claimed_at, attempts = (_field(kind, name) for name in ("status", "claimed_at", "attempts"))
    now = timezone.now()
    stale_before = now - timedelta(seconds=settings.ORDER_EMAIL_CLAIM_SECONDS)
    claimable = Q(**{status: Order.EmailStatus.PENDING}) | Q(
        **{status: Order.EmailStatus.SENDING, f"{claimed_at}__lt": stale_before}
    )
    taken = Order.objects.filter(claimable, id=order_id).update(
        **{status: Order.EmailStatus.SENDING, claimed_at: now, attempts: F(attempts) + 1}
    )
    if taken:
        return CLAIMED, now
    current = Order.objects.filter(id=order_id).values_list(status, flat=True).first()
    if current is None:
        return MISSING, None
    if current == Order.EmailStatus.SENDING:
        return BUSY, None
    return ALREADY_DONE, None


def claim_expires_in(order_id, kind):
    """Seconds until the current claim on order `order_id`'s `kind` email expires (0 if none)."""
    claimed_at = Order.objects.filter(id=order_id).values_list(_field(kind, "claimed_at"), flat=True).first()
    if claimed_at is None:
        return 0.0
    expiry = claimed_at + timedelta(seconds=settings.ORDER_EMAIL_CLAIM_SECONDS)
    return max(0.0, (expiry - timezone.now()).total_seconds())


def mark_email_sent(order_id, kind, *, claim):
    """Record the email as sent, by the holder of `claim`."""
    Order.objects.filter(id=order_id, **{_field(kind, "claimed_at"): claim}).update(**{
        _field(kind, "status"): Order.EmailStatus.SENT, _field(kind, "sent_at"): timezone.now(),
        _field(kind, "claimed_at"): None, _field(kind, "error"): "",
    })


def release_email(order_id, kind, *, claim, error, failed):
    """Give `claim` back after a failed attempt: pending again (to retry), or failed for good."""
    Order.objects.filter(id=order_id, **{_field(kind, "status"): Order.EmailStatus.SENDING,
                                         _field(kind, "claimed_at"): claim}).update(**{
        _field(kind, "status"): Order.EmailStatus.FAILED if failed else Order.EmailStatus.PENDING,
        _field(kind, "claimed_at"): None, _field(kind, "error"): error[:1000],
    })
