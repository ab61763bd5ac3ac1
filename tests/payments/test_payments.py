"""Taking payment with the offline provider: the thank-you page leads to it, the provider's page decides, and
only the provider's signed webhook (or its answer to a check) moves the order: never the shopper's return.
Webhook faults: bad signatures, resent events, events out of order, wrong amounts, late and second payments."""

import json
import re
import threading
import time
from datetime import UTC, datetime
from unittest.mock import patch

import pytest
from django.core.cache import cache
from django.db import connections
from django.test import Client, TestCase
from django.urls import reverse

from orders.models import Order, OrderEmail
from payments import offline, services
from payments.models import Invoice, OfflineCheckout, Payment, WebhookEvent
from testkit.payments import approve_offline, offline_event, offline_status, payment, place, post_offline, started


@pytest.fixture(autouse=True)
def fresh_cache():
    cache.clear()  # the return page asks the provider at most every few seconds per checkout
    yield


@pytest.fixture
def order(make_product, customer):
    return place(make_product, customer)  # 2 teapots at €20.50: €41.00 + €4.90 shipping = €45.90


def thank_you_page(client, order):
    session = client.session
    session["last_order_token"] = {"token": str(order.token), "at": datetime.now().timestamp()}
    session.save()
    return client.get(reverse("orders:thank_you"))


def state_of(order):
    order.refresh_from_db()
    return order.status


# --- The way to pay -----------------------------------------------------------------------------------------


def test_the_thank_you_page_and_the_status_page_lead_to_payment(client, order):
    pay = reverse("payments:payment_start", args=[order.token])
    for page in (thank_you_page(client, order), client.get(order.get_absolute_url())):
        html = page.content.decode()
        assert f'action="{pay}"' in html and "Pay €45.90 now" in html


@pytest.mark.parametrize("timeout", [1800, 0])
def test_the_summary_of_a_new_order_is_what_the_database_would_say(order, settings, timeout):
    """The checkout's thank-you page takes it without a query: it must say what summarise reads."""
    settings.PAYMENT_TIMEOUT = timeout
    new, read = services.summarise_new(order), services.summarise(order)
    assert (new.stage, new.reason, new.payment, new.invoice, new.refunds, new.late) == (
        read.stage,
        read.reason,
        read.payment,
        read.invoice,
        read.refunds,
        read.late,
    )


def test_paying_sends_the_shopper_to_the_providers_page_and_again_to_the_same_checkout(client, order):
    first = client.post(reverse("payments:payment_start", args=[order.token]))
    checkout = OfflineCheckout.objects.get()
    assert first.status_code == 302 and first["Location"] == reverse("payments:offline_checkout", args=[checkout.id])
    assert checkout.amount_minor == 4590 and checkout.currency == "EUR"
    again = client.post(reverse("payments:payment_start", args=[order.token]))
    assert again["Location"] == first["Location"]  # one open checkout per order: it cannot be paid twice
    assert Payment.objects.count() == 1
    page = client.get(first["Location"])
    assert "€45.90" in page.content.decode() and "Approve payment" in page.content.decode()


def test_a_double_clicked_pay_button_sends_both_clicks_to_the_same_checkout(order):
    # The first click's checkout is being started at the provider when the second click arrives.
    first = Payment.objects.create(order=order, provider="offline", amount=order.total, currency="EUR")

    def provider_answers(seconds):  # while the second click waits, the first gets its page
        Payment.objects.filter(id=first.id).update(reference="ofc_first", redirect_url="/payments/offline/ofc_first/")

    with patch("payments.services.time.sleep", side_effect=provider_answers):
        assert started(order).id == first.id
    assert Payment.objects.filter(order=order).count() == 1 and not OfflineCheckout.objects.exists()


