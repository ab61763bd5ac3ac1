"""Placing orders and changing their status: the one place for each."""

import hashlib
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models.functions import Now
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from core.after_response import after_response
from core.languages import spoken_language
from coupons.services import CouponError, customer_keys, give_back, redeem, shipping_after
from shop import lookups, stock
from shop.money import ZERO, format_money

from . import carriers, numbers, outbox
from .models import Order, OrderItem, mailbox_of
from .signals import order_status_changed
from .tasks import order_created

CUSTOMER_FIELDS = (
    "first_name",
    "last_name",
    "email",
    "address",
    "address_line2",
    "postal_code",
    "city",
    "country",
    "phone",
)
OPTIONAL_FIELDS = ("address_line2", "country", "phone")  # a caller may leave these out: the model's defaults
MAX_SHIP_AT_ONCE = 100  # orders on one "Ship" page, each with its own tracking number
NUMBER_DRAWS = 3  # placements tried before a taken order number (or any integrity error) fails the order
Status = Order.Status

# The order's life: only these moves exist, anything else is refused with a message. Nothing leaves
# "shipped" (the goods are gone) or "cancelled" (its stock went back on sale). Payments move orders through
# these same transitions (docs/payments.md).
TRANSITIONS = {
    Status.PENDING: {Status.PAID, Status.CANCELLED},
    Status.PAID: {Status.SHIPPED, Status.CANCELLED},
    Status.SHIPPED: set(),
    Status.CANCELLED: set(),
}


class OrderPlacementError(Exception):
    """The order cannot be placed as asked; the message is shown to the shopper."""


def place_order(
    *,
    customer,
    quantities,
    idempotency_key=None,
    prices_seen=None,
    max_per_mailbox=0,
    customer_account=None,
    coupon_code="",
    discount_seen=None,
    language=None,
):
    """Create an Order from {product_id: quantity} at current catalog prices, reserving stock.

    Nothing is written unless every line can be filled: a line withdrawn, sold out, short or repriced since
    the shopper saw it refuses the whole order, naming it. The confirmation is owed in the same transaction
    and handed to the worker once it commits. With an idempotency key, placing the same order again (a
    double-clicked button, a resubmitted form) returns the first order instead. With max_per_mailbox, an
    order past that many in a day for the customer's mailbox is refused. With a coupon_code, the coupon is
    checked again and one of its uses taken in the same transaction; one that no longer applies refuses the
    order (never placed at full price without the shopper knowing); with discount_seen (the discount the
    checkout page showed), so does a discount that differs from it (the coupon changed or removed since).
    The order keeps `language` (a code of LANGUAGES; anything else is the default), the one its emails and
    invoice are written in.
    """
    for attempt in range(NUMBER_DRAWS):
        try:
            return _create_order(
                customer,
                quantities,
                idempotency_key,
                prices_seen or {},
                max_per_mailbox,
                customer_account,
                coupon_code,
                discount_seen,
                order_language(language),
            )
        except (IntegrityError, OrderPlacementError) as error:
            # A twin submission with the same key got there first (its order holds the key, or took the stock
            # this one waited for): that one is the order. Looked up only when this one failed.
            existing = Order.objects.filter(idempotency_key=idempotency_key).first() if idempotency_key else None
            if existing is not None:
                return existing
            # Otherwise the random order number was taken (about once in a million orders at a million):
            # the whole placement runs again with a new one. Anything else fails the same way again.
            if isinstance(error, OrderPlacementError) or attempt == NUMBER_DRAWS - 1:
                raise


