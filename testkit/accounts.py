"""Customers for the account tests: users with verified (or not) addresses, and the account emails the
worker would send, run in this process."""

import re
from contextlib import contextmanager
from unittest.mock import patch

from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model

from accounts.tasks import send_account_email

PASSWORD = "a long enough password 42"
LINK = re.compile(r"https?://\S+")


def make_customer(email="ada@example.com", *, verified=True, password=PASSWORD):
    """A user who logs in with `email`, its address verified or not."""
    user = get_user_model().objects.create_user(username=email, email=email, password=password)
    EmailAddress.objects.create(user=user, email=email, verified=verified, primary=True)
    return user


@contextmanager
def published_account_emails():
    """Collect the ids the web side publishes, instead of handing them to the broker."""
    published = []
    with patch.object(send_account_email, "delay", side_effect=lambda email_id: published.append(email_id) or email_id):
        yield published


def run_worker_on(published):
    """Run the account email task for each published id, in this process (as the worker would); the results.
    (Called, not applied: a failure raises Retry instead of running again at once.)"""
    results = []
    while published:
        results.append(send_account_email(published.pop(0)))
    return results


def links_in(message):
    return LINK.findall(message.body)
