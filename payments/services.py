"""Taking payment: starting a checkout, acting on what a provider reports, expiring unpaid orders, refunds.

The order moves only through orders.services.change_status: a payment that succeeds moves it pending -> paid
(which numbers its invoice and owes the invoice email, in the same transaction), an order unpaid after
PAYMENT_TIMEOUT moves pending -> cancelled (its stock goes back on sale). Locks are always taken order first,
then payment, so a webhook and the expiry never wait on each other in a circle.
"""

import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.db.models.functions import Now
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from orders.models import Order
from orders.services import change_status
from shop.money import format_money

from .gateway import SUCCEEDED, ProviderError, from_minor_units, to_minor_units
from .models import Invoice, Payment, PaymentByHand, WebhookEvent
from .providers import get_provider

logger = logging.getLogger(__name__)

State = Payment.State
Problem = Payment.Problem
Status = Order.Status

# A payment's life: only these moves exist. A success is never undone by a failure or an expiry reported
# after it (events out of order); a success reported after a failure or an expiry is believed, since the
# money was taken. Refunds, by an operator or for a late payment: succeeded -> refunding -> refunded (or back).
TRANSITIONS = {
    State.OPEN: {State.SUCCEEDED, State.FAILED, State.EXPIRED},
    State.FAILED: {State.SUCCEEDED},
    State.EXPIRED: {State.SUCCEEDED},
    State.SUCCEEDED: {State.REFUNDING},
    State.REFUNDING: {State.REFUNDED, State.SUCCEEDED},
    State.REFUNDED: set(),
}
STARTING_SECONDS = 60  # a checkout being started by another request is waited for this long
REFUND_RETRY_SECONDS = 60  # a refund started this long ago without an answer may be asked again


class PaymentRefused(Exception):
    """The order cannot be paid online now; the message is shown to the shopper."""


class RefundRefused(Exception):
    """There is nothing to refund; the message is shown to the operator."""


# --- Starting a checkout --------------------------------------------------------------------------------


def why_not_payable(order, *, by_hand=None):
    """Why `order` cannot be paid online now (a sentence for the shopper), or None if it can. `by_hand`:
    whether it is paid by bank transfer, when the caller knows already."""
    if order.status in (Status.PAID, Status.SHIPPED):
        return _("This order is paid already.")
    if order.status == Status.CANCELLED:
        return _("This order was cancelled, so it cannot be paid.")
    if by_hand if by_hand is not None else PaymentByHand.objects.filter(order_id=order.id).exists():
        return _("This order is paid by bank transfer: we have emailed you the details.")
    if order.created + timedelta(seconds=settings.PAYMENT_TIMEOUT) <= timezone.now():
        return _("The time to pay this order has run out: it is being cancelled and its items go back on sale.")
    return None


def start_payment(*, order_id):
    """Begin paying order `order_id` online, or resume its open checkout; return the Payment, whose
    `redirect_url` is the provider's page. Raises PaymentRefused, or ProviderError if the provider fails."""
    provider = get_provider()
    with transaction.atomic():
        order = Order.objects.select_for_update().get(id=order_id)  # one checkout starts at a time per order
        refusal = why_not_payable(order)
        if refusal:
            raise PaymentRefused(refusal)
        open_payment = order.payments.filter(provider=provider.name, state=State.OPEN).order_by("-created").first()
        if open_payment is not None and open_payment.redirect_url:
            return open_payment  # one checkout per order at a time: two open ones could both be paid
        starting = (
            open_payment is not None
            and Payment.objects.filter(
                id=open_payment.id, created__gt=Now() - timedelta(seconds=STARTING_SECONDS)
            ).exists()
        )
        if open_payment is not None and not starting:
            Payment.objects.filter(id=open_payment.id).update(  # its start never finished (a killed process)
                state=State.FAILED, updated=Now(), last_error="the checkout was never started"
            )
        if not starting:
            payment = Payment.objects.create(
                order=order, provider=provider.name, amount=order.total, currency=settings.SHOP_CURRENCY.upper()
            )
    if starting:  # another request (a double click) is starting it: the same page for both
        return _wait_for_checkout(open_payment.id)
    lines = [(item.product.name, item.price, item.quantity) for item in order.items.select_related("product")]
    if order.discount:  # the one line below zero: each provider turns it into what it offers (a coupon at Stripe)
        lines.append(((_("Coupon %(code)s") % {"code": order.coupon_code}).strip(), -order.discount, 1))
    if order.shipping_cost:
        lines.append((_("Shipping"), order.shipping_cost, 1))
    site = settings.SHOP_SITE_URL.rstrip("/")
    try:
        checkout = provider.start_checkout(
            payment=payment,
            order=order,
            lines=lines,
            return_url=site + reverse("payments:payment_return", args=[order.token]),
            cancel_url=site + reverse("payments:payment_return", args=[order.token]) + "?cancelled=1",
        )
    except ProviderError as error:
        Payment.objects.filter(id=payment.id).update(
            state=State.FAILED, updated=Now(), last_error=f"could not start: {error}"[:1000]
        )
        logger.warning(
            "order %s: payment %s could not start at %s (%s)",
            order.id,
            payment.id,
            provider.name,
            type(error.__cause__ or error).__name__,
        )
        raise
    Payment.objects.filter(id=payment.id).update(
        reference=checkout.reference, redirect_url=checkout.redirect_url, updated=Now()
    )
    payment.reference, payment.redirect_url = checkout.reference, checkout.redirect_url
    logger.info("order %s: payment %s started at %s", order.id, payment.id, provider.name)
    return payment