@transaction.atomic
def _create_order(
    customer,
    quantities,
    idempotency_key,
    prices_seen,
    max_per_mailbox,
    customer_account,
    coupon_code,
    discount_seen,
    language,
):
    if not quantities:
        raise OrderPlacementError(_("Your cart is empty."))
    maximum = settings.CART_MAX_QUANTITY
    if any(not isinstance(quantity, int) or not 1 <= quantity <= maximum for quantity in quantities.values()):
        raise OrderPlacementError(_("Each quantity must be between 1 and %(maximum)s.") % {"maximum": maximum})
    if max_per_mailbox:
        _lock_mailbox(customer["email"])  # before the products: every checkout takes its locks in one order
        if orders_for_mailbox(customer["email"]) >= max_per_mailbox:
            raise OrderPlacementError(
                _(
                    "We accept at most %(count)s orders a day for one email address. "
                    "Please try again tomorrow, or contact us."
                )
                % {"count": max_per_mailbox}
            )

    # Lock the rows (PostgreSQL; SQLite's IMMEDIATE transactions already serialise writers), so two
    # checkouts racing for the last unit cannot both take it.
    products = lookups.locked_products(list(quantities))
    problems = [
        problem
        for product_id, quantity in quantities.items()
        if (problem := _line_problem(products.get(product_id), quantity, prices_seen.get(product_id)))
    ]
    if problems:
        raise OrderPlacementError(" ".join(problems))

    subtotal = sum((products[product_id].price * quantity for product_id, quantity in quantities.items()), ZERO)
    coupon, discount = None, ZERO
    if coupon_code:
        try:  # after the products' locks: every checkout takes its locks in one order
            redeemed = redeem(coupon_code, goods=subtotal, customer=_customer_keys(customer_account, customer["email"]))
        except CouponError as error:
            raise OrderPlacementError(
                _(
                    "%(problem)s Your order was not placed: remove the coupon in your cart, or change your cart, "
                    "then place the order again."
                )
                % {"problem": error}
            ) from None
        coupon, discount, coupon_code = redeemed.coupon, redeemed.discount, redeemed.code
    if discount_seen is not None and discount != discount_seen:
        if coupon:
            changed = _(
                "The coupon %(code)s now takes %(discount)s off, not %(seen)s: please check your order and place it "
                "again."
            ) % {"code": coupon_code, "discount": format_money(discount), "seen": format_money(discount_seen)}
        else:
            changed = _(
                "Your order no longer has a coupon's %(seen)s off: please check your order and place it again."
            ) % {"seen": format_money(discount_seen)}
        raise OrderPlacementError(changed)
    shipping = shipping_after(subtotal, discount)  # free shipping counts the goods after the discount
    order = Order.objects.create(
        number=numbers.new_number(),
        idempotency_key=idempotency_key,
        subtotal=subtotal,
        shipping_cost=shipping,
        discount=discount,
        coupon=coupon,
        coupon_code=coupon_code if coupon else "",
        coupon_mailbox=mailbox_of(customer["email"]) if coupon else "",
        total=subtotal - discount + shipping,
        customer=customer_account,
        language=language,
        # An optional field left out (a caller older than it) takes the model's default; the others must be given.
        **{field: customer[field] for field in CUSTOMER_FIELDS if field in customer or field not in OPTIONAL_FIELDS},
    )
    # In hand for the thank-you page (as emails.load_order gives them): the page needs no query of its own.
    order.loaded_items = OrderItem.objects.bulk_create(
        OrderItem(
            order=order,
            product=products[product_id],
            price=products[product_id].price,
            quantity=quantity,
            vat_rate=products[product_id].vat_rate,  # frozen like the price: a later rate change rewrites no order
        )
        for product_id, quantity in quantities.items()
    )
    stock.sell(products=products, quantities=quantities, order_id=order.id)
    # Written with the order: whatever happens after the commit, the email is owed.
    outbox.add(order.id, "confirmation")
    # Published once committed and, in a request, once the shopper has the page; never raises (outbox.EmailTask).
    transaction.on_commit(lambda: after_response(lambda: order_created.delay(order.id)))
    return order


def order_language(code):
    """`code` if it names one of LANGUAGES ("de-at" is "de"), else the shop's default language."""
    return spoken_language(code)


def _customer_keys(account, email):
    """Whom a coupon's per-customer cap counts for this order: its email's mailbox, and its account."""
    return customer_keys(account_id=account.id if account else None, mailbox=mailbox_of(email))


def _lock_mailbox(email):
    """Hold this mailbox until the commit: checkouts racing for it are counted one after the other."""
    if connection.vendor == "postgresql":  # SQLite's IMMEDIATE transaction holds the one write lock already
        digest = hashlib.blake2b(f"orders.mailbox:{mailbox_of(email)}".encode(), digest_size=8).digest()
        with connection.cursor() as cursor:  # raw SQL: the ORM has no advisory locks
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [int.from_bytes(digest, "big", signed=True)])


def orders_for_mailbox(email):
    """Orders of the last 24 hours for this mailbox, cancelled ones aside."""
    recent = Order.objects.filter(mailbox=mailbox_of(email), created__gte=timezone.now() - timedelta(days=1))
    return recent.exclude(status=Order.Status.CANCELLED).count()


