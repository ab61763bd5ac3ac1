"""The offline provider: a payment provider simulated inside the shop, so the shop runs with no account and
no internet. No money moves.

It behaves like a real one from the shop's side: the shopper approves or declines on the provider's page
(views.offline_checkout), the provider confirms slowly (PAYMENT_OFFLINE_CONFIRM_SECONDS) and reports by a
webhook signed with HMAC-SHA256 over "<timestamp>.<body>" (header "X-Offline-Signature: t=...,v1=..."),
sent by the worker (tasks.deliver_offline_event) and retried while the shop does not answer 2xx. Its own
records are OfflineCheckout rows, which the shop's side never reads except through `check`, the provider's
"API".
"""

import hashlib
import hmac
import json
import re
import time
import uuid
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.db.models.functions import Now
from django.urls import reverse
from django.utils.crypto import salted_hmac

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
from .models import OfflineCheckout

SIGNATURE_HEADER = "X-Offline-Signature"
TOLERANCE_SECONDS = 300  # an older signature is refused: a captured webhook cannot be replayed later
SIGNATURE = re.compile(r"t=([0-9]{1,12}),v1=([0-9a-f]{64})", re.ASCII)  # as sign() writes it, nothing else
Status = OfflineCheckout.Status
OUTCOMES = {"checkout.approved": SUCCEEDED, "checkout.declined": FAILED, "checkout.expired": EXPIRED}
EVENT_TYPES = {
    Status.APPROVED: "checkout.approved",
    Status.DECLINED: "checkout.declined",
    Status.EXPIRED: "checkout.expired",
}


def webhook_secret():
    """The secret both sides share: PAYMENT_OFFLINE_WEBHOOK_SECRET, or one derived from SECRET_KEY."""
    return (
        settings.PAYMENT_OFFLINE_WEBHOOK_SECRET
        or salted_hmac("payments.offline.webhook", "secret", algorithm="sha256").hexdigest()
    )


def sign(body, *, secret=None, timestamp=None):
    """The signature header for `body` (str): t=<unix time>,v1=<hex HMAC-SHA256 of "t.body">."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new((secret or webhook_secret()).encode(), f"{timestamp}.{body}".encode(), hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def webhook_url():
    """Where the provider posts its events: the shop's own endpoint, at its public address."""
    return settings.SHOP_SITE_URL.rstrip("/") + reverse("webhooks:payment", args=["offline"])


def event_for(checkout):
    """The event the provider sends about `checkout` (an id of its own: every sending of it carries it)."""
    return {
        "id": f"evt_{uuid.uuid4().hex}",
        "type": EVENT_TYPES[checkout.status],
        "created": int(time.time()),
        "checkout": {
            "id": checkout.id,
            "client_reference_id": checkout.client_reference_id,
            "amount": checkout.amount_minor,
            "currency": checkout.currency,
            "status": checkout.status,
        },
    }


def decide(checkout_id, *, approve):
    """The shopper's decision on the provider's page; the event to send, or None if the checkout was no
    longer open (decided already, expired)."""
    status = Status.APPROVED if approve else Status.DECLINED
    if not OfflineCheckout.objects.filter(id=checkout_id, status=Status.OPEN).update(status=status, decided_at=Now()):
        return None
    return event_for(OfflineCheckout.objects.get(id=checkout_id))


class OfflineProvider(Provider):
    name = "offline"

    def start_checkout(self, *, payment, order, lines, return_url, cancel_url):
        # The provider's page is on the shop's own site: it sends the shopper back to the same host they are
        # on (a redirect to another origin, such as SHOP_SITE_URL's localhost vs 127.0.0.1, would be blocked
        # by the Content-Security-Policy's form-action).
        checkout = OfflineCheckout.objects.create(
            id=f"ofc_{uuid.uuid4().hex}",
            client_reference_id=str(order.id),
            amount_minor=to_minor_units(payment.amount, payment.currency),
            currency=payment.currency,
            return_url=urlsplit(return_url).path,
        )
        return Checkout(reference=checkout.id, redirect_url=reverse("payments:offline_checkout", args=[checkout.id]))

    def parse_webhook(self, *, body, headers):
        found = SIGNATURE.fullmatch(headers.get(SIGNATURE_HEADER, ""))
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            found = None
        if found is None:
            raise InvalidSignature("missing or unreadable signature")
        timestamp, given = int(found.group(1)), found.group(2)
        if not hmac.compare_digest(sign(text, timestamp=timestamp).split("v1=", 1)[1], given):
            raise InvalidSignature("the signature does not match")
        if abs(time.time() - timestamp) > TOLERANCE_SECONDS:
            raise InvalidSignature("the signature is too old")
        try:
            event = json.loads(text)
            checkout = event["checkout"]
            return ProviderEvent(
                id=str(event["id"]),
                type=str(event["type"]),
                reference=str(checkout["id"]),
                outcome=OUTCOMES.get(event["type"], ""),
                amount_minor=int(checkout["amount"]),
                currency=str(checkout["currency"]).upper(),
                payment_id=str(checkout["id"]),
            )
        except (ValueError, KeyError, TypeError) as error:
            raise MalformedEvent(f"unreadable event: {type(error).__name__}") from None

    def check(self, payment):
        # The provider knows a decision only once its (slow) confirmation is done.
        confirmed_before = Now() - timedelta(seconds=settings.PAYMENT_OFFLINE_CONFIRM_SECONDS)
        checkout = (
            OfflineCheckout.objects.filter(id=payment.reference)
            .exclude(status=Status.OPEN)
            .exclude(status__in=[Status.APPROVED, Status.DECLINED], decided_at__gt=confirmed_before)
            .first()
        )
        if checkout is None:
            return None
        status = Status.APPROVED if checkout.status == Status.REFUNDED else checkout.status
        return ProviderEvent(
            id=f"check:{checkout.id}:{status}",
            type="check",
            reference=checkout.id,
            outcome=OUTCOMES[EVENT_TYPES[status]],
            amount_minor=checkout.amount_minor,
            currency=checkout.currency,
            payment_id=checkout.id,
        )

    def refund(self, payment):
        refund_id = f"ofr_{uuid.uuid4().hex}"
        OfflineCheckout.objects.filter(id=payment.reference, status=Status.APPROVED).update(
            status=Status.REFUNDED, refund_id=refund_id
        )
        checkout = OfflineCheckout.objects.filter(id=payment.reference).first()
        if checkout is None or checkout.status != Status.REFUNDED:
            raise ProviderError(f"offline checkout {payment.reference} was never approved: nothing to refund")
        return checkout.refund_id  # the first refund's id when asked twice

    def close_checkout(self, payment):
        OfflineCheckout.objects.filter(id=payment.reference, status=Status.OPEN).update(status=Status.EXPIRED)
