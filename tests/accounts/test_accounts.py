"""Customer accounts: sign-up with verification, log-in, reset, enumeration, limits (allauth), and the
account outbox's once-only sending, in-process; the real worker is in tests/broker/test_account_emails.py."""

import re
from datetime import timedelta
from decimal import Decimal
from unittest.mock import patch
from urllib.parse import urlsplit

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.cache import cache
from django.db.models.functions import Now
from django.test import Client
from django.urls import reverse
from django.utils import translation

from accounts.models import AccountEmail
from accounts.tasks import send_account_email
from orders.tasks import Delivery
from testkit.accounts import PASSWORD, links_in, make_customer, published_account_emails, run_worker_on

SIGNUP = reverse("account_signup")
LOGIN = reverse("account_login")
RESET = reverse("account_reset_password")


@pytest.fixture
def send_on_commit(django_capture_on_commit_callbacks):
    """Requests whose commit publishes account emails: the ids published, to run the worker on."""

    class Sender:
        def __init__(self):
            self.published = []

        def post(self, client, path, data):
            with published_account_emails() as published, django_capture_on_commit_callbacks(execute=True):
                response = client.post(path, data)
            self.published.extend(published)
            return response

    return Sender()


@pytest.fixture
def rate_limits(settings):
    """allauth's limits on (the test settings switch them off), counted in a cache emptied before and after."""
    cache.clear()
    yield settings
    cache.clear()


def sign_up(sender, client, email, password=PASSWORD):
    return sender.post(client, SIGNUP, {"email": email, "password1": password, "password2": password})


def test_sign_up_verifies_the_address_by_an_email_the_worker_sends_then_logs_in(db, send_on_commit):
    client = Client()
    answer = sign_up(send_on_commit, client, "new@example.com")
    assert answer.status_code == 302 and answer["Location"] == reverse("account_email_verification_sent")
    # Nothing was sent in the request: the email is owed, its id published once committed.
    assert mail.outbox == []
    [row] = AccountEmail.objects.all()
    assert (row.kind, row.to, row.state) == ("email_confirmation_signup", "new@example.com", "pending")
    assert send_on_commit.published == [row.id]

    assert run_worker_on(send_on_commit.published) == [Delivery.SENT]
    [message] = mail.outbox
    assert message.to == ["new@example.com"] and message.subject.startswith("myshop: ")
    [link] = [link for link in links_in(message) if "/confirm-email/" in link]
    assert link.startswith(
        "http://127.0.0.1:8000/en/accounts/confirm-email/"
    )  # SHOP_SITE_URL: the worker has no request
    # Not logged in before the address is verified.
    assert Client().post(LOGIN, {"login": "new@example.com", "password": PASSWORD})["Location"] == reverse(
        "account_email_verification_sent"
    )

    confirmed = Client().post(urlsplit(link).path)
    assert confirmed.status_code == 302
    assert EmailAddress.objects.get(email="new@example.com").verified
    fresh = Client()
    logged_in = fresh.post(LOGIN, {"login": "new@example.com", "password": PASSWORD})
    assert logged_in["Location"] == reverse("accounts:orders")
    history = fresh.get(reverse("accounts:orders"))
    assert history.status_code == 200 and "You are logged in." in history.content.decode()


def test_an_account_email_keeps_no_secret_at_rest_and_is_sent_once_however_often_delivered(db, send_on_commit):
    make_customer("ada@example.com")
    send_on_commit.post(Client(), RESET, {"email": "ada@example.com"})
    [email_id] = send_on_commit.published
    row = AccountEmail.objects.get(id=email_id)
    values = [str(getattr(row, field.attname)) for field in AccountEmail._meta.fields]

    assert run_worker_on([email_id, email_id, email_id]) == [
        Delivery.SENT,
        Delivery.ALREADY_DONE,
        Delivery.ALREADY_DONE,
    ]
    [message] = mail.outbox
    [link] = [link for link in links_in(message) if "/password/reset/key/" in link]
    key = link.rstrip("/").rsplit("/", 1)[-1]
    assert not any(key in value or link in value for value in values)
    assert AccountEmail.objects.get(id=email_id).state == "sent"
    # The reset link works: a new password is accepted, and logs in.
    client = Client()
    form = client.get(urlsplit(link).path, follow=True)
    assert form.status_code == 200
    new = "another long password 77"
    done = client.post(form.redirect_chain[-1][0], {"password1": new, "password2": new})
    assert done.status_code == 302
    logged_in = Client().post(LOGIN, {"login": "ada@example.com", "password": new})
    assert logged_in["Location"] == reverse("accounts:orders")


