"""Stripe Checkout through the real `stripe` library, without a network: its HTTP layer is replaced by one that
records each request and answers as Stripe's API would. Webhooks are signed with Stripe's own scheme (the
library's helper) and a test secret; forged, replayed, out-of-order and wrong-amount events are thrown at it."""

import json
import time
import urllib.parse

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.urls import reverse

from orders.models import Order
from payments.models import Invoice, Payment, WebhookEvent
from payments.stripe_checkout import StripeCheckout
from testkit.payments import (
    STRIPE_SECRET_KEY,
    STRIPE_WEBHOOK_SECRET,
    FakeStripeHTTP,
    payment_tasks_inline,
    post_stripe,
    stripe_event,
    stripe_session,
)


@pytest.fixture
def stripe_shop(settings, monkeypatch):
    settings.PAYMENT_PROVIDER = "stripe"
    settings.STRIPE_SECRET_KEY = STRIPE_SECRET_KEY
    settings.STRIPE_WEBHOOK_SECRET = STRIPE_WEBHOOK_SECRET
    settings.SHOP_SITE_URL = "https://shop.example"
    api = FakeStripeHTTP([(200, {})])
    monkeypatch.setattr(StripeCheckout, "http_client", api)
    return api


@pytest.fixture
def order(make_product, customer):
    mug = make_product(name="Blue mug", price="7.00")
    teapot = make_product(name="Teapot", price="20.50")
    from unittest.mock import patch

    from orders.services import place_order

    with patch("celery.app.task.Task.apply_async"):
        return place_order(customer=customer, quantities={mug.id: 2, teapot.id: 1})  # €34.50 + €4.90 = €39.40


def form(request):
    return dict(urllib.parse.parse_qsl(request["data"]))


@pytest.fixture
def paying(client, stripe_shop, order):
    """The shopper pressed "Pay": a Checkout Session exists at Stripe."""
    stripe_shop.answers = [(200, stripe_session(order=order))]
    response = client.post(reverse("payments:payment_start", args=[order.token]))
    assert response.status_code == 302 and response["Location"] == "https://checkout.stripe.com/c/pay/cs_test_a1"
    return Payment.objects.get(order=order)


def status_of(order):
    order.refresh_from_db()
    return order.status


# --- The API calls ------------------------------------------------------------------------------------------


def test_the_checkout_session_is_made_from_the_orders_lines_and_reference(stripe_shop, paying, order):
    [call] = stripe_shop.requests
    assert (call["method"], call["url"]) == ("post", "https://api.stripe.com/v1/checkout/sessions")
    assert call["headers"]["Authorization"] == f"Bearer {STRIPE_SECRET_KEY}"
    assert call["headers"]["Idempotency-Key"] == f"myshop-checkout-{paying.id}"
    sent = form(call)
    assert sent["mode"] == "payment" and sent["client_reference_id"] == str(order.id)
    assert sent["customer_email"] == "ada@example.com" and sent["locale"] == order.language == "en"
    lines = {
        (
            sent[f"line_items[{n}][price_data][product_data][name]"],
            sent[f"line_items[{n}][price_data][unit_amount]"],
            sent[f"line_items[{n}][quantity]"],
            sent[f"line_items[{n}][price_data][currency]"],
        )
        for n in range(3)
    }
    assert lines == {("Blue mug", "700", "2", "eur"), ("Teapot", "2050", "1", "eur"), ("Shipping", "490", "1", "eur")}
    return_url = f"https://shop.example{reverse('payments:payment_return', args=[order.token])}"
    assert sent["success_url"] == return_url + "?ref={CHECKOUT_SESSION_ID}"
    assert sent["cancel_url"] == return_url + "?cancelled=1"
    assert 31 * 60 - 5 <= int(sent["expires_at"]) - time.time() <= 31 * 60 + 5  # Stripe's minimum, and a margin
    assert sent["metadata[order_id]"] == str(order.id) and sent["metadata[payment_id]"] == str(paying.id)
    assert (paying.reference, paying.state) == ("cs_test_a1", "open")


