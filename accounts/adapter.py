"""allauth's adapter for the shop: its emails wait in the account outbox for the worker, never sent in the
request; the client's address for allauth's limits is the one the shop's own limits use."""

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.models import EmailAddress
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction

from core.after_response import after_response
from core.ratelimit import client_address

from . import outbox
from .emails import KINDS
from .tasks import send_account_email


def user_display(user):
    """How allauth names a customer ("Signed in as ..."): the address they log in with, not a username."""
    return user.email or user.get_username()


class ShopAccountAdapter(DefaultAccountAdapter):
    def send_mail(self, template_prefix, email, context):
        """Owe the email (a row in the request's transaction) and hand its id to the worker once committed.

        Only what names the recipient is kept: the key or link in `context` is made again by the worker."""
        kind = template_prefix.rsplit("/", 1)[-1]
        if kind not in KINDS:
            raise ImproperlyConfigured(f"allauth asked for a {kind!r} email, which the account outbox cannot send")
        user = context.get("user")
        user = user if getattr(user, "pk", None) else None
        email_address = None
        if KINDS[kind] == "email_address":
            email_address = EmailAddress.objects.filter(user=user, email__iexact=email).first()
        if KINDS[kind] and (user if KINDS[kind] == "user" else email_address) is None:
            raise ImproperlyConfigured(f"a {kind!r} email needs its {KINDS[kind]}")
        row = outbox.add(kind=kind, to=email, user=user, email_address=email_address)
        # Published once committed and once the page is sent; never raises (the sweep catches up).
        transaction.on_commit(lambda: after_response(lambda: send_account_email.delay(row.id)))

    def format_email_subject(self, subject):
        return f"{settings.SHOP_NAME}: {subject}"

    def get_client_ip(self, request):
        """The shop's client key (TRUSTED_PROXY_COUNT, IPv6 by /64); else allauth's answer, which refuses."""
        return client_address(request) or super().get_client_ip(request)