def test_a_task_for_no_such_email_or_a_malformed_id_is_dropped(db):
    assert send_account_email(999999) == Delivery.MISSING
    assert send_account_email("1") == Delivery.MALFORMED
    assert mail.outbox == []


def test_a_publish_the_broker_refuses_leaves_the_email_due_for_the_sweep(db):
    from unittest.mock import patch

    from accounts.tasks import sweep_unsent_account_emails

    row = AccountEmail.objects.create(kind="unknown_account", to="x@example.com", due_at=Now() + timedelta(hours=1))
    with patch.object(send_account_email, "apply_async", side_effect=OSError("broker down")):
        assert send_account_email.delay(row.id) is None  # never raises: the request has committed already
    with published_account_emails() as published:
        assert sweep_unsent_account_emails() == 1
        assert sweep_unsent_account_emails() == 0  # published again once per requeue period, not every sweep
    assert published == [row.id]
    assert run_worker_on(published) == [Delivery.SENT]
    assert mail.outbox[0].to == ["x@example.com"]


# --- Nothing tells whether an account exists ----------------------------------------------------------


def test_sign_up_answers_the_same_for_a_known_and_an_unknown_address(db, send_on_commit):
    make_customer("ada@example.com")
    known = sign_up(send_on_commit, Client(), "ada@example.com")
    unknown = sign_up(send_on_commit, Client(), "bob@example.com")
    assert (known.status_code, known["Location"]) == (unknown.status_code, unknown["Location"])
    run_worker_on(send_on_commit.published)
    kinds = dict(AccountEmail.objects.values_list("to", "kind"))
    # The owner of the known address is told someone tried; the new one gets the verification.
    assert kinds == {"ada@example.com": "account_already_exists", "bob@example.com": "email_confirmation_signup"}
    assert len(mail.outbox) == 2
    assert get_user_model().objects.filter(email="ada@example.com").count() == 1


def test_sign_up_hashes_a_password_as_often_for_a_known_address_as_for_a_new_one(db, send_on_commit):
    """The time a sign-up takes is nearly all the password's hashing (PBKDF2: half a second here): one
    skipped for a known address would tell, by the clock, that it has an account."""
    from django.contrib.auth import base_user  # set_password hashes with the make_password it imported

    make_customer("ada@example.com")
    hashed = {}
    for address in ["ada@example.com", "bob@example.com"]:
        with patch.object(base_user, "make_password", wraps=base_user.make_password) as make_password:
            sign_up(send_on_commit, Client(), address)
        hashed[address] = make_password.call_count
    assert hashed["ada@example.com"] == hashed["bob@example.com"] == 1, hashed


def without_csrf_tokens(response):
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", response.content.decode())


def test_a_reset_answers_the_same_for_a_known_and_an_unknown_address(db, send_on_commit):
    make_customer("ada@example.com")
    known = send_on_commit.post(Client(), RESET, {"email": "ada@example.com"})
    unknown = send_on_commit.post(Client(), RESET, {"email": "nobody@example.com"})
    assert (known.status_code, known["Location"]) == (unknown.status_code, unknown["Location"])
    # The same page, but for the CSRF token each visitor's forms carry (the header's language switch is one).
    assert without_csrf_tokens(Client().get(known["Location"])) == without_csrf_tokens(
        Client().get(unknown["Location"])
    )
    run_worker_on(send_on_commit.published)
    kinds = dict(AccountEmail.objects.values_list("to", "kind"))
    assert kinds == {"ada@example.com": "password_reset_key", "nobody@example.com": "unknown_account"}


def test_a_wrong_password_says_the_same_for_a_known_and_an_unknown_address(db):
    make_customer("ada@example.com")
    known = Client().post(LOGIN, {"login": "ada@example.com", "password": "wrong password 1234"})
    unknown = Client().post(LOGIN, {"login": "nobody@example.com", "password": "wrong password 1234"})
    assert known.status_code == unknown.status_code == 200
    assert known.context["form"].errors == unknown.context["form"].errors


# --- Rate limits ----------------------------------------------------------------------------------------


