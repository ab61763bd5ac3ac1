"""Stripe Checkout through the official `stripe` library: a Checkout Session built from the order's lines,
its webhooks verified with the endpoint's signing secret (STRIPE_WEBHOOK_SECRET), refunds by PaymentIntent.

Stripe events handled (everything else is recorded and ignored):
  checkout.session.completed               paid when its payment_status is "paid" (cards); "unpaid" means a
                                           slower method is still on its way: nothing to do yet
  checkout.session.async_payment_succeeded paid
  checkout.session.async_payment_failed    failed
  checkout.session.expired                 expired (nobody paid before the session closed)
"""

import json
import time

import stripe
from django.conf import settings

from .gateway import (
    EXPIRED,
    FAILED,
    SUCCEEDED,
    Checkout,
    InvalidSignature,
    MalformedEvent,
    Provider,
    ProviderError,
    ProviderEvent,
    to_minor_units,
)

SIGNATURE_HEADER = "Stripe-Signature"
SESSION_EVENTS = {
    "checkout.session.async_payment_succeeded": SUCCEEDED,
    "checkout.session.async_payment_failed": FAILED,
    "checkout.session.expired": EXPIRED,
}
# Stripe keeps a Checkout Session open between 30 minutes and 24 hours; a minute of margin for clocks.
SESSION_MIN_SECONDS, SESSION_MAX_SECONDS = 31 * 60, 23 * 3600
REQUEST_TIMEOUT = (3.05, 10)  # seconds to connect, to read an answer


