"""The worker's side of an account email: claim it, make it, send it through the shop's mail path, record
how it went (as orders.tasks.deliver does for an order's). Only the row's id travels through the broker."""

import logging

from celery import shared_task
from django.db import DatabaseError

from orders.mail import OutcomeUnknown, Sending
from orders.outbox import Claimed
from orders.tasks import Delivery, RowRetries, record_outcome, retry_delay

from . import emails, outbox
from .models import AccountEmail

logger = logging.getLogger(__name__)
_steps = RowRetries("account email", mark_due=outbox.mark_due, log=logger)


@shared_task(name="accounts.tasks.send_account_email", base=outbox.AccountEmailTask, bind=True, max_retries=None)
def send_account_email(self, email_id):
    """Send account email `email_id` at most once across deliveries; failures retried with backoff."""
    if isinstance(email_id, bool) or not isinstance(email_id, int):
        logger.error("account email: dropped a message with a malformed id")
        return Delivery.MALFORMED
    try:
        held = outbox.claim(email_id, task_id=self.request.id)
    except DatabaseError as error:  # nothing was begun: not an attempt
        _steps.retry(self, email_id, retry_delay(self.request.retries + 1), error)
    if held.outcome is not Claimed.TAKEN:
        return _steps.not_taken(self, held)
    with held.renewing():
        try:
            message = emails.message(
                AccountEmail.objects.select_related("user", "email_address__user").get(id=email_id)
            )
        except Exception as error:  # noqa: BLE001  (the database, or the message could not be made)
            return _steps.failed_attempt(self, held, error)
        sending = Sending(message)
        try:
            sending.send()
        except OutcomeUnknown as error:
            record_outcome(held.mark_unconfirmed, str(error))
            logger.warning("account email %s may have been delivered; not sent again by itself", email_id)
            return Delivery.UNCONFIRMED
        except Exception as error:  # noqa: BLE001  (before the message was handed over: retry)
            return _steps.failed_attempt(self, held, error)
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
