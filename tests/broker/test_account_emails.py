"""Account emails through the real path: test client -> allauth -> the account outbox -> RabbitMQ -> a real
Celery worker -> email; each sent exactly once, also when its task is delivered again."""

from urllib.parse import urlsplit

import pytest
from allauth.account.models import EmailAddress
from celery.signals import task_postrun
from django.test import Client
from django.urls import reverse

from accounts.models import AccountEmail
from accounts.tasks import send_account_email
from orders.tasks import Delivery
from testkit.accounts import PASSWORD, links_in, make_customer
from testkit.waiting import wait_for

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def deliveries():
    """What each run of the account email task returned, by email id, as the worker ran them."""
    seen = {}

    def record(sender=None, args=(), retval=None, **kwargs):
        if sender is send_account_email or getattr(sender, "name", "") == send_account_email.name:
            seen.setdefault(args[0], []).append(retval)

    task_postrun.connect(record, weak=False, dispatch_uid="test-account-deliveries")
    yield seen
    task_postrun.disconnect(dispatch_uid="test-account-deliveries")


def delivered_again(email_id, deliveries, times=2):
    """Publish the email's task `times` more (a redelivery, a second sweep); wait until the worker ran them."""
    for _ in range(times):
        assert send_account_email.delay(email_id) is not None
    wait_for(lambda: len(deliveries.get(email_id, [])) == 1 + times, what="the worker to run every delivery")
    return deliveries[email_id]


def test_the_verification_email_is_sent_once_by_the_worker_also_when_delivered_again(worker_outbox, deliveries):
    client = Client()
    signed_up = client.post(
        reverse("account_signup"), {"email": "new@example.com", "password1": PASSWORD, "password2": PASSWORD}
    )
    assert signed_up.status_code == 302
    row = AccountEmail.objects.get()
    wait_for(lambda: len(worker_outbox) == 1, what="the worker to send the verification")
    assert delivered_again(row.id, deliveries) == [Delivery.SENT, Delivery.ALREADY_DONE, Delivery.ALREADY_DONE]
    assert len(worker_outbox) == 1
    [message] = worker_outbox
    assert message.to == ["new@example.com"]
    [link] = [link for link in links_in(message) if "/confirm-email/" in link]
    assert Client().post(urlsplit(link).path).status_code == 302
    assert EmailAddress.objects.get(email="new@example.com").verified
    row.refresh_from_db()
    assert (row.state, row.attempts) == ("sent", 1)


def test_the_reset_email_is_sent_once_by_the_worker_also_when_delivered_again(worker_outbox, deliveries):
    make_customer("ada@example.com")
    assert Client().post(reverse("account_reset_password"), {"email": "ada@example.com"}).status_code == 302
    row = AccountEmail.objects.get()
    wait_for(lambda: len(worker_outbox) == 1, what="the worker to send the reset link")
    assert delivered_again(row.id, deliveries) == [Delivery.SENT, Delivery.ALREADY_DONE, Delivery.ALREADY_DONE]
    assert len(worker_outbox) == 1
    [link] = [link for link in links_in(worker_outbox[0]) if "/password/reset/key/" in link]
    client = Client()
    form = client.get(urlsplit(link).path, follow=True)
    new = "another long password 77"
    assert client.post(form.redirect_chain[-1][0], {"password1": new, "password2": new}).status_code == 302
    assert Client().post(reverse("account_login"), {"login": "ada@example.com", "password": new}).status_code == 302
