"""The worker's side of an account email: claim it, make it, send it through the shop's mail path, record
how it went (as orders.tasks.deliver does for an order's). Only the row's id travels through the broker."""

import logging
import random

from celery import shared_task
from celery.exceptions import Reject
from django.conf import settings
from django.db import DatabaseError

from orders.mail import OutcomeUnknown, Sending, is_permanent
from orders.outbox import Claimed
from orders.tasks import Delivery, record_outcome, retry_delay

from . import emails, outbox
from .models import AccountEmail

logger = logging.getLogger(__name__)


@shared_task(name="accounts.tasks.send_account_email", base=outbox.AccountEmailTask, bind=True, max_retries=None)
def send_account_email(self, email_id):
    """Send account email `email_id` at most once across deliveries; failures retried with backoff."""
    if isinstance(email_id, bool) or not isinstance(email_id, int):
        logger.error("account email: dropped a message with a malformed id")
        return Delivery.MALFORMED
    try:
        held = outbox.claim(email_id, task_id=self.request.id)
    except DatabaseError as error:  # nothing was begun: not an attempt
        _retry(self, email_id, retry_delay(self.request.retries + 1), error)
    if held.outcome is not Claimed.TAKEN:
        return _not_taken(self, held)
    with held.renewing():
        try:
            message = emails.message(
                AccountEmail.objects.select_related("user", "email_address__user").get(id=email_id)
            )
        except Exception as error:  # noqa: BLE001  (the database, or the message could not be made)
            return _failed_attempt(self, held, error)
        sending = Sending(message)
        try:
            sending.send()
        except OutcomeUnknown as error:
            record_outcome(held.mark_unconfirmed, str(error))
            logger.warning("account email %s may have been delivered; not sent again by itself", email_id)
            return Delivery.UNCONFIRMED
        except Exception as error:  # noqa: BLE001  (before the message was handed over: retry)
            return _failed_attempt(self, held, error)
        else:
            if not record_outcome(held.mark_sent):
                logger.warning("account email %s sent after its claim had lapsed", email_id)
            logger.info("account email %s (%s) sent", email_id, held.kind)
            return Delivery.SENT
        finally:
            sending.close()  # after the outcome is recorded


@shared_task(name="accounts.tasks.sweep_unsent_account_emails", ignore_result=True)
def sweep_unsent_account_emails():
    """Publish again the account emails the broker may have lost (run by Celery beat)."""
    swept = outbox.sweep(lambda email_id: send_account_email.delay(email_id) is not None)
    if swept:
        logger.info("sweep: published %s account email(s) again: %s", len(swept), swept)
    return len(swept)


def _not_taken(task, held):
    if held.outcome is Claimed.MISSING:
        logger.error("account email %s: no such email, message dropped", held.order_id)
        return Delivery.MISSING
    if held.outcome is Claimed.DONE:
        logger.info("account email %s already handled, nothing sent", held.order_id)
        return Delivery.ALREADY_DONE
    if held.outcome is Claimed.EXHAUSTED:
        logger.error("account email %s FAILED: every attempt was spent", held.order_id)
        return Delivery.FAILED
    _retry(task, held.order_id, held.wait_seconds + random.uniform(0.5, 2))


def _failed_attempt(task, held, error):
    """An attempt failed before the message was handed over: fail for good, or retry after the backoff."""
    attempt = record_outcome(held.attempts_started)
    if is_permanent(error) or attempt >= settings.ORDER_EMAIL_MAX_ATTEMPTS:
        record_outcome(held.mark_failed, f"{type(error).__name__}: {error}")
        logger.error("account email %s FAILED after %s attempt(s) (%s)", held.order_id, attempt, type(error).__name__)
        return Delivery.FAILED
    record_outcome(held.release, f"{type(error).__name__}: {error}")
    _retry(task, held.order_id, retry_delay(attempt), error)


def _retry(task, email_id, countdown, error=None):
    """Run again in `countdown` seconds, through the broker; if the retry cannot be published, the sweep will."""
    logger.warning("account email %s: trying again in %.1f s (%s)", email_id, countdown, type(error).__name__)
    try:
        raise task.retry(countdown=countdown)
    except Reject:
        outbox.mark_due(email_id)
        raise
