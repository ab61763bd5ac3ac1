"""The words of the account emails (as the worker renders them) and pages: the shop's name and voice,
never allauth's defaults (a host:port, "Sign In", "Signup")."""

import re

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from testkit.accounts import PASSWORD, make_customer, published_account_emails, run_worker_on


@pytest.fixture
def send(db, django_capture_on_commit_callbacks):
    """Post to `path` with `client`, then run the worker on the account emails published: the one message sent."""

    def post(client, path, data):
        with published_account_emails() as published, django_capture_on_commit_callbacks(execute=True):
            client.post(path, data)
        run_worker_on(published)
        [message] = mail.outbox
        return message

    return post


def sign_up(client, email):
    return {"email": email, "password1": PASSWORD, "password2": PASSWORD}


def assert_in_the_shops_voice(message, settings):
    assert message.reply_to == [settings.SHOP_CONTACT_EMAIL]
    assert message.body.startswith("Hello,\n")
    assert message.body.rstrip().endswith(f"Thank you,\n{settings.SHOP_NAME}")
    assert settings.SHOP_NAME in message.body.split("\n\n", 2)[1]  # said in what happened, not just signed
    assert "127.0.0.1:8000" not in message.body.replace(settings.SHOP_SITE_URL + "/en/accounts/", "")
    for default in ("Hello from", "Thank you for using", "has given your email address", "You're receiving"):
        assert default not in message.body


@pytest.mark.parametrize(
    ("days", "said"), [(3, "works for 3 days"), (1, "works for 1 day")], ids=["default", "one-day"]
)
def test_the_sign_up_confirmation_names_the_shop_and_how_long_its_link_works(send, settings, days, said):
    settings.ACCOUNT_EMAIL_CONFIRMATION_EXPIRE_DAYS = days
    message = send(Client(), reverse("account_signup"), sign_up(Client(), "new@example.com"))
    assert message.subject == "myshop: confirm your email address"
    assert said in message.body
    assert "Thank you for creating an account at myshop with new@example.com." in message.body
    assert f"{settings.SHOP_SITE_URL}/en/accounts/confirm-email/" in message.body
    assert_in_the_shops_voice(message, settings)


def test_a_later_confirmation_says_the_address_is_to_be_added(send, settings):
    client = Client()
    client.force_login(make_customer("ada@example.com"))
    message = send(client, reverse("account_email"), {"action_add": "", "email": "ada.work@example.com"})
    assert message.to == ["ada.work@example.com"]
    assert message.subject == "myshop: confirm your email address"
    assert "add ada.work@example.com to an account at myshop" in message.body
    assert "works for 3 days" in message.body
    assert_in_the_shops_voice(message, settings)


@pytest.mark.parametrize(("timeout", "said"), [(259200, "3 days"), (3600, "1 hour")])
def test_the_reset_email_names_the_shop_and_how_long_its_link_works(send, settings, timeout, said):
    settings.PASSWORD_RESET_TIMEOUT = timeout
    make_customer("ada@example.com")
    message = send(Client(), reverse("account_reset_password"), {"email": "ada@example.com"})
    assert message.subject == "myshop: reset your password"
    assert f"works for {said} and only once" in message.body
    assert f"{settings.SHOP_SITE_URL}/en/accounts/password/reset/key/" in message.body
    assert_in_the_shops_voice(message, settings)


def test_a_reset_for_an_unknown_address_says_there_is_no_account_and_where_to_sign_up(send, settings):
    message = send(Client(), reverse("account_reset_password"), {"email": "nobody@example.com"})
    assert message.subject == "myshop: no account with this email address"
    assert "there is no account with this email address" in message.body
    assert f"{settings.SHOP_SITE_URL}/en/accounts/signup/" in message.body
    assert_in_the_shops_voice(message, settings)


def test_signing_up_again_says_the_account_exists_and_how_to_reset(send, settings):
    make_customer("ada@example.com")
    message = send(Client(), reverse("account_signup"), sign_up(Client(), "ada@example.com"))
    assert message.subject == "myshop: you already have an account"
    assert "you already have an account with this email address" in message.body
    assert f"{settings.SHOP_SITE_URL}/en/accounts/password/reset/\n" in message.body
    assert_in_the_shops_voice(message, settings)


ALLAUTHS_WORDS = re.compile(r"Sign In|Sign in|Signup|Sign Up|Sign Out|signed in|sign in")


@pytest.mark.parametrize(
    "name", ["account_login", "account_signup", "account_reset_password", "account_reset_password_done"]
)
def test_the_entrance_pages_say_log_in_and_sign_up_as_the_header_does(db, name):
    page = Client().get(reverse(name)).content.decode()
    assert not ALLAUTHS_WORDS.search(page), ALLAUTHS_WORDS.search(page)
    assert "Log in" in page


def test_the_email_and_password_pages_speak_the_shops_words(db):
    client = Client()
    client.force_login(make_customer("ada@example.com"))
    email = client.get(reverse("account_email")).content.decode()
    assert "<h1>Email addresses</h1>" in email and "Make primary" in email
    password = client.get(reverse("account_change_password")).content.decode()
    assert "New password (again)" in password
    again = client.get(reverse("account_reauthenticate")).content.decode()
    assert "<h1>Enter your password again</h1>" in again
    reset = client.get(reverse("account_reset_password")).content.decode()
    assert "You are already logged in as ada@example.com." in reset
    for page in (email, password, again, reset):
        assert not ALLAUTHS_WORDS.search(page)


def test_the_log_in_form_says_remember_me_in_sentence_case(db):
    page = Client().get(reverse("account_login")).content.decode()
    assert "Remember me" in page and "Remember Me" not in page


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("account_login", {"login": "ada@example.com", "password": "not the password"}),
        ("account_signup", {"email": "not an address", "password1": PASSWORD, "password2": "another"}),
        ("account_reset_password", {"email": ""}),
    ],
)
def test_a_refused_form_says_error_in_the_title_and_sums_up_the_errors(db, name, data):
    make_customer("ada@example.com")
    answer = Client().post(reverse(name), data)
    page = answer.content.decode()
    assert re.search(r"<title>Error: ", page)
    assert 'class="error-summary"' in page and 'id="error-summary-title"' in page


def test_the_confirm_email_page_names_the_address(send):
    from urllib.parse import urlsplit

    from testkit.accounts import links_in

    message = send(Client(), reverse("account_signup"), sign_up(Client(), "new@example.com"))
    [link] = [link for link in links_in(message) if "/confirm-email/" in link]
    page = Client().get(urlsplit(link).path).content.decode()
    assert "Confirm that new@example.com is your email address" in page


def test_a_bad_reset_link_says_so_in_the_title_and_heading_and_links_to_a_new_one(db):
    path = reverse("account_reset_password_from_key", kwargs={"uidb36": "zz", "key": "set-password"})
    page = Client().get(path, follow=True).content.decode()
    assert "<title>This reset link no longer works" in page
    assert "<h1>This reset link no longer works</h1>" in page
    assert f'href="{reverse("account_reset_password")}"' in page