def _wait_for_checkout(payment_id, *, seconds=10, step=0.2):
    """The checkout another request is starting for the same order, once the provider has given its page."""
    deadline = time.monotonic() + seconds
    while True:
        payment = Payment.objects.get(id=payment_id)
        if payment.redirect_url:
            return payment
        if payment.state != State.OPEN or time.monotonic() > deadline:
            raise PaymentRefused(_("Your payment page is being prepared: try again in a moment."))
        time.sleep(step)


# --- What providers report ------------------------------------------------------------------------------


def apply_event(*, provider, event):
    """Act once on a verified ProviderEvent from `provider` (a webhook, or a check with the provider);
    return what was done, in words. The event's id is stored in the same transaction: the same event again
    is a "duplicate" and changes nothing."""
    with transaction.atomic():
        try:
            with transaction.atomic():
                record = WebhookEvent.objects.create(provider=provider, event_id=event.id[:255], type=event.type[:100])
        except IntegrityError:
            outcome = "duplicate"
        else:
            outcome = _apply(provider, event, record)
            WebhookEvent.objects.filter(id=record.id).update(outcome=outcome[:200])
    logger.info("%s event %s (%s): %s", provider, event.id, event.type, outcome)
    return outcome


def _apply(provider, event, record):
    if not event.outcome:
        return f"ignored: nothing to do on {event.type}"
    found = Payment.objects.filter(provider=provider, reference=event.reference).values_list("id", "order_id").first()
    if found is None:
        return "ignored: no such checkout"
    payment_id, order_id = found
    order = Order.objects.select_for_update().get(id=order_id)
    payment = Payment.objects.select_for_update().get(id=payment_id)
    WebhookEvent.objects.filter(id=record.id).update(payment=payment)
    if event.outcome not in TRANSITIONS[payment.state]:
        return f"ignored: payment {payment.id} is {payment.state}, it cannot become {event.outcome}"
    if event.outcome != SUCCEEDED:
        Payment.objects.filter(id=payment.id).update(state=event.outcome, updated=Now())
        return f"payment {payment.id} {event.outcome}"

    currency = event.currency.upper()
    received = (
        None if event.amount_minor is None else from_minor_units(event.amount_minor, currency or payment.currency)
    )
    if event.amount_minor != to_minor_units(order.total, payment.currency) or currency != payment.currency.upper():
        problem = Problem.MISMATCH
    elif order.status == Status.PENDING:
        change_status(order_ids=[order.id], to=Status.PAID)  # numbers the invoice and owes its email
        problem = Problem.NONE
    elif order.status == Status.CANCELLED:
        problem = Problem.LATE
    else:
        problem = Problem.DUPLICATE
    Payment.objects.filter(id=payment.id).update(
        state=State.SUCCEEDED,
        problem=problem,
        paid_at=Now(),
        updated=Now(),
        amount_received=received,
        currency_received=currency,
        provider_payment_id=event.payment_id or payment.provider_payment_id,
    )
    if problem:
        logger.warning(
            "order %s: payment %s succeeded but %s: flagged for an operator",
            order.id,
            payment.id,
            Problem(problem).label.lower(),
        )
        return f"payment {payment.id} succeeded, flagged: {problem}"
    return f"payment {payment.id} succeeded, order {order.id} paid"


