import logging
import random

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded

from .emails import confirmation_message
from .models import Order
from .services import (
    ALREADY_DONE,
    BUSY,
    MISSING,
    claim_confirmation,
    mark_confirmation_sent,
    release_confirmation,
)

logger = logging.getLogger(__name__)

MAX_SEND_ATTEMPTS = 6


def retry_delay(attempt):
    """Seconds before send attempt `attempt` + 1: exponential (2, 4, 8, ... capped at 60 s) with full jitter."""
    return random.uniform(1, min(60, 2 ** (attempt + 1)))


@shared_task(bind=True, max_retries=MAX_SEND_ATTEMPTS + 20)
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
        # Another worker is sending it now; come back after its claim would have expired.
        logger.info("order %s: confirmation being sent by another worker, checking again later", order_id)
        raise self.retry(countdown=30)

    order = Order.objects.get(id=order_id)
    try:
        confirmation_message(order).send()
    except (Exception, SoftTimeLimitExceeded) as error:
        attempt = order.confirmation_attempts
        give_up = attempt >= MAX_SEND_ATTEMPTS
        description = f"{type(error).__name__}: {error}"
        release_confirmation(order_id, error=description, failed=give_up)
        if give_up:
            logger.error("order %s: confirmation failed after %s attempts: %s", order_id, attempt, description)
            return "failed"
        delay = retry_delay(attempt)
        logger.warning("order %s: confirmation attempt %s failed (%s), retrying in %.0f s",
                       order_id, attempt, type(error).__name__, delay)
        raise self.retry(countdown=delay)
    mark_confirmation_sent(order_id)
    logger.info("order %s: confirmation sent", order_id)
    return "sent"
