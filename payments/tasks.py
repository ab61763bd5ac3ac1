"""The worker's side of payments: the invoice email, the offline provider's webhooks, and expiring unpaid
orders (run by Celery beat). Each task takes ids or plain JSON values."""

import json
import logging
import urllib.error
import urllib.request

from celery import shared_task
from django.db import transaction
from django.utils.translation import gettext_lazy

from orders.tasks import email_task

from . import invoices, offline, services

logger = logging.getLogger(__name__)

OFFLINE_DELIVERY_RETRIES = 10  # about 25 minutes of retries, like a (more patient) real provider


# Rendering the PDF is part of each attempt: a render that kills its worker every time ends "failed" like any
# other email.
invoice_email = email_task(
    "invoice",
    label="Invoice",
    subject=gettext_lazy("{shop}: invoice {order.invoice.number} for order {order.number}"),
    task_name="payments.tasks.invoice_email",
    template="payments/emails/invoice",
    attachments=invoices.pdf_attachment,
)


@shared_task(ignore_result=True)
def expire_unpaid_orders():
    """Cancel the orders whose online payment did not come in time, then hand each payment that came in after
    its order was cancelled to a refund task of its own (run periodically by Celery beat)."""
    expired = services.expire_unpaid_orders()
    for payment_id in services.late_payments_to_refund():
        refund_late_payment.delay(payment_id)
    return len(expired)


@shared_task(ignore_result=True)
def refund_late_payment(payment_id):
    """Refund one payment that came in after its order was cancelled, and tell the operators."""
    services.refund_late_payment(payment_id)


@shared_task(ignore_result=True)
def close_checkouts(payment_ids):
    """Close these expired payments' checkouts at their providers (out of the request that cancelled them)."""
    for payment_id in payment_ids:
        services.close_at_provider(payment_id)


def close_checkouts_of_cancelled_orders(sender, order_ids, status, **kwargs):
    """Receiver of orders.signals.order_status_changed: the open checkouts of orders just cancelled (by the
    expiry or an operator) expire in the same transaction, and are closed at the provider by a task."""
    if status == services.Status.CANCELLED:
        closing = services.expire_open_payments(order_ids)
        if closing:
            transaction.on_commit(lambda: close_checkouts.delay(closing), robust=True)  # a broker down: logged


@shared_task(bind=True, max_retries=OFFLINE_DELIVERY_RETRIES, ignore_result=True)
def deliver_offline_event(self, event):
    """Post the offline provider's `event` (a dict) to the shop's webhook endpoint, signed at each sending;
    sent again with backoff until the shop answers (a 4xx answer will not change: it is not retried)."""
    body = json.dumps(event, separators=(",", ":"))
    request = urllib.request.Request(
        offline.webhook_url(),
        data=body.encode(),
        method="POST",
        headers={"Content-Type": "application/json", offline.SIGNATURE_HEADER: offline.sign(body)},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        if 400 <= error.code < 500 and error.code != 429:
            logger.error(
                "offline provider: the shop refused event %s with HTTP %s; not sent again", event.get("id"), error.code
            )
            return error.code
        reason = f"HTTP {error.code}"
    except OSError as error:  # URLError, a refused connection, a timeout
        reason = type(error).__name__
    countdown = min(300, 2 * 2**self.request.retries)
    logger.warning(
        "offline provider: event %s not delivered (%s), sending again in %s s", event.get("id"), reason, countdown
    )
    raise self.retry(countdown=countdown)