def test_pressing_pay_again_reuses_the_open_session(client, stripe_shop, paying, order):
    again = client.post(reverse("payments:payment_start", args=[order.token]))
    assert again["Location"] == "https://checkout.stripe.com/c/pay/cs_test_a1" and len(stripe_shop.requests) == 1


def test_stripe_refusing_the_session_keeps_the_order_and_tells_the_shopper(client, stripe_shop, order):
    stripe_shop.answers = [(400, {"error": {"type": "invalid_request_error", "message": "No such currency"}})]
    page = client.post(reverse("payments:payment_start", args=[order.token]), follow=True)
    assert page.status_code == 200 and "The payment service is not answering right now" in page.content.decode()
    assert status_of(order) == "pending" and Payment.objects.get().state == "failed"
    stripe_shop.answers = [(200, stripe_session(order=order, session_id="cs_test_b2"))]
    assert client.post(reverse("payments:payment_start", args=[order.token]))["Location"].startswith("https://")


def test_a_return_before_the_webhook_asks_stripe_and_settles(client, stripe_shop, paying, order):
    url = reverse("payments:payment_return", args=[order.token])
    stripe_shop.answers = [(200, stripe_session(order=order, status="open"))]
    assert "Checking your payment" in client.get(url, {"ref": "cs_test_a1"}).content.decode()
    assert stripe_shop.requests[-1]["method"] == "get"
    assert stripe_shop.requests[-1]["url"] == "https://api.stripe.com/v1/checkout/sessions/cs_test_a1"
    assert status_of(order) == "pending"

    from django.core.cache import cache

    cache.clear()  # a few seconds later
    stripe_shop.answers = [(200, stripe_session(order=order, status="complete", payment_status="paid"))]
    assert "Paid." in client.get(url, {"ref": "cs_test_a1"}).content.decode()
    assert status_of(order) == "paid" and Payment.objects.get().provider_payment_id == "pi_test_1"


def test_the_return_url_alone_marks_nothing_paid(client, stripe_shop, paying, order):
    stripe_shop.answers = [(200, stripe_session(order=order, status="open"))]  # Stripe: not paid
    for query in ({"ref": "cs_test_a1"}, {"ref": "cs_test_a1", "payment_status": "paid"}, {"paid": "1"}):
        client.get(reverse("payments:payment_return", args=[order.token]), query)
    assert status_of(order) == "pending" and not Invoice.objects.exists()


def test_a_refund_goes_through_stripe_by_payment_intent_once(admin_client, stripe_shop, paying, order, client):
    post_stripe(client, stripe_event("checkout.session.completed", stripe_session(order=order, payment_status="paid")))
    stripe_shop.requests.clear()
    stripe_shop.answers = [(200, {"id": "re_test_1", "object": "refund", "status": "succeeded"})]
    response = admin_client.post(
        reverse("admin:orders_order_changelist"),
        {"action": "refund_and_cancel", "_selected_action": [order.id]},
        follow=True,
    )
    assert "refunded €39.40 through stripe" in response.content.decode()
    [call] = stripe_shop.requests
    assert call["url"] == "https://api.stripe.com/v1/refunds" and form(call)["payment_intent"] == "pi_test_1"
    assert call["headers"]["Idempotency-Key"] == f"myshop-refund-{paying.id}"
    refunded = Payment.objects.get()
    assert (refunded.state, refunded.refund_reference, refunded.refunded_by) == ("refunded", "re_test_1", "admin")
    assert status_of(order) == "cancelled"


def test_expiry_expires_the_session_at_stripe(
    stripe_shop, paying, order, django_capture_on_commit_callbacks, monkeypatch
):
    from payments.services import expire_unpaid_orders

    payment_tasks_inline(monkeypatch)
    Order.objects.filter(id=order.id).update(created=order.created.replace(year=order.created.year - 1))
    stripe_shop.requests.clear()
    stripe_shop.answers = [
        (200, stripe_session(order=order, status="open")),  # the check first: not paid
        (200, stripe_session(order=order, status="expired")),
    ]
    with django_capture_on_commit_callbacks(execute=True):
        assert expire_unpaid_orders() == [order.id]
    assert [(call["method"], call["url"]) for call in stripe_shop.requests] == [
        ("get", "https://api.stripe.com/v1/checkout/sessions/cs_test_a1"),
        ("post", "https://api.stripe.com/v1/checkout/sessions/cs_test_a1/expire"),
    ]


