"""The operators' daily emails, by beat through the operator outbox (ops/digests.py): beat owes the digest,
the worker claims, sends and records it (as accounts.tasks does an account email's). Only the id travels."""

import logging

from celery import shared_task
from django.db import DatabaseError

from orders.mail import OutcomeUnknown, Sending
from orders.outbox import Claimed
from orders.tasks import Delivery, RowRetries, record_outcome, retry_delay

from . import digests
from .models import OperatorDigest

logger = logging.getLogger(__name__)
_steps = RowRetries("operator digest", mark_due=digests.mark_due, log=logger)


@shared_task(name="ops.tasks.owe_low_stock_digest", ignore_result=True)
def owe_low_stock_digest():
    """Owe today's low-stock digest and publish it once committed (run daily by Celery beat)."""
    digest = digests.owe_low_stock_digest(publish=send_operator_digest.delay)
    return digest.id if digest else None


@shared_task(name="ops.tasks.sweep_unsent_digests", ignore_result=True)
def sweep_unsent_digests():
    """Publish again the operator digests the broker may have lost (run by Celery beat)."""
    swept = digests.sweep(lambda digest_id: send_operator_digest.delay(digest_id) is not None)
    if swept:
        logger.info("sweep: published %s operator digest(s) again: %s", len(swept), swept)
    return len(swept)


@shared_task(name="ops.tasks.send_operator_digest", base=digests.DigestTask, bind=True, max_retries=None)
def send_operator_digest(self, digest_id):
    """Send operator digest `digest_id` at most once across deliveries; failures retried with backoff."""
    if isinstance(digest_id, bool) or not isinstance(digest_id, int):
        logger.error("operator digest: dropped a message with a malformed id")
        return Delivery.MALFORMED
    try:
        held = digests.claim(digest_id, task_id=self.request.id)
    except DatabaseError as error:  # nothing was begun: not an attempt
        _steps.retry(self, digest_id, retry_delay(self.request.retries + 1), error)
    if held.outcome is not Claimed.TAKEN:
        return _steps.not_taken(self, held)
    with held.renewing():
        try:
            message = digests.message(OperatorDigest.objects.get(id=digest_id))
        except Exception as error:  # noqa: BLE001  (the database, or the message could not be made)
            return _steps.failed_attempt(self, held, error)
        sending = Sending(message)
        try:
            sending.send()
        except OutcomeUnknown as error:
            record_outcome(held.mark_unconfirmed, str(error))
            logger.warning("operator digest %s may have been delivered; not sent again by itself", digest_id)
            return Delivery.UNCONFIRMED
        except Exception as error:  # noqa: BLE001  (before the message was handed over: retry)
            return _steps.failed_attempt(self, held, error)
        else:
            if not record_outcome(held.mark_sent):
                logger.warning("operator digest %s sent after its claim had lapsed", digest_id)
            logger.info("operator digest %s sent", digest_id)
            return Delivery.SENT
        finally:
            sending.close()  # after the outcome is recorded