def test_a_checkout_whose_start_never_finished_is_replaced(order):
    Payment.objects.create(
        order=order, provider="offline", amount=order.total, currency="EUR", created=datetime(2020, 1, 1, tzinfo=UTC)
    )  # its process was killed
    paying = started(order)
    assert paying.redirect_url and Payment.objects.filter(order=order, state="failed").count() == 1


def test_paying_is_a_post(client, order):
    assert client.get(reverse("payments:payment_start", args=[order.token])).status_code == 405
    assert not Payment.objects.exists()


def test_approving_marks_nothing_paid_until_the_providers_webhook_arrives(client, order, settings):
    settings.PAYMENT_OFFLINE_CONFIRM_SECONDS = 60
    paying = started(order)
    response, event = approve_offline(client, paying)
    assert response.status_code == 302 and response["Location"].endswith(
        f"{reverse('payments:payment_return', args=[order.token])}?ref={paying.reference}"
    )

    back = client.get(response["Location"])  # the shopper is back before the webhook
    assert "Checking your payment" in back.content.decode()
    assert state_of(order) == "pending" and payment(paying.id).state == "open" and not Invoice.objects.exists()

    assert post_offline(client, event).status_code == 200
    assert state_of(order) == "paid" and payment(paying.id).state == "succeeded"
    assert Invoice.objects.get(order=order).sequence == 1
    assert OrderEmail.objects.filter(order=order, kind="invoice", state="pending").exists()
    assert "Paid." in client.get(response["Location"]).content.decode()


def test_the_provider_sends_its_webhook_later_from_the_worker(client, order, settings):
    settings.PAYMENT_OFFLINE_CONFIRM_SECONDS = 7
    paying = started(order)
    with (
        patch("payments.tasks.deliver_offline_event.apply_async") as send,
        TestCase.captureOnCommitCallbacks(execute=True),
    ):
        client.post(reverse("payments:offline_checkout", args=[paying.reference]), {"decision": "approve"})
    ((event,),) = send.call_args.args
    assert send.call_args.kwargs == {"countdown": 7}
    assert event["type"] == "checkout.approved" and event["checkout"]["id"] == paying.reference


def test_a_return_before_the_webhook_settles_by_asking_the_provider_once_it_has_confirmed(client, order, settings):
    paying = started(order)
    settings.PAYMENT_OFFLINE_CONFIRM_SECONDS = 3600
    approve_offline(client, paying)  # its webhook is lost, say
    url = f"{reverse('payments:payment_return', args=[order.token])}?ref={paying.reference}"
    assert "Checking your payment" in client.get(url).content.decode()
    assert client.get(reverse("payments:payment_state", args=[order.token]), {"ref": paying.reference}).json() == {
        "stage": "confirming"
    }
    assert state_of(order) == "pending"

    settings.PAYMENT_OFFLINE_CONFIRM_SECONDS = 0  # the provider has confirmed by now
    cache.clear()  # and a few seconds have passed since the last check
    assert client.get(reverse("payments:payment_state", args=[order.token]), {"ref": paying.reference}).json() == {
        "stage": "paid"
    }
    assert state_of(order) == "paid" and Invoice.objects.filter(order=order).count() == 1


def test_a_return_naming_someone_elses_checkout_shows_and_checks_nothing(client, order, make_product, customer):
    other = place(make_product, customer)
    theirs = started(other)
    page = client.get(reverse("payments:payment_return", args=[order.token]), {"ref": theirs.reference})
    assert "Checking your payment" not in page.content.decode() and "Pay €45.90 now" in page.content.decode()


def test_a_decline_is_reported_and_the_shopper_can_pay_again(client, order):
    paying = started(order)
    _, event = approve_offline(client, paying, decision="decline")
    assert post_offline(client, event).status_code == 200
    assert payment(paying.id).state == "failed" and state_of(order) == "pending"
    page = client.get(order.get_absolute_url()).content.decode()
    # An alert (announced, styled like the error summary) with the next step, and the button to take it.
    assert re.search(r'<div class="alert-box[^"]*" role="alert"[^>]*>\s*<h3[^>]*>Your payment was declined</h3>', page)
    assert "try again" in page and "Try again: pay €45.90 now" in page
    again = client.post(reverse("payments:payment_start", args=[order.token]))
    assert Payment.objects.filter(order=order).count() == 2 and paying.reference not in again["Location"]