def check_with_provider(*, payment_id):
    """Ask the provider about an open payment and act on its answer as on a webhook (the shopper is back
    before the webhook); return what was done, or None when nothing is settled yet or the provider fails."""
    payment = Payment.objects.filter(id=payment_id, state=State.OPEN).exclude(reference=None).first()
    if payment is None:
        return None
    try:
        event = get_provider(payment.provider).check(payment)
    except ProviderError as error:
        logger.warning(
            "order %s: could not check payment %s with %s (%s)", payment.order_id, payment.id, payment.provider, error
        )
        return None
    return None if event is None else apply_event(provider=payment.provider, event=event)


# --- Unpaid orders expire ---------------------------------------------------------------------------------


def expire_unpaid_orders(*, limit=200):
    """Cancel orders still waiting for their online payment PAYMENT_TIMEOUT after they were placed (their
    stock goes back on sale, their open checkouts are closed at the provider); return their ids.

    Orders whose payment an operator takes by hand are left alone, and so is an order being paid right now
    (its row is locked by the webhook: the next round looks at it again).
    """
    deadline = Now() - timedelta(seconds=settings.PAYMENT_TIMEOUT)
    # Ask the provider about checkouts still open first: money it took but has not reported yet (a slow or
    # lost webhook) then pays its order, instead of arriving after the cancellation.
    still_open = (
        Payment.objects.filter(state=State.OPEN, order__status=Status.PENDING, order__created__lte=deadline)
        .exclude(reference=None)
        .values_list("id", flat=True)[:limit]
    )
    for payment_id in list(still_open):
        check_with_provider(payment_id=payment_id)
    with transaction.atomic():
        due = list(
            Order.objects.select_for_update(skip_locked=True)
            .filter(status=Status.PENDING, created__lte=deadline)
            .exclude(id__in=PaymentByHand.objects.values("order_id"))
            .order_by("created")
            .values_list("id", flat=True)[:limit]
        )
        if not due:
            return []
        expired, _ = change_status(order_ids=due, to=Status.CANCELLED)  # closes their checkouts (tasks.py)
    logger.info("expired %s unpaid order(s): %s", len(expired), ", ".join(map(str, expired)))
    return expired


def expire_open_payments(order_ids):
    """The open checkouts of these orders, just cancelled, expire; their ids, to close at the provider."""
    closing = list(
        Payment.objects.filter(order_id__in=order_ids, state=State.OPEN)
        .exclude(reference=None)
        .values_list("id", flat=True)
    )
    Payment.objects.filter(id__in=closing).update(state=State.EXPIRED, updated=Now())
    return closing


def close_at_provider(payment_id):
    """Close an expired payment's checkout at its provider, so that a shopper still on its page cannot pay any
    more (Stripe: the session expires; the offline provider refuses). Best effort: a payment that still
    arrives is late, and refunded."""
    payment = Payment.objects.get(id=payment_id)
    try:
        get_provider(payment.provider).close_checkout(payment)
    except Exception as error:  # noqa: BLE001  (logged: a late payment is refunded anyway)
        logger.warning(
            "order %s: checkout of payment %s not closed at %s (%s)",
            payment.order_id,
            payment.id,
            payment.provider,
            error,
        )


AUTOMATIC_REFUND = "automatically: paid after the order was cancelled"
BY_HAND = "refund by hand: "  # a late payment's last_error starting so is left to an operator