def test_an_operator_cancelling_the_order_expires_the_session_at_stripe(
    stripe_shop, paying, order, admin_client, django_capture_on_commit_callbacks, monkeypatch
):
    payment_tasks_inline(monkeypatch)
    stripe_shop.requests.clear()
    stripe_shop.answers = [(200, stripe_session(order=order, status="expired"))]
    with django_capture_on_commit_callbacks(execute=True):
        answer = admin_client.post(
            reverse("admin:orders_order_act", args=[order.id]), {"action": "cancel", "confirmed": "yes"}
        )
    assert answer.status_code == 302 and status_of(order) == "cancelled"
    assert [(call["method"], call["url"]) for call in stripe_shop.requests] == [
        ("post", "https://api.stripe.com/v1/checkout/sessions/cs_test_a1/expire"),
    ]
    assert Payment.objects.get(order=order).state == "expired"


# --- Webhooks ------------------------------------------------------------------------------------------------


def test_a_signed_completed_event_pays_the_order_once(client, stripe_shop, paying, order):
    event = stripe_event("checkout.session.completed", stripe_session(order=order, payment_status="paid"))
    response = post_stripe(client, event)
    assert response.status_code == 200
    assert response.json()["outcome"] == f"payment {paying.id} succeeded, order {order.id} paid"
    assert status_of(order) == "paid" and Invoice.objects.filter(order=order).count() == 1
    assert not stripe_shop.requests[1:]  # the webhook is believed as it is: no call back to Stripe


@pytest.mark.parametrize(
    "forgery", ["another secret", "tampered body", "no header", "unknown scheme", "replayed later"]
)
def test_a_forged_or_replayed_webhook_gets_400_and_changes_nothing(client, stripe_shop, paying, order, forgery):
    event = stripe_event("checkout.session.completed", stripe_session(order=order, payment_status="paid"))
    body = json.dumps(event)
    import stripe

    kwargs = {
        "another secret": {"secret": "whsec_someone_else"},
        "tampered body": {
            "body": body.replace('"amount_total": 3940', '"amount_total": 3941'),
            "signature": stripe.WebhookSignature.generate_signature_header(body, STRIPE_WEBHOOK_SECRET),
        },
        "no header": {"signature": ""},
        "unknown scheme": {"signature": f"t={int(time.time())},v0=abc"},
        "replayed later": {"timestamp": int(time.time()) - 600},  # a captured request sent again 10 minutes on
    }[forgery]
    assert post_stripe(client, event, **kwargs).status_code == 400
    assert status_of(order) == "pending" and not WebhookEvent.objects.exists() and not Invoice.objects.exists()


def test_the_webhook_is_closed_without_a_signing_secret(client, stripe_shop, paying, order, settings):
    settings.STRIPE_WEBHOOK_SECRET = ""
    event = stripe_event("checkout.session.completed", stripe_session(order=order, payment_status="paid"))
    assert post_stripe(client, event, secret="").status_code == 404
    assert status_of(order) == "pending"


def test_the_same_event_delivered_twice_is_acted_on_once(client, stripe_shop, paying, order):
    event = stripe_event("checkout.session.completed", stripe_session(order=order, payment_status="paid"))
    assert post_stripe(client, event).status_code == 200
    assert post_stripe(client, event).json()["outcome"] == "duplicate"  # Stripe retries until it gets a 2xx
    assert Invoice.objects.count() == 1 and WebhookEvent.objects.count() == 1


