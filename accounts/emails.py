"""An account email as the worker makes it: allauth's templates and `render_mail`, with the keys and links
made again here (nothing secret waits in the outbox) and addressed through SHOP_SITE_URL (no request here)."""

from datetime import timedelta
from types import SimpleNamespace
from urllib.parse import urlsplit

from allauth.account import app_settings as allauth_settings
from allauth.account.adapter import get_adapter
from allauth.account.models import EmailConfirmationHMAC
from allauth.account.utils import user_pk_to_url_str
from django.conf import settings
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.crypto import salted_hmac
from django.utils.timesince import timeuntil

from core.languages import spoken_language

CONFIRMATIONS = {"email_confirmation", "email_confirmation_signup"}
# Every kind the shop sends, and what its row must name. Others (login codes, notifications) are switched off.
KINDS = {
    "email_confirmation": "email_address",
    "email_confirmation_signup": "email_address",
    "password_reset_key": "user",
    "account_already_exists": None,
    "unknown_account": None,
}


def absolute(path):
    return settings.SHOP_SITE_URL.rstrip("/") + path


def lasting(seconds):
    """How long a link works, as an email says it: "3 days", "1 day, 12 hours"."""
    now = timezone.now()
    return timeuntil(now + timedelta(seconds=seconds), now).replace("\xa0", " ")


def context_for(email):
    """The template context of AccountEmail `email`, with its verification key or reset token made now."""
    context = {
        "email": email.to,
        "user": email.user,
        "current_site": SimpleNamespace(name=settings.SHOP_NAME, domain=urlsplit(settings.SHOP_SITE_URL).netloc),
        "shop_name": settings.SHOP_NAME,
    }
    if email.kind in CONFIRMATIONS:
        # allauth's HMAC key: the address's id, signed and timestamped; it expires counted from now.
        key = EmailConfirmationHMAC(email.email_address).key
        context.update(key=key, activate_url=absolute(reverse("account_confirm_email", args=[key])))
        context["user"] = email.email_address.user
        context["link_valid_for"] = lasting(allauth_settings.EMAIL_CONFIRMATION_EXPIRE_DAYS * 24 * 3600)
    elif email.kind == "password_reset_key":
        token = allauth_settings.PASSWORD_RESET_TOKEN_GENERATOR().make_token(email.user)
        uid = user_pk_to_url_str(email.user)
        path = reverse("account_reset_password_from_key", kwargs={"uidb36": uid, "key": token})
        context.update(uid=uid, key=token, password_reset_url=absolute(path))
        context["link_valid_for"] = lasting(settings.PASSWORD_RESET_TIMEOUT)  # Django's token generator's limit
    else:
        context.update(
            signup_url=absolute(reverse("account_signup")),
            password_reset_url=absolute(reverse("account_reset_password")),
        )
    return context


def message(email):
    """The message for AccountEmail `email`, in its language (its links too: /de/...), with one Message-ID
    for all its attempts, whichever process or language is active."""
    key = salted_hmac("accounts.emails.message-id", str(email.id)).hexdigest()[:24]
    headers = {"Message-ID": f"<account-{email.id}.{key}@{settings.EMAIL_MESSAGE_ID_DOMAIN}>"}
    with translation.override(spoken_language(email.language)):  # not a language removed since
        rendered = get_adapter().render_mail(
            f"account/email/{email.kind}", email.to, context_for(email), headers=headers
        )
    rendered.reply_to = [settings.SHOP_CONTACT_EMAIL]  # as the order emails: answers reach the shop
    return rendered