def late_payments_to_refund(*, limit=50):
    """Ids of payments that came in after their order was cancelled and are to be refunded automatically: not
    refunded yet, or an automatic refund started REFUND_RETRY_SECONDS ago without an answer."""
    stuck = Q(state=State.REFUNDING, refunded_by=AUTOMATIC_REFUND) & Q(
        refund_started_at__lte=Now() - timedelta(seconds=REFUND_RETRY_SECONDS)
    )
    late = Payment.objects.filter(Q(state=State.SUCCEEDED) | stuck, problem=Problem.LATE).exclude(
        last_error__startswith=BY_HAND
    )
    return list(late.order_by("id").values_list("id", flat=True)[:limit])


def refund_late_payment(payment_id):
    """Refund one late payment and tell the operators; refused by the provider, leave it to them and say so."""
    try:
        payment = refund(payment_id=payment_id, by=AUTOMATIC_REFUND)
    except RefundRefused:  # refunded or being refunded meanwhile: nothing to do
        return None
    except ProviderError as error:
        Payment.objects.filter(id=payment_id).update(last_error=f"{BY_HAND}the provider refused: {error}"[:1000])
        _tell_operators(
            Payment.objects.get(id=payment_id),
            "could not be refunded automatically",
            f"the provider refused the refund ({error}). Refund it by hand from its page.",
        )
        return None
    _tell_operators(payment, "was refunded automatically", f"refunded through {payment.provider}.")
    return payment


def _tell_operators(payment, what, detail):
    """A warning in the log and, when OPERATOR_EMAILS is set, an email (at most once: not through the outbox)."""
    order = payment.order
    amount = format_money(payment.amount_received or payment.amount)
    logger.warning("order %s: late payment %s of %s %s", order.number, payment.id, amount, what)
    if not settings.OPERATOR_EMAILS:
        return
    page = settings.SHOP_SITE_URL.rstrip("/") + reverse("admin:payments_payment_change", args=[payment.id])
    try:
        send_mail(
            f"Order {order.number}: a late payment {what}",
            f"Payment {payment.id} of {amount} for order {order.number} came in after the order was cancelled: "
            f"{detail}\n\n{page}\n",
            None,
            settings.OPERATOR_EMAILS,
        )
    except Exception as error:  # noqa: BLE001  (the log line above and the payment's page tell it too)
        logger.warning("order %s: operators not told about payment %s (%s)", order.number, payment.id, error)


@transaction.atomic
def take_payment_by_hand(*, order_ids, by=""):
    """Mark these pending orders as paid by hand (bank transfer, cash): they never expire; return their ids."""
    pending = list(
        Order.objects.select_for_update().filter(id__in=order_ids, status=Status.PENDING).values_list("id", flat=True)
    )
    PaymentByHand.objects.bulk_create(
        [PaymentByHand(order_id=order_id, arranged_by=by) for order_id in pending], ignore_conflicts=True
    )
    return pending


# --- Refunds ----------------------------------------------------------------------------------------------


def refund(*, payment_id, by=""):
    """Give a succeeded payment's money back through its provider and record it; return the Payment.

    Raises RefundRefused when there is nothing to refund, ProviderError when the provider refuses (the
    payment stays paid, with the error). A refund whose answer never came may be asked again after
    REFUND_RETRY_SECONDS; providers refund once per payment however often they are asked.
    """
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(id=payment_id)
        stuck = Payment.objects.filter(
            id=payment_id, state=State.REFUNDING, refund_started_at__lte=Now() - timedelta(seconds=REFUND_RETRY_SECONDS)
        )
        if payment.state == State.REFUNDING and not stuck.exists():
            raise RefundRefused(f"Payment {payment.id} of order {payment.order_id} is being refunded right now.")
        if payment.state not in (State.SUCCEEDED, State.REFUNDING):
            raise RefundRefused(
                f"Payment {payment.id} of order {payment.order_id} is "
                f"{payment.get_state_display().lower()}: there is nothing to refund."
            )
        Payment.objects.filter(id=payment.id).update(
            state=State.REFUNDING, refund_started_at=Now(), refunded_by=by[:150], updated=Now()
        )
    try:
        reference = get_provider(payment.provider).refund(payment)
    except ProviderError as error:
        Payment.objects.filter(id=payment.id, state=State.REFUNDING).update(
            state=State.SUCCEEDED, updated=Now(), last_error=f"refund refused: {error}"[:1000]
        )
        logger.warning("order %s: refund of payment %s refused by %s", payment.order_id, payment.id, payment.provider)
        raise
    Payment.objects.filter(id=payment.id, state=State.REFUNDING).update(
        state=State.REFUNDED, refunded_at=Now(), refund_reference=reference[:255], updated=Now(), last_error=""
    )
    logger.info("order %s: payment %s refunded at %s", payment.order_id, payment.id, payment.provider)
    payment.refresh_from_db()
    return payment