def test_the_providers_page_takes_one_decision_only(client, order):
    paying = started(order)
    approve_offline(client, paying)
    response, event = approve_offline(client, paying)
    assert event is None and response.status_code == 302  # already decided: nothing sent again
    _, event = approve_offline(client, paying, decision="decline")
    assert event is None and offline_status(paying) == "approved"
    assert (
        client.post(reverse("payments:offline_checkout", args=[paying.reference]), {"decision": "maybe"}).status_code
        == 400
    )


def test_approving_with_the_broker_down_answers_the_shopper_and_the_shop_learns_by_asking(client, order, settings):
    paying = started(order)
    settings.PAYMENT_OFFLINE_CONFIRM_SECONDS = 0
    with (
        patch("payments.tasks.deliver_offline_event.apply_async", side_effect=OSError("broker down")),
        TestCase.captureOnCommitCallbacks(execute=True),
    ):
        response = client.post(reverse("payments:offline_checkout", args=[paying.reference]), {"decision": "approve"})
    assert response.status_code == 302
    assert client.get(response["Location"]).status_code == 200
    assert state_of(order) == "paid"  # the return page asked the provider


# --- Webhook faults -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "forgery", ["wrong secret", "tampered body", "no signature", "garbage signature", "too old", "not utf-8"]
)
def test_a_webhook_that_does_not_verify_gets_400_and_changes_nothing(client, order, forgery):
    paying = started(order)
    event = offline_event(paying)
    body = json.dumps(event)
    kwargs = {
        "wrong secret": {"secret": "not-the-shops-secret"},
        "tampered body": {"body": body.replace(str(event["checkout"]["amount"]), "1"), "signature": offline.sign(body)},
        "no signature": {"signature": ""},
        "garbage signature": {"signature": "t=abc,v1"},
        "too old": {"timestamp": int(time.time()) - 3600},
        "not utf-8": {"body": b"\xff\xfe" + body.encode()},
    }[forgery]
    response = post_offline(client, event, **kwargs)
    assert response.status_code == 400
    assert state_of(order) == "pending" and payment(paying.id).state == "open"
    assert not WebhookEvent.objects.exists() and not Invoice.objects.exists()


def test_a_signed_but_unreadable_webhook_gets_400(client, order):
    assert post_offline(client, {}, body='{"id": "evt_1"}').status_code == 400
    assert post_offline(client, {}, body="not json").status_code == 400
    assert not WebhookEvent.objects.exists()


def test_the_same_event_twice_gives_one_payment_and_one_invoice(client, order):
    paying = started(order)
    event = offline_event(paying)
    first, second = post_offline(client, event), post_offline(client, event)
    assert first.json()["outcome"].endswith(f"order {order.id} paid") and second.json()["outcome"] == "duplicate"
    assert Invoice.objects.filter(order=order).count() == 1
    assert OrderEmail.objects.filter(order=order, kind="invoice").count() == 1
    assert WebhookEvent.objects.filter(event_id=event["id"]).count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_same_event_delivered_twice_at_once_is_acted_on_once(make_product, customer):
    order = place(make_product, customer)
    paying = started(order)
    event = offline_event(paying)
    start, outcomes = threading.Barrier(2), []

    def deliver():
        try:
            start.wait(timeout=10)
            outcomes.append(post_offline(Client(), event).json()["outcome"])
        finally:
            connections.close_all()

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    with patch("celery.app.task.Task.apply_async"):  # once, here: see test_invoices' threads
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    assert sorted(outcomes) == sorted(["duplicate", f"payment {paying.id} succeeded, order {order.id} paid"])
    assert Invoice.objects.filter(order=order).count() == 1


