"""Queue messages in, emails out. Each task takes only an order id; the database says what is owed."""
import logging
import random

from celery import shared_task
from celery.exceptions import Reject, SoftTimeLimitExceeded
from django.conf import settings

from .emails import confirmation_message, shipping_message
from .models import Order
from .services import (
    ALREADY_DONE,
    BUSY,
    CONFIRMATION,
    MISSING,
    SHIPPING,
    claim_email,
    claim_expires_in,
    forget_queued,
    mark_email_sent,
    release_email,
    sweep_unsent_emails,
)

logger = logging.getLogger(__name__)


def retry_delay(attempt):
    """Seconds to wait after failed attempt `attempt` (1, 2, ...): exponential, capped, with jitter."""
    ceiling = min(settings.ORDER_EMAIL_RETRY_MAX_SECONDS,
                  settings.ORDER_EMAIL_RETRY_BASE_SECONDS * 2 ** (attempt - 1))
    return random.uniform(ceiling / 2, ceiling)


def _retry_later(task, order_id, kind, countdown):
    """Schedule another run; if the broker refuses the retry, let the sweep hand the email over again."""
    try:
        raise task.retry(countdown=countdown)
    except Reject:  # Celery could not publish the retry and drops this message
        forget_queued(order_id, kind)
        raise


def send_order_email(task, order_id, kind, build_message):
    """Send order `order_id`'s `kind` email at most once across deliveries, retrying failures with backoff.

    Logs one line per outcome with the order id; never the customer's details.
    """
    if isinstance(order_id, bool) or not isinstance(order_id, int):
        logger.error("%s email: dropped a message with a malformed order id", kind)
        return "malformed"
    outcome, claim = claim_email(order_id, kind)
    if outcome == MISSING:
        logger.error("order %s: no such order, %s message dropped", order_id, kind)
        return outcome
    if outcome == ALREADY_DONE:
        logger.info("order %s: %s email already handled, nothing sent", order_id, kind)
        return outcome
    if outcome == BUSY:
        wait = claim_expires_in(order_id, kind) + random.uniform(0.5, 2)
        logger.info("order %s: %s email claimed by another worker, checking again in %.0f s", order_id, kind, wait)
        _retry_later(task, order_id, kind, wait)

    order = Order.objects.get(id=order_id)
    try:
        build_message(order).send()
    except (Exception, SoftTimeLimitExceeded) as error:
        attempt = getattr(order, f"{kind}_attempts")
        give_up = attempt >= settings.ORDER_EMAIL_MAX_ATTEMPTS
        # Only the type reaches the log: SMTP errors can quote the customer's address.
        release_email(order_id, kind, claim=claim, error=f"{type(error).__name__}: {error}", failed=give_up)
        if give_up:
            logger.error("order %s: %s email FAILED after %s attempts (%s)", order_id, kind, attempt,
                         type(error).__name__)
            return "failed"
        delay = retry_delay(attempt)
        logger.warning("order %s: %s email attempt %s failed (%s), retrying in %.1f s", order_id, kind, attempt,
                       type(error).__name__, delay)
        _retry_later(task, order_id, kind, delay)
    mark_email_sent(order_id, kind, claim=claim)
    logger.info("order %s: %s email sent", order_id, kind)
    return "sent"


# Retries are bounded by the attempt count kept on the order, not by Celery's counter: waiting for another
# worker's claim to expire is not an attempt.
@shared_task(bind=True, max_retries=None)
def order_created(self, order_id):
    """Email the customer that order `order_id` was received; a repeated delivery sends nothing."""
    return send_order_email(self, order_id, CONFIRMATION, confirmation_message)


@shared_task(bind=True, max_retries=None)
def order_shipped(self, order_id):
    """Email the customer that order `order_id` has shipped; a repeated delivery sends nothing."""
    return send_order_email(self, order_id, SHIPPING, shipping_message)


EMAIL_TASKS = {CONFIRMATION: order_created, SHIPPING: order_shipped}


@shared_task(name="orders.tasks.sweep_unsent_emails", ignore_result=True)
def sweep_unsent_emails_task():
    """Hand over order emails the broker never got (run periodically by Celery beat)."""
    swept = sweep_unsent_emails()
    for kind, order_ids in swept.items():
        if order_ids:
            logger.info("sweep: handed %s %s email(s) to the broker again: orders %s", len(order_ids), kind,
                        ", ".join(map(str, order_ids)))
    return sum(map(len, swept.values()))