def refund_and_cancel(*, order_ids, by=""):
    """Refund every paid payment of these orders, then cancel those not shipped (their stock goes back on
    sale); return (refunded payments, {order id: why it was left alone}). A shipped order is refused: its
    goods are gone, so its payment is refunded from the payment itself once they are back."""
    refunded, refused = [], {}
    for order in Order.objects.filter(id__in=order_ids).order_by("id"):
        if order.status == Status.SHIPPED:
            refused[order.id] = (
                f"Order {order.id} has shipped: refund its payment under Payments once the goods are back."
            )
            continue
        paid = list(order.payments.filter(state__in=[State.SUCCEEDED, State.REFUNDING]).values_list("id", flat=True))
        if not paid:
            refused[order.id] = f"Order {order.id} has no online payment to refund" + (
                " (paid by hand: refund it by hand, then cancel it)." if order.status == Status.PAID else "."
            )
            continue
        try:
            for payment_id in paid:
                refunded.append(refund(payment_id=payment_id, by=by))
        except (RefundRefused, ProviderError) as error:
            refused[order.id] = f"Order {order.id}: {error}"
            continue
        if order.status in (Status.PENDING, Status.PAID):
            change_status(order_ids=[order.id], to=Status.CANCELLED)
    return refunded, refused


# --- What the shopper is shown ----------------------------------------------------------------------------


@dataclass
class PaymentSummary:
    """Where an order's payment stands, for its pages: `stage` is one of "pay", "confirming", "declined",
    "paid", "by_hand", "too_late", "expired" (cancelled when its time to pay was up) or "cancelled"; the
    template only shows it."""

    stage: str
    order: Order
    payment: Payment | None = None
    invoice: object = None
    refunds: list = field(default_factory=list)
    late: list = field(default_factory=list)
    reason: str = ""

    @property
    def deadline(self):
        """Until when the order waits for its online payment."""
        return self.order.created + timedelta(seconds=settings.PAYMENT_TIMEOUT)


def summarise_new(order):
    """The PaymentSummary of an order placed a moment ago, without asking the database: no payment, nor one by
    hand, can exist yet (what summarise would find; tests/payments/test_payments.py holds the two together)."""
    summary = PaymentSummary(stage="pay", order=order)
    if (reason := why_not_payable(order, by_hand=False)) is not None:
        summary.stage, summary.reason = "too_late", reason
    return summary


def summarise(order, *, reference=None):
    """The PaymentSummary of `order`; `reference` is the checkout the shopper just came back from."""
    payments = list(order.payments.all())
    latest = payments[0] if payments else None
    summary = PaymentSummary(
        stage="pay",
        order=order,
        payment=latest,
        refunds=[payment for payment in payments if payment.state == State.REFUNDED],
        late=[payment for payment in payments if payment.problem and payment.state != State.REFUNDED],
    )
    if order.status in (Status.PAID, Status.SHIPPED):
        summary.stage = "paid"
        summary.invoice = Invoice.objects.filter(order_id=order.id).first()
    elif order.status == Status.CANCELLED:
        # Cancelled once its time to pay was up, with no money taken: the expiry (or an operator doing its job).
        unpaid = not any(payment.state in (State.SUCCEEDED, State.REFUNDING, State.REFUNDED) for payment in payments)
        summary.stage = "expired" if unpaid and order.updated >= summary.deadline else "cancelled"
    elif PaymentByHand.objects.filter(order_id=order.id).exists():
        summary.stage = "by_hand"
    elif latest is not None and latest.state == State.OPEN and reference and latest.reference == reference:
        summary.stage = "confirming"
    elif (reason := why_not_payable(order, by_hand=False)) is not None:
        summary.stage, summary.reason = "too_late", reason
    elif latest is not None and latest.state == State.FAILED and latest.reference:
        summary.stage = "declined"
    return summary