def test_failed_log_ins_are_limited_per_address_and_log_ins_per_client(db, rate_limits):
    rate_limits.ACCOUNT_RATE_LIMITS = {"login_failed": "3/5m/key", "login": "6/m/ip"}
    make_customer("ada@example.com")
    wrong = {"login": "ada@example.com", "password": "wrong password 1234"}
    for _ in range(3):
        assert "Too many failed" not in Client().post(LOGIN, wrong).content.decode()
    # Now even the right password is refused for this address, without saying whether it was right.
    refused = Client().post(LOGIN, {"login": "ada@example.com", "password": PASSWORD})
    assert refused.status_code == 200 and "Too many failed login attempts" in refused.content.decode()
    assert "_auth_user_id" not in refused.wsgi_request.session
    # Any address: past the client's limit on log-in attempts, the answer is 429.
    answers = [Client().post(LOGIN, {"login": f"x{n}@example.com", "password": "x"}).status_code for n in range(3)]
    assert answers[-1] == 429 and answers[0] == 200


def test_sign_ups_are_limited_per_client(db, rate_limits, send_on_commit):
    rate_limits.ACCOUNT_RATE_LIMITS = {"signup": "2/m/ip"}
    answers = [sign_up(send_on_commit, Client(), f"new{n}@example.com") for n in range(3)]
    assert [answer.status_code for answer in answers] == [302, 302, 429]
    assert "Too many requests" in answers[-1].content.decode()  # the shop's own 429 page
    assert AccountEmail.objects.count() == 2


def test_reset_requests_are_limited_per_client(db, rate_limits, send_on_commit):
    rate_limits.ACCOUNT_RATE_LIMITS = {"reset_password": "2/m/ip"}
    answers = [send_on_commit.post(Client(), RESET, {"email": f"x{n}@example.com"}).status_code for n in range(3)]
    assert answers == [302, 302, 429]
    assert AccountEmail.objects.count() == 2


# --- Logging in and out, and the cart ------------------------------------------------------------------


def test_the_cart_survives_logging_in_and_log_out_is_a_post(db, make_product, session_store):
    product = make_product(price=Decimal("7.00"), stock=10)
    make_customer("ada@example.com")
    client = Client()
    client.post(reverse("cart:cart_add", args=[product.id]), {"quantity": 2})
    assert client.post(LOGIN, {"login": "ada@example.com", "password": PASSWORD}).status_code == 302
    page = client.get(reverse("cart:cart_detail")).content.decode()
    assert "2 items" in page and "Your account" in page and "Log out" in page

    client.get(reverse("account_logout"))  # a link cannot log anyone out
    assert client.get(reverse("accounts:orders")).status_code == 200
    assert client.post(reverse("account_logout")).status_code == 302
    assert client.get(reverse("accounts:orders"))["Location"].startswith(LOGIN)


def german(name, **kwargs):
    with translation.override("de"):
        return reverse(name, **kwargs)


def test_a_german_sign_up_is_confirmed_in_german_whatever_language_the_worker_runs_in(db, send_on_commit):
    password = PASSWORD
    send_on_commit.post(
        Client(), german("account_signup"), {"email": "neu@example.com", "password1": password, "password2": password}
    )
    assert AccountEmail.objects.get().language == "de"
    with translation.override("en"):  # not the shopper's: the row's language must win
        assert run_worker_on(send_on_commit.published) == [Delivery.SENT]
    [message] = mail.outbox
    assert message.subject == "myshop: Bestätigen Sie Ihre E-Mail-Adresse"
    assert message.body.startswith("Guten Tag,") and "der 3 Tage lang gilt" in message.body
    [link] = [link for link in links_in(message) if "/confirm-email/" in link]
    assert link.startswith("http://127.0.0.1:8000/de/accounts/confirm-email/")


def test_a_reset_asked_for_in_german_is_written_in_german_with_a_german_link(db, send_on_commit):
    make_customer("ada@example.com")
    send_on_commit.post(Client(), german("account_reset_password"), {"email": "ada@example.com"})
    with translation.override("en"):
        run_worker_on(send_on_commit.published)
    [message] = mail.outbox
    assert message.subject == "myshop: Setzen Sie Ihr Passwort zurück"
    assert "wählen Sie mit diesem Link ein neues Passwort" in message.body and "Vielen Dank," in message.body
    [link] = [link for link in links_in(message) if "/password/reset/key/" in link]
    assert link.startswith("http://127.0.0.1:8000/de/accounts/password/reset/key/")
