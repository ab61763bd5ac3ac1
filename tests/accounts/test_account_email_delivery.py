"""The worker's side of an account email, in-process: failures retried and counted like an order's, a
permanent refusal failed at once, a lost reply unconfirmed; beat runs the sweep; allauth set up to match."""

import smtplib
from unittest.mock import patch

import pytest
from celery.exceptions import Retry
from django.core import mail
from django.core.management import call_command
from django.utils import translation

from accounts import outbox
from accounts.models import AccountEmail
from accounts.tasks import send_account_email
from orders.mail import OutcomeUnknown, Sending
from orders.tasks import Delivery


@pytest.fixture
def email(db):
    return AccountEmail.objects.create(kind="unknown_account", to="x@example.com")


def test_a_refused_send_is_retried_with_the_attempt_counted(email):
    with patch.object(Sending, "send", side_effect=smtplib.SMTPServerDisconnected("gone")):
        with pytest.raises(Retry):
            send_account_email(email.id)
    email.refresh_from_db()
    assert (email.state, email.attempts, email.claim_expires_at) == ("pending", 1, None)
    assert "SMTPServerDisconnected" in email.last_error
    assert send_account_email(email.id) == Delivery.SENT and len(mail.outbox) == 1


def test_a_retried_email_keeps_the_language_it_was_asked_in(db):
    email = AccountEmail.objects.create(kind="unknown_account", to="x@example.com", language="de")
    with patch.object(Sending, "send", side_effect=smtplib.SMTPServerDisconnected("gone")):
        with pytest.raises(Retry):
            send_account_email(email.id)
    with translation.override("en"):  # the retry runs later, in a worker whose language is another
        assert send_account_email(email.id) == Delivery.SENT
    [message] = mail.outbox
    assert message.subject == "myshop: kein Konto mit dieser E-Mail-Adresse"
    assert "/de/accounts/signup/" in message.body


def test_an_email_is_owed_in_the_active_language_and_in_the_default_one_without(db):
    with translation.override("de-at"):
        assert outbox.add(kind="unknown_account", to="x@example.com").language == "de"
    with translation.override(None):
        assert outbox.add(kind="unknown_account", to="y@example.com").language == "en"


def test_a_permanent_refusal_fails_at_once(email):
    refused = smtplib.SMTPRecipientsRefused({"x@example.com": (550, b"no such user")})
    with patch.object(Sending, "send", side_effect=refused):
        assert send_account_email(email.id) == Delivery.FAILED
    assert AccountEmail.objects.get().state == "failed"
    assert send_account_email(email.id) == Delivery.ALREADY_DONE


def test_a_reply_lost_after_the_message_is_unconfirmed_and_not_sent_again(email):
    with patch.object(Sending, "send", side_effect=OutcomeUnknown("no answer to DATA")):
        assert send_account_email(email.id) == Delivery.UNCONFIRMED
    assert AccountEmail.objects.get().state == "unconfirmed"
    assert send_account_email(email.id) == Delivery.ALREADY_DONE and mail.outbox == []


def test_beat_runs_the_account_sweep_and_the_worker_knows_both_tasks(settings):
    from myshop.celery import app

    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "accounts.tasks.sweep_unsent_account_emails" in scheduled
    app.loader.import_default_modules()
    assert {"accounts.tasks.sweep_unsent_account_emails", "accounts.tasks.send_account_email"} <= set(app.tasks)


def test_allauth_asking_for_an_email_the_worker_cannot_make_fails_the_checks(settings):
    settings.ACCOUNT_EMAIL_CONFIRMATION_HMAC = False
    with pytest.raises(Exception, match="accounts.E001"):
        call_command("check")


def test_an_email_kind_the_worker_cannot_make_is_refused_not_sent_in_the_request(db):
    from django.core.exceptions import ImproperlyConfigured

    from accounts.adapter import ShopAccountAdapter

    with pytest.raises(ImproperlyConfigured, match="login_code"):
        ShopAccountAdapter().send_mail("account/email/login_code", "x@example.com", {"code": "123456"})
    assert not AccountEmail.objects.exists() and mail.outbox == []


def test_a_claim_refused_while_another_worker_held_it_does_not_fail_an_email_with_attempts_left(db):
    """The holder lets go between the refused UPDATE and the look at why: the email is claimable again, with
    attempts left, so it is claimed (the order outbox's rule), never given up."""
    from django.db.models import QuerySet

    from orders.outbox import Claimed, seconds_from_now

    email = AccountEmail.objects.create(
        kind="unknown_account",
        to="x@example.com",
        attempts=1,
        state="sending",
        claimed_by="A",
        claim_expires_at=seconds_from_now(60),
    )
    real_update = QuerySet.update
    refused = []

    def update(queryset, **values):
        changed = real_update(queryset, **values)
        if not refused:  # the claim's UPDATE, refused: A holds it; A now releases it after a failed try
            refused.append(changed)
            real_update(AccountEmail.objects.filter(id=email.id), state="pending", claim_expires_at=None)
        return changed

    with patch.object(QuerySet, "update", update):
        held = outbox.claim(email.id)
    email.refresh_from_db()
    assert refused == [0]
    assert (held.outcome, email.state, email.attempts) == (Claimed.TAKEN, "sending", 2), email.last_error