def test_two_events_reporting_the_same_success_give_one_invoice(client, order):
    paying = started(order)
    post_offline(client, offline_event(paying))
    assert "ignored" in post_offline(client, offline_event(paying)).json()["outcome"]  # another id, same news
    assert Invoice.objects.filter(order=order).count() == 1 and state_of(order) == "paid"


def test_a_failure_or_expiry_reported_after_the_success_undoes_nothing(client, order):
    paying = started(order)
    post_offline(client, offline_event(paying, status="approved"))
    for late_news in ("declined", "expired"):
        assert "ignored" in post_offline(client, offline_event(paying, status=late_news)).json()["outcome"]
    assert payment(paying.id).state == "succeeded" and state_of(order) == "paid"


def test_a_success_reported_after_a_failure_is_believed(client, order):
    paying = started(order)
    post_offline(client, offline_event(paying, status="declined"))
    assert payment(paying.id).state == "failed"
    post_offline(client, offline_event(paying, status="approved"))  # the events crossed on the way
    assert payment(paying.id).state == "succeeded" and state_of(order) == "paid"


@pytest.mark.parametrize("amount, currency", [(4589, "EUR"), (459000, "EUR"), (4590, "USD"), (0, "EUR")])
def test_a_payment_of_the_wrong_amount_or_currency_never_pays_the_order_and_is_flagged(client, order, amount, currency):
    paying = started(order)
    assert post_offline(client, offline_event(paying, amount=amount, currency=currency)).status_code == 200
    flagged = payment(paying.id)
    assert (flagged.state, flagged.problem) == ("succeeded", "mismatch")
    assert state_of(order) == "pending" and not Invoice.objects.exists()


def test_an_event_about_an_unknown_checkout_is_recorded_and_ignored(client, order):
    paying = started(order)
    event = offline_event(paying)
    event["checkout"]["id"] = "ofc_nobody"
    assert post_offline(client, event).json()["outcome"] == "ignored: no such checkout"
    assert state_of(order) == "pending"


def test_a_second_payment_for_a_paid_order_is_flagged_for_the_operator(client, order):
    first = started(order)
    # A second checkout of the same order, opened in another tab say, and paid too.
    OfflineCheckout.objects.create(
        id="ofc_second", client_reference_id=str(order.id), amount_minor=4590, currency="EUR", return_url="/"
    )
    second = Payment.objects.create(
        order=order, provider="offline", reference="ofc_second", amount=order.total, currency="EUR", redirect_url="/y"
    )
    post_offline(client, offline_event(first))
    post_offline(client, offline_event(second))
    assert payment(second.id).problem == "duplicate" and payment(first.id).problem == ""
    assert Invoice.objects.filter(order=order).count() == 1


def test_the_offline_provider_is_closed_when_stripe_takes_the_payments(client, order, settings):
    paying = started(order)
    settings.PAYMENT_PROVIDER = "stripe"
    assert client.get(reverse("payments:offline_checkout", args=[paying.reference])).status_code == 404
    assert post_offline(client, offline_event(paying)).status_code == 404
    assert state_of(order) == "pending"


def test_an_order_that_is_paid_or_cancelled_cannot_be_paid_again(client, order):
    Order.objects.filter(id=order.id).update(status="cancelled")
    response = client.post(reverse("payments:payment_start", args=[order.token]), follow=True)
    assert "cancelled, so it cannot be paid" in response.content.decode() and not Payment.objects.exists()


def test_unknown_order_tokens_get_404(client, db):
    token = "00000000-0000-4000-8000-000000000000"
    for name in ("payment_return", "payment_state", "invoice_download"):
        assert client.get(reverse(f"payments:{name}", args=[token])).status_code == 404
    assert client.post(reverse("payments:payment_start", args=[token])).status_code == 404
