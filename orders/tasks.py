"""Queue messages in, emails out. Each email task takes only an order id; the outbox says what is owed.

The worker's side of an email reads top to bottom in `deliver`: claim it, build it, send it, record how it
went. Retries are bounded by the attempts the outbox counts, not by Celery's counter: waiting for another
worker's claim, or for the database, is not an attempt.
"""

import enum
import logging
import random
import time
from contextlib import suppress

from celery import shared_task
from celery.exceptions import Reject
from django.conf import settings
from django.db import DatabaseError, close_old_connections
from django.utils.translation import gettext_lazy

from core.compiled import CompiledQuery

from . import emails, outbox
from .mail import OutcomeUnknown, Sending, is_permanent
from .models import Order, OrderItem
from .outbox import Claimed

logger = logging.getLogger(__name__)


class Delivery(enum.StrEnum):
    """What a delivery of an email task did (its return value)."""

    SENT = "sent"
    UNCONFIRMED = "unconfirmed"  # the mail server took it and never answered: not sent again by itself
    FAILED = "failed"
    ALREADY_DONE = "already-done"
    MISSING = "missing"  # no such email owed: the message is dropped
    MALFORMED = "malformed"  # not an order id: the message is dropped


def email_task(kind, *, label, subject, task_name, template=None, attachments=None):
    """Declare a kind of order email; return the Celery task that sends it (`delay(order_id)` publishes).

    `subject` formats `shop` and `order` (in gettext_lazy: it is translated to the order's language); the
    templates are `<template>.txt` and `.html` (by default orders/emails/<kind>); `attachments(order)` gives
    [(filename, content, mimetype)] for every copy.
    """

    def send(self, order_id):
        return deliver(self, order_id, emails.KINDS[kind])

    send.__name__ = send.__qualname__ = task_name.rsplit(".", 1)[-1]
    send.__doc__ = f"Send order `order_id`'s {label.lower()}; a repeated delivery sends nothing."
    task = shared_task(name=task_name, base=outbox.EmailTask, bind=True, max_retries=None, email_kind=kind)(send)
    emails.register(
        emails.EmailKind(
            name=kind,
            label=label,
            subject=subject,
            template=template or f"orders/emails/{kind}",
            task=task,
            attachments=attachments,
        )
    )
    return task


order_created = email_task(
    "confirmation",
    label="Order confirmation",
    subject=gettext_lazy("{shop}: order {order.number} received"),
    task_name="orders.tasks.order_created",
)
order_shipped = email_task(
    "shipping",
    label="Shipping notice",
    subject=gettext_lazy("{shop}: order {order.number} has shipped"),
    task_name="orders.tasks.order_shipped",
)


@shared_task(name="orders.tasks.sweep_unsent_emails", ignore_result=True)
def sweep_unsent_emails():
    """Publish again the order emails the broker may have lost (run by Celery beat)."""
    swept = outbox.sweep()
    if swept:
        logger.info(
            "sweep: published %s email(s) again: %s",
            len(swept),
            ", ".join(f"order {order_id} {kind}" for order_id, kind in swept),
        )
    return len(swept)


# --- The worker's side of one email ---------------------------------------------------------------------


def deliver(task, order_id, kind):
    """Send order `order_id`'s `kind` email at most once across deliveries, retrying failures with backoff.

    Logs one line per outcome with the order id, never the customer's details.
    """
    if isinstance(order_id, bool) or not isinstance(order_id, int):
        logger.error("%s email: dropped a message with a malformed order id", kind.name)
        return Delivery.MALFORMED
    try:
        held = outbox.claim(order_id, kind.name, task_id=task.request.id)
    except DatabaseError as error:  # not an attempt: nothing was begun
        _wait_for_the_database(task, order_id, kind.name, error)
    if held.outcome is not Claimed.TAKEN:
        return _not_taken(task, held)
    with held.renewing():
        try:
            message = emails.message(load_order(order_id), kind)
        except DatabaseError as error:  # the database blinked before anything was sent: not an attempt
            with suppress(DatabaseError):  # still down: the claim's lease lapses instead
                held.release_uncounted(f"{type(error).__name__} while preparing the email")
            _wait_for_the_database(task, order_id, kind.name, error)
        except Exception as error:  # noqa: BLE001  (the message could not be made, e.g. its PDF: a failed attempt)
            return _failed_attempt(task, held, error)
        sending = Sending(message)
        try:
            sending.send()
        except OutcomeUnknown as error:
            record_outcome(held.mark_unconfirmed, str(error))
            logger.warning(
                "order %s: %s email may have been delivered (the mail server took it but never answered); "
                "not sent again unless an operator resends it",
                order_id,
                kind.name,
            )
            return Delivery.UNCONFIRMED
        except Exception as error:  # noqa: BLE001  (anything before the message was handed over: retry)
            return _failed_attempt(task, held, error)
        else:
            if not record_outcome(held.mark_sent):
                logger.warning("order %s: %s email sent after its claim had lapsed", order_id, kind.name)
            logger.info("order %s: %s email sent", order_id, kind.name)
            return Delivery.SENT
        finally:
            sending.close()  # after the outcome is recorded: a slow goodbye never undoes a delivery


def load_order(order_id):
    """Order `order_id` with its items and their products (in `loaded_items`), in one query; None if none."""
    items = _order_items(order_id)
    if items:
        order = items[0].order
    else:  # an order without lines is not made by checkout, but its email must not fail on one
        order = Order.objects.filter(id=order_id).first()
        if order is None:
            return None
    order.loaded_items = items
    return order