def test_events_out_of_order_never_undo_a_payment(client, stripe_shop, paying, order):
    paid = stripe_session(order=order, payment_status="paid", status="complete")
    post_stripe(client, stripe_event("checkout.session.async_payment_succeeded", paid))
    post_stripe(client, stripe_event("checkout.session.completed", stripe_session(order=order, status="complete")))
    post_stripe(client, stripe_event("checkout.session.async_payment_failed", paid))
    post_stripe(client, stripe_event("checkout.session.expired", stripe_session(order=order, status="expired")))
    assert Payment.objects.get().state == "succeeded" and status_of(order) == "paid"
    assert Invoice.objects.count() == 1


def test_a_slow_payment_method_pays_when_its_success_arrives(client, stripe_shop, paying, order):
    post_stripe(client, stripe_event("checkout.session.completed", stripe_session(order=order, status="complete")))
    assert status_of(order) == "pending" and Payment.objects.get().state == "open"  # bank debit on its way
    post_stripe(
        client,
        stripe_event(
            "checkout.session.async_payment_succeeded",
            stripe_session(order=order, status="complete", payment_status="paid"),
        ),
    )
    assert status_of(order) == "paid"


def test_a_failed_slow_payment_lets_the_shopper_pay_again(client, stripe_shop, paying, order):
    post_stripe(client, stripe_event("checkout.session.async_payment_failed", stripe_session(order=order)))
    assert Payment.objects.get().state == "failed"
    assert "Your payment was declined" in client.get(order.get_absolute_url()).content.decode()


@pytest.mark.parametrize("amount, currency", [(3939, "eur"), (394000, "eur"), (3940, "usd")])
def test_a_wrong_amount_or_currency_never_pays_the_order(client, stripe_shop, paying, order, amount, currency):
    session = stripe_session(order=order, payment_status="paid", amount=amount, currency=currency)
    assert post_stripe(client, stripe_event("checkout.session.completed", session)).status_code == 200
    assert Payment.objects.get().problem == "mismatch" and status_of(order) == "pending"
    assert not Invoice.objects.exists()


def test_other_event_types_are_recorded_and_ignored(client, stripe_shop, paying, order):
    response = post_stripe(
        client, {"id": "evt_other", "object": "event", "type": "charge.succeeded", "data": {"object": {"id": "ch_1"}}}
    )
    assert response.status_code == 200 and response.json()["outcome"].startswith("ignored")
    assert status_of(order) == "pending"


def test_a_signed_event_stripe_never_made_for_this_shop_is_ignored(client, stripe_shop, paying, order):
    session = stripe_session(order=order, session_id="cs_test_someone_else", payment_status="paid")
    assert (
        post_stripe(client, stripe_event("checkout.session.completed", session)).json()["outcome"]
        == "ignored: no such checkout"
    )
    assert status_of(order) == "pending"


def test_a_signed_but_malformed_event_gets_400(client, stripe_shop, paying):
    assert post_stripe(client, {}, body='{"type": "checkout.session.completed"}').status_code == 400
    assert post_stripe(client, {}, body="{not json").status_code == 400


# --- Configuration -------------------------------------------------------------------------------------------


def test_stripe_without_its_keys_is_a_configuration_error(settings):
    settings.PAYMENT_PROVIDER = "stripe"
    settings.STRIPE_SECRET_KEY = ""
    settings.STRIPE_WEBHOOK_SECRET = ""
    with pytest.raises(SystemCheckError, match="payments.E001"):
        call_command("check")


def test_the_pay_form_may_post_on_to_stripe_under_the_content_security_policy():
    import subprocess
    import sys
    from pathlib import Path

    code = "from django.conf import settings; import django; django.setup(); print(settings.SECURE_CSP['form-action'])"
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "myshop.settings",
        "SECRET_KEY": "x" * 50,
        "PAYMENT_PROVIDER": "stripe",
    }
    output = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "https://checkout.stripe.com" in output


def test_calls_to_stripe_are_bounded_in_time(settings, monkeypatch):
    settings.STRIPE_SECRET_KEY = STRIPE_SECRET_KEY
    monkeypatch.setattr(StripeCheckout, "http_client", None)
    client = StripeCheckout().client()
    http = client._requestor._client
    assert http._timeout == (3.05, 10)  # not the library's 80 s: a shopper's request waits on it