def _line_problem(product, quantity, price_seen):
    """What stops this line, said so that the shopper knows what to do; None if it can be filled."""
    if product is None:
        return _("An item in your cart is no longer available; it has been taken out of your cart.")
    if not product.available:
        return _("“%(product)s” is no longer available; it has been taken out of your cart.") % {
            "product": product.name
        }
    if product.stock < quantity:
        if not product.stock:
            return _("“%(product)s”: sold out. Remove it from your cart to order the rest.") % {"product": product.name}
        return ngettext(
            "“%(product)s”: only %(count)s left. Change the quantity in your cart, or remove it.",
            "“%(product)s”: only %(count)s left. Change the quantity in your cart, or remove it.",
            product.stock,
        ) % {"product": product.name, "count": product.stock}
    if price_seen is not None and price_seen != product.price:
        return _(
            "The price of “%(product)s” has just changed to %(price)s: please check your order and place it again."
        ) % {"product": product.name, "price": format_money(product.price)}
    return None


@dataclass(frozen=True)
class Shipment:
    """How an order leaves: its carrier (a code of orders.carriers.CARRIERS) and the parcel's tracking number."""

    carrier: str
    tracking_number: str

    def problem(self):
        """What is wrong with it, for the operator; None if nothing."""
        if self.carrier not in carriers.CARRIERS:
            return f"there is no carrier {self.carrier!r}"
        try:
            carriers.clean_tracking_number(self.tracking_number)
        except ValidationError as error:
            return error.messages[0]
        return None


@transaction.atomic
def change_status(*, order_ids, to, shipments=None):
    """Move these orders to status `to` where the transition table allows it; return (changed ids,
    {refused id: why}).

    Shipping needs each order's Shipment in `shipments` ({order id: Shipment}), stored with the status.
    The rows are locked first, so two operators doing the same at once change each order once:
    cancelling gives its stock back exactly once (and an unpaid order's coupon use), and shipping owes exactly
    one shipping notice. Receivers of `order_status_changed` act in the same transaction (payments numbers
    the invoice of a paid order).
    """
    to = Status(to)
    shipments = shipments or {}
    locked = Order.objects.select_for_update().filter(id__in=order_ids).order_by("id")
    changed, refused, coupon_uses = [], {}, []
    rows = locked.values_list("id", "number", "status", "coupon_id", "customer_id", "coupon_mailbox", "email")
    for order_id, number, current, coupon_id, account_id, coupon_mailbox, email in rows:
        shipment = shipments.get(order_id)
        if to not in TRANSITIONS[current]:
            refused[order_id] = f"Order {number} is {Status(current).label.lower()}: it cannot be {_verb(to)}."
        elif to == Status.SHIPPED and shipment is None:
            refused[order_id] = f"Order {number} was not shipped: give its carrier and tracking number."
        elif to == Status.SHIPPED and shipment.problem():
            refused[order_id] = f"Order {number} was not shipped: {shipment.problem()}."
        else:
            changed.append(order_id)
            # Only an unpaid order gives its coupon use back; the transition, made once under the lock, is the
            # guard that gives it back once. A paid order cancelled keeps its use (docs/coupons.md).
            if to == Status.CANCELLED and current == Status.PENDING and coupon_id:
                # The mailbox that took the use, whatever the email says now (empty on orders older than it).
                mailbox = coupon_mailbox or mailbox_of(email)
                coupon_uses.append((coupon_id, customer_keys(account_id=account_id, mailbox=mailbox)))
    if to == Status.SHIPPED:
        for order_id in changed:
            shipment = shipments[order_id]
            Order.objects.filter(id=order_id).update(
                status=to,
                carrier=shipment.carrier,
                tracking_number=carriers.clean_tracking_number(shipment.tracking_number),
                updated=Now(),
            )
    else:
        Order.objects.filter(id__in=changed).update(status=to, updated=Now())
    if to == Status.CANCELLED:
        for order_id in changed:
            lines = dict(OrderItem.objects.filter(order_id=order_id).values_list("product_id", "quantity"))
            stock.give_back(order_id=order_id, quantities=lines)
        give_back(coupon_uses)
    if to == Status.SHIPPED:
        for order_id in changed:
            outbox.add(order_id, "shipping")
        outbox.publish_on_commit(changed, "shipping")
    if changed:
        order_status_changed.send(sender=Order, order_ids=changed, status=to)
    return changed, refused


def ship(*, shipments):
    """Ship each order of {order id: Shipment} with its carrier and tracking number, owing its customer the
    shipping notice; return (changed ids, {refused id: why}) as change_status does."""
    return change_status(order_ids=list(shipments), to=Status.SHIPPED, shipments=shipments)


def _verb(status):
    return {
        Status.PAID: "marked paid",
        Status.SHIPPED: "shipped",
        Status.CANCELLED: "cancelled",
        Status.PENDING: "made pending again",
    }[status]