class StripeCheckout(Provider):
    name = "stripe"
    # A stripe.HTTPClient to talk through; None is the library's default. Tests plug one that records the
    # requests and answers them without a network.
    http_client = None

    def client(self):
        # Calls are made inside a shopper's request (Pay, the return page) or a worker's task: bounded, not the
        # library's 80 s default, with two retries (idempotent: every write carries an idempotency key).
        http = self.http_client or stripe.RequestsClient(timeout=REQUEST_TIMEOUT)
        return stripe.StripeClient(settings.STRIPE_SECRET_KEY, http_client=http, max_network_retries=2)

    def start_checkout(self, *, payment, order, lines, return_url, cancel_url):
        currency = payment.currency.lower()
        line_items = [
            {
                "quantity": quantity,
                "price_data": {
                    "currency": currency,
                    "unit_amount": to_minor_units(price, currency),
                    "product_data": {"name": name},
                },
            }
            for name, price, quantity in lines
            if price >= 0
        ]
        # Stripe takes no negative line: a discount becomes a one-off coupon of that amount on the session.
        discounts = [(name, -to_minor_units(price, currency) * count) for name, price, count in lines if price < 0]
        if sum(item["quantity"] * item["price_data"]["unit_amount"] for item in line_items) - sum(
            amount for _, amount in discounts
        ) != to_minor_units(payment.amount, currency):
            raise ProviderError(f"order {order.id}: its lines do not add up to its total")
        remaining = settings.PAYMENT_TIMEOUT - (time.time() - order.created.timestamp())
        params = {
            "mode": "payment",
            "line_items": line_items,
            "client_reference_id": str(order.id),
            "customer_email": order.email,
            "locale": order.language,  # Stripe's page in the shopper's language ("en", "de" are Stripe's codes too)
            "metadata": {"order_id": str(order.id), "payment_id": str(payment.id)},
            "payment_intent_data": {"metadata": {"order_id": str(order.id), "payment_id": str(payment.id)}},
            "success_url": f"{return_url}?ref={{CHECKOUT_SESSION_ID}}",
            "cancel_url": cancel_url,
            "expires_at": int(time.time() + min(max(remaining, SESSION_MIN_SECONDS), SESSION_MAX_SECONDS)),
        }
        try:
            if discounts:
                params["discounts"] = [{"coupon": self._coupon(payment, discounts)}]
            # The same payment never opens two sessions, even when a timed-out request is sent again.
            session = self.client().v1.checkout.sessions.create(
                params=params, options={"idempotency_key": f"myshop-checkout-{payment.id}"}
            )
        except stripe.StripeError as error:
            raise ProviderError(f"Stripe refused or did not answer: {type(error).__name__}: {error}") from error
        return Checkout(reference=session.id, redirect_url=session.url)

    def _coupon(self, payment, discounts):
        """The id of a Stripe coupon taking `discounts` off this payment's session once (made once per payment)."""
        coupon = self.client().v1.coupons.create(
            params={
                "amount_off": sum(amount for _, amount in discounts),
                "currency": payment.currency.lower(),
                "duration": "once",
                "max_redemptions": 1,
                "name": ", ".join(name for name, _ in discounts)[:40],  # Stripe shows it; 40 characters at most
                "metadata": {"order_id": str(payment.order_id), "payment_id": str(payment.id)},
            },
            options={"idempotency_key": f"myshop-coupon-{payment.id}"},
        )
        return coupon.id

    def parse_webhook(self, *, body, headers):
        if not headers.get(SIGNATURE_HEADER, "").isascii():  # the library's compare_digest raises TypeError
            raise InvalidSignature("unreadable signature header")
        try:
            # Stripe's own scheme: HMAC-SHA256 of "<t>.<body>", with a 5-minute tolerance against replays.
            stripe.WebhookSignature.verify_header(
                body,
                headers.get(SIGNATURE_HEADER),
                settings.STRIPE_WEBHOOK_SECRET,
                tolerance=stripe.Webhook.DEFAULT_TOLERANCE,
            )
        except (stripe.SignatureVerificationError, UnicodeDecodeError) as error:
            raise InvalidSignature(str(error)[:200]) from None
        try:
            event = json.loads(body)
            event_type = str(event["type"])
            if not event_type.startswith("checkout.session."):
                return ProviderEvent(id=str(event["id"]), type=event_type, reference="", outcome="")
            session = event["data"]["object"]
            return _session_event(str(event["id"]), event_type, session)
        except (ValueError, KeyError, TypeError) as error:
            raise MalformedEvent(f"unreadable event: {type(error).__name__}") from None

    def check(self, payment):
        try:
            session = self.client().v1.checkout.sessions.retrieve(payment.reference).to_dict()
        except stripe.StripeError as error:
            raise ProviderError(f"Stripe did not answer the check: {type(error).__name__}") from error
        outcome = (
            SUCCEEDED
            if session.get("payment_status") == "paid"
            else EXPIRED
            if session.get("status") == "expired"
            else ""
        )
        if not outcome:
            return None
        return _session_event(f"check:{session['id']}:{outcome}", "check", session, outcome=outcome)

    def refund(self, payment):
        if not payment.provider_payment_id:
            raise ProviderError(f"payment {payment.id}: Stripe never named its PaymentIntent; refund it in Stripe")
        try:
            refund = self.client().v1.refunds.create(
                params={
                    "payment_intent": payment.provider_payment_id,
                    "metadata": {"order_id": str(payment.order_id), "payment_id": str(payment.id)},
                },
                options={"idempotency_key": f"myshop-refund-{payment.id}"},
            )  # refunded once, however often asked
        except stripe.StripeError as error:
            raise ProviderError(f"Stripe refused the refund: {type(error).__name__}: {error}") from error
        return refund.id

    def close_checkout(self, payment):
        try:
            self.client().v1.checkout.sessions.expire(payment.reference)
        except stripe.StripeError as error:  # already completed or expired: the events tell which
            raise ProviderError(f"Stripe did not expire session {payment.reference}: {type(error).__name__}") from error


def _session_event(event_id, event_type, session, outcome=None):
    if outcome is None:
        if event_type == "checkout.session.completed":
            outcome = SUCCEEDED if session["payment_status"] == "paid" else ""
        else:
            outcome = SESSION_EVENTS.get(event_type, "")
    intent = session.get("payment_intent") or ""
    if isinstance(intent, dict):  # expanded
        intent = intent.get("id", "")
    amount = session.get("amount_total")
    return ProviderEvent(
        id=event_id,
        type=event_type,
        reference=str(session["id"]),
        outcome=outcome,
        amount_minor=None if amount is None else int(amount),
        currency=str(session.get("currency") or "").upper(),
        payment_id=str(intent),
    )
