"""Helpers of the payment tests: placing an order as checkout does, and speaking as a provider (the offline
one's signed webhooks, Stripe's events and API answers) without a network."""

import json
import time
import uuid
from decimal import Decimal
from unittest.mock import patch

import stripe
from django.test import TestCase
from django.urls import reverse

from orders.services import place_order
from payments import offline
from payments.gateway import to_minor_units
from payments.models import OfflineCheckout, Payment
from payments.services import start_payment


def place(make_product, customer, *, price=Decimal("20.50"), quantity=2, stock=10, product=None):
    """An order as checkout places it (the confirmation is not published to the broker)."""
    product = product or make_product(name="Teapot", price=price, stock=stock)
    with patch("celery.app.task.Task.apply_async"):
        return place_order(customer=customer, quantities={product.id: quantity})


def started(order):
    """The order's payment, started at the configured provider (the "Pay" button)."""
    return start_payment(order_id=order.id)


# --- The offline provider ----------------------------------------------------------------------------------


def offline_event(payment, *, status="approved", event_id=None, amount=None, currency=None):
    """The event the offline provider sends about `payment`'s checkout (fields overridable for forgeries)."""
    return {
        "id": event_id or f"evt_{uuid.uuid4().hex}",
        "type": f"checkout.{status}",
        "created": int(time.time()),
        "checkout": {
            "id": payment.reference,
            "client_reference_id": str(payment.order_id),
            "amount": to_minor_units(payment.amount, payment.currency) if amount is None else amount,
            "currency": currency or payment.currency,
            "status": status,
        },
    }


def post_offline(client, event, *, secret=None, timestamp=None, body=None, signature=None):
    """POST `event` to the offline webhook endpoint, signed as the provider signs it (or as told)."""
    body = json.dumps(event) if body is None else body
    header = signature if signature is not None else offline.sign(body, secret=secret, timestamp=timestamp)
    return client.post(
        reverse("webhooks:payment", args=["offline"]),
        data=body,
        content_type="application/json",
        headers={offline.SIGNATURE_HEADER: header},
    )


def approve_offline(client, payment, decision="approve"):
    """The shopper approves on the provider's page; returns the response and the event the provider sends."""
    with (
        patch("payments.tasks.deliver_offline_event.apply_async") as send,
        TestCase.captureOnCommitCallbacks(execute=True),
    ):
        response = client.post(reverse("payments:offline_checkout", args=[payment.reference]), {"decision": decision})
    event = send.call_args.args[0][0] if send.called else None
    return response, event


def offline_status(payment):
    return OfflineCheckout.objects.get(id=payment.reference).status


def payment(payment_id):
    return Payment.objects.get(id=payment_id)


# --- Stripe ------------------------------------------------------------------------------------------------

STRIPE_WEBHOOK_SECRET = "whsec_test_0123456789abcdef"
STRIPE_SECRET_KEY = "sk_test_myshop_0123456789"


class FakeStripeHTTP(stripe.HTTPClient):
    """Stripe's HTTP layer without a network: records each request; answers from `answers`, a list of
    (status, body dict) used in order (the last one repeats)."""

    name = "fake"

    def __init__(self, answers=None):
        super().__init__()
        self.requests = []
        self.answers = list(answers or [])

    def request(self, method, url, headers, post_data=None):
        self.requests.append(
            {
                "method": method,
                "url": url,
                "headers": dict(headers),
                "data": post_data.decode() if isinstance(post_data, bytes) else (post_data or ""),
            }
        )
        status, body = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return json.dumps(body), status, {"request-id": f"req_{len(self.requests)}"}

    def request_stream(self, method, url, headers, post_data=None):
        raise NotImplementedError

    def close(self):
        pass


def stripe_session(
    *,
    session_id="cs_test_a1",
    order=None,
    payment_status="unpaid",
    status="open",
    amount=None,
    currency="eur",
    intent="pi_test_1",
    url="https://checkout.stripe.com/c/pay/cs_test_a1",
):
    return {
        "id": session_id,
        "object": "checkout.session",
        "client_reference_id": str(order.id) if order else None,
        "amount_total": amount if amount is not None else (to_minor_units(order.total, "EUR") if order else 0),
        "currency": currency,
        "payment_status": payment_status,
        "status": status,
        "payment_intent": intent,
        "url": url,
    }


def stripe_event(event_type, session, *, event_id=None):
    return {
        "id": event_id or f"evt_{uuid.uuid4().hex[:24]}",
        "object": "event",
        "type": event_type,
        "api_version": "2025-01-27",
        "created": int(time.time()),
        "data": {"object": session},
    }


def post_stripe(client, event, *, secret=STRIPE_WEBHOOK_SECRET, timestamp=None, body=None, signature=None):
    """POST a Stripe event to the Stripe webhook endpoint, signed with Stripe's own scheme (the library's
    helper) and `secret`."""
    body = json.dumps(event) if body is None else body
    if signature is None:
        signature = stripe.WebhookSignature.generate_signature_header(body, secret, timestamp=timestamp)
    return client.post(
        reverse("webhooks:payment", args=["stripe"]),
        data=body,
        content_type="application/json",
        headers={"Stripe-Signature": signature},
    )


def payment_tasks_inline(monkeypatch):
    """Run the payment tasks that the expiry and a cancellation publish (refunds of late payments, closing
    checkouts) in the calling process, as a worker would, instead of publishing them."""
    from payments import tasks

    monkeypatch.setattr(tasks.close_checkouts, "delay", tasks.close_checkouts)
    monkeypatch.setattr(tasks.refund_late_payment, "delay", tasks.refund_late_payment)
