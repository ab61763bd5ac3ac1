"""Queue messages in, emails out. Each task takes only an order id; the outbox says what is owed."""

import logging
import random
import time

from celery import shared_task
from celery.exceptions import Reject
from django.conf import settings
from django.db import DatabaseError

from . import outbox
from .emails import claimed_order_items, confirmation_message, load_order, shipping_message
from .mail import OutcomeUnknown, Sending, is_permanent
from .models import OrderEmail

logger = logging.getLogger(__name__)


def retry_delay(attempt):
    """Seconds to wait after failed attempt `attempt` (1, 2, ...): exponential, capped, with jitter."""
    ceiling = min(settings.ORDER_EMAIL_RETRY_MAX_SECONDS, settings.ORDER_EMAIL_RETRY_BASE_SECONDS * 2 ** (attempt - 1))
    return random.uniform(ceiling / 2, ceiling)


def _retry(task, order_id, kind, countdown):
    """Run again in `countdown` seconds, through the broker; if the retry cannot be published, the sweep will."""
    try:
        raise task.retry(countdown=countdown)
    except Reject:  # Celery could not publish the retry and drops this message
        outbox.due_now(order_id, kind)
        raise


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


def _record(outcome, *args):
    """Write an attempt's outcome, riding out a short database outage: the email has been handled already."""
    for pause in (1, 2, 4, None):
        try:
            return outcome(*args)
        except DatabaseError:
            if pause is None:
                raise
            time.sleep(pause)


def send_order_email(task, order_id, kind, build_message):
    """Send order `order_id`'s `kind` email at most once across deliveries, retrying failures with backoff.

    Logs one line per outcome with the order id; never the customer's details.
    """
    if isinstance(order_id, bool) or not isinstance(order_id, int):
        logger.error("%s email: dropped a message with a malformed order id", kind)
        return "malformed"
    try:
        held = outbox.claim(order_id, kind, task_id=task.request.id, reading=claimed_order_items)
    except DatabaseError as error:  # not an attempt: nothing was begun
        _wait_for_the_database(task, order_id, kind, error)
    if held.outcome == outbox.MISSING:
        logger.error("order %s: no %s email owed (no such order, or not due), message dropped", order_id, kind)
        return held.outcome
    if held.outcome == outbox.DONE:
        logger.info("order %s: %s email already handled, nothing sent", order_id, kind)
        return held.outcome
    if held.outcome == outbox.EXHAUSTED:
        logger.error(
            "order %s: %s email FAILED: every attempt was spent, the last ones killed before they ended", order_id, kind
        )
        return "failed"
    if held.outcome == outbox.BUSY:
        wait = held.wait_seconds + random.uniform(0.5, 2)
        logger.info("order %s: %s email claimed by another worker, checking again in %.0f s", order_id, kind, wait)
        _retry(task, order_id, kind, wait)
    with held.renewing():
        return _attempt(task, held, build_message)


def _attempt(task, held, build_message):
    order_id, kind = held.order_id, held.kind
    try:
        sending = Sending(build_message(load_order(order_id, lines=held.read)))
    except DatabaseError as error:  # the database blinked before anything was sent: not an attempt
        try:
            held.release(f"{type(error).__name__} while preparing the email", uncount=True)
        except DatabaseError:
            pass  # the claim's lease lapses instead
        _wait_for_the_database(task, order_id, kind, error)
    except Exception as error:  # noqa: BLE001  (the message could not be made, e.g. its PDF: an attempt that failed)
        return _failed_attempt(task, held, error)
    try:
        try:
            sending.send()
        except OutcomeUnknown as error:
            _record(held.unconfirmed, str(error))
            logger.warning(
                "order %s: %s email may have been delivered (the mail server took it but never "
                "answered); not sent again unless an operator resends it",
                order_id,
                kind,
            )
            return "unconfirmed"
        except Exception as error:  # noqa: BLE001  (anything before the message was handed over: retry)
            return _failed_attempt(task, held, error)
        if not _record(held.sent):
            logger.warning("order %s: %s email sent after its claim had lapsed", order_id, kind)
        logger.info("order %s: %s email sent", order_id, kind)
        return "sent"
    finally:
        sending.close()


def _failed_attempt(task, held, error):
    order_id, kind = held.order_id, held.kind
    description = f"{type(error).__name__}: {error}"
    attempt = _record(held.attempts)
    if is_permanent(error) or attempt >= settings.ORDER_EMAIL_MAX_ATTEMPTS:
        _record(held.failed, description)
        # Only the type reaches the log: SMTP errors can quote the customer's address.
        logger.error(
            "order %s: %s email FAILED after %s attempt(s) (%s)", order_id, kind, attempt, type(error).__name__
        )
        return "failed"
    _record(held.release, description)
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


# Retries are bounded by the attempts the outbox counts, not by Celery's counter: waiting for another
# worker's claim, or for the database, is not an attempt.
@shared_task(base=outbox.OutboxTask, bind=True, max_retries=None, email_kind=OrderEmail.Kind.CONFIRMATION)
def order_created(self, order_id):
    """Email the customer that order `order_id` was received; a repeated delivery sends nothing."""
    return send_order_email(self, order_id, OrderEmail.Kind.CONFIRMATION, confirmation_message)


@shared_task(base=outbox.OutboxTask, bind=True, max_retries=None, email_kind=OrderEmail.Kind.SHIPPING)
def order_shipped(self, order_id):
    """Email the customer that order `order_id` has shipped; a repeated delivery sends nothing."""
    return send_order_email(self, order_id, OrderEmail.Kind.SHIPPING, shipping_message)


@shared_task(name="orders.tasks.sweep_unsent_emails", ignore_result=True)
def sweep_unsent_emails():
    """Hand over order emails the broker may have lost (run periodically by Celery beat)."""
    swept = outbox.sweep()
    if swept:
        logger.info(
            "sweep: handed %s email(s) to the broker again: %s",
            len(swept),
            ", ".join(f"order {order_id} {kind}" for order_id, kind in swept),
        )
    return len(swept)
