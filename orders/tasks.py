import logging
import random

from celery import shared_task
from celery.exceptions import Reject, SoftTimeLimitExceeded
from django.conf import settings

from .emails import confirmation_message
from .models import Order
from .services import (
    ALREADY_DONE,
    BUSY,
    MISSING,
    claim_confirmation,
    claim_expires_in,
    forget_queued,
    mark_confirmation_sent,
    release_confirmation,
    sweep_confirmations,
)

logger = logging.getLogger(__name__)


def retry_delay(attempt):
    """Seconds to wait after failed attempt `attempt` (1, 2, ...): exponential, capped, with jitter."""
    ceiling = min(settings.ORDER_EMAIL_RETRY_MAX_SECONDS,
                  settings.ORDER_EMAIL_RETRY_BASE_SECONDS * 2 ** (attempt - 1))
    return random.uniform(ceiling / 2, ceiling)


def _retry_later(task, order_id, countdown):
    """Schedule another run; if the broker refuses the retry, let the sweep hand the order over again."""
    try:
        raise task.retry(countdown=countdown)
    except Reject:  # Celery could not publish the retry and drops this message
        forget_queued(order_id)
        raise


# Retries are bounded by the attempt count kept on the order, not by Celery's counter: waiting for another
# worker's claim to expire is not an attempt.
@shared_task(bind=True, max_retries=None)
def order_created(self, order_id):
    """Email the customer that order `order_id` was received; a repeated delivery sends nothing."""
    if isinstance(order_id, bool) or not isinstance(order_id, int):
        logger.error("order_created: dropped a message with a malformed order id")
        return "malformed"
    claim = claim_confirmation(order_id)
    if claim == MISSING:
        logger.error("order %s: no such order, message dropped", order_id)
        return claim
    if claim == ALREADY_DONE:
        logger.info("order %s: confirmation already handled, nothing sent", order_id)
        return claim
    if claim == BUSY:
        wait = claim_expires_in(order_id) + random.uniform(0.5, 2)
        logger.info("order %s: confirmation claimed by another worker, checking again in %.0f s", order_id, wait)
        _retry_later(self, order_id, wait)

    order = Order.objects.get(id=order_id)
    try:
        confirmation_message(order).send()
    except (Exception, SoftTimeLimitExceeded) as error:
        attempt = order.confirmation_attempts
        give_up = attempt >= settings.ORDER_EMAIL_MAX_ATTEMPTS
        # Only the type reaches the log: SMTP errors can quote the customer's address.
        release_confirmation(order_id, error=f"{type(error).__name__}: {error}", failed=give_up)
        if give_up:
            logger.error("order %s: confirmation FAILED after %s attempts (%s)", order_id, attempt,
                         type(error).__name__)
            return "failed"
        delay = retry_delay(attempt)
        logger.warning("order %s: confirmation attempt %s failed (%s), retrying in %.1f s", order_id, attempt,
                       type(error).__name__, delay)
        _retry_later(self, order_id, delay)
    mark_confirmation_sent(order_id)
    logger.info("order %s: confirmation sent", order_id)
    return "sent"


@shared_task(ignore_result=True)
def sweep_unsent_confirmations():
    """Hand over confirmations the broker never got (run periodically by Celery beat)."""
    queued = sweep_confirmations()
    if queued:
        logger.info("sweep: handed %s confirmation(s) to the broker again: orders %s", len(queued),
                    ", ".join(map(str, queued)))
    return len(queued)