# Compiled once per process (core/compiled.py): building it was most of the email's database work.
_order_items = CompiledQuery(
    lambda order_id: OrderItem.objects.filter(order_id=order_id).select_related("order", "product").order_by("id"),
    int,
)


def _not_taken(task, held):
    """The claim was refused: say why, and wait through the broker if another worker holds it."""
    order_id, kind = held.order_id, held.kind
    if held.outcome is Claimed.MISSING:
        logger.error("order %s: no %s email owed (no such order, or not due), message dropped", order_id, kind)
        return Delivery.MISSING
    if held.outcome is Claimed.DONE:
        logger.info("order %s: %s email already handled, nothing sent", order_id, kind)
        return Delivery.ALREADY_DONE
    if held.outcome is Claimed.EXHAUSTED:
        logger.error(
            "order %s: %s email FAILED: every attempt was spent, the last ones killed before they ended", order_id, kind
        )
        return Delivery.FAILED
    wait = held.wait_seconds + random.uniform(0.5, 2)
    logger.info("order %s: %s email claimed by another worker, checking again in %.0f s", order_id, kind, wait)
    _retry(task, order_id, kind, wait)


def _failed_attempt(task, held, error):
    """An attempt failed before the message was handed over: fail for good, or retry after the backoff."""
    order_id, kind = held.order_id, held.kind
    description = f"{type(error).__name__}: {error}"
    attempt = record_outcome(held.attempts_started)
    if is_permanent(error) or attempt >= settings.ORDER_EMAIL_MAX_ATTEMPTS:
        record_outcome(held.mark_failed, description)
        # Only the type reaches the log: SMTP errors can quote the customer's address.
        logger.error(
            "order %s: %s email FAILED after %s attempt(s) (%s)", order_id, kind, attempt, type(error).__name__
        )
        return Delivery.FAILED
    record_outcome(held.release, description)
    wait = retry_delay(attempt)
    logger.warning(
        "order %s: %s email attempt %s failed (%s), retrying in %.1f s",
        order_id,
        kind,
        attempt,
        type(error).__name__,
        wait,
    )
    _retry(task, order_id, kind, wait)


def retry_delay(attempt):
    """Seconds to wait after failed attempt `attempt` (1, 2, ...): exponential, capped, with jitter."""
    ceiling = min(settings.ORDER_EMAIL_RETRY_MAX_SECONDS, settings.ORDER_EMAIL_RETRY_BASE_SECONDS * 2 ** (attempt - 1))
    return random.uniform(ceiling / 2, ceiling)


def _wait_for_the_database(task, order_id, kind, error):
    """The database failed before anything was sent: not an attempt; run again after the backoff."""
    wait = retry_delay(task.request.retries + 1)
    logger.warning(
        "order %s: %s email waits for the database (%s), trying again in %.1f s",
        order_id,
        kind,
        type(error).__name__,
        wait,
    )
    _retry(task, order_id, kind, wait)


def _retry(task, order_id, kind, countdown):
    """Run again in `countdown` seconds, through the broker; if the retry cannot be published, the sweep will."""
    try:
        raise task.retry(countdown=countdown)
    except Reject:  # Celery could not publish the retry and drops this message
        outbox.mark_due(order_id, kind)
        raise


def record_outcome(outcome, *args):
    """Write an attempt's outcome, riding out a short database outage: the email has been handled already."""
    for pause in (1, 2, 4, None):
        try:
            return outcome(*args)
        except DatabaseError:
            if pause is None:
                raise
            time.sleep(pause)
            close_old_connections()  # a connection the server dropped is replaced, not tried again


class RowRetries:
    """The steps after a refused claim or a failed attempt, for a task sending one outbox row that is not an
    order's email (an account email, an operator digest): `what` names the row in `log`, and `mark_due(id)`
    owes it again when a retry cannot be published."""

    def __init__(self, what, *, mark_due, log):
        self.what, self.mark_due, self.log = what, mark_due, log

    def not_taken(self, task, held):
        if held.outcome is Claimed.MISSING:
            self.log.error("%s %s: not found, message dropped", self.what, held.order_id)
            return Delivery.MISSING
        if held.outcome is Claimed.DONE:
            self.log.info("%s %s already handled, nothing sent", self.what, held.order_id)
            return Delivery.ALREADY_DONE
        if held.outcome is Claimed.EXHAUSTED:
            self.log.error("%s %s FAILED: every attempt was spent", self.what, held.order_id)
            return Delivery.FAILED
        self.retry(task, held.order_id, held.wait_seconds + random.uniform(0.5, 2))

    def failed_attempt(self, task, held, error):
        """An attempt failed before the message was handed over: fail for good, or retry after the backoff."""
        attempt = record_outcome(held.attempts_started)
        if is_permanent(error) or attempt >= settings.ORDER_EMAIL_MAX_ATTEMPTS:
            record_outcome(held.mark_failed, f"{type(error).__name__}: {error}")
            self.log.error(
                "%s %s FAILED after %s attempt(s) (%s)", self.what, held.order_id, attempt, type(error).__name__
            )
            return Delivery.FAILED
        record_outcome(held.release, f"{type(error).__name__}: {error}")
        self.retry(task, held.order_id, retry_delay(attempt), error)

    def retry(self, task, row_id, countdown, error=None):
        """Run again in `countdown` seconds, through the broker; if the retry cannot be published, the sweep will."""
        self.log.warning("%s %s: trying again in %.1f s (%s)", self.what, row_id, countdown, type(error).__name__)
        try:
            raise task.retry(countdown=countdown)
        except Reject:
            self.mark_due(row_id)
            raise
