"""Checks that allauth is set up as the account outbox can send for it (accounts/emails.py)."""

from django.core.checks import Error, Tags, register

# allauth settings that make it ask for emails the worker cannot make again (a stored key, a code, a
# notification with the request's details), each with the value the shop needs.
REQUIRED = {
    "EMAIL_CONFIRMATION_HMAC": True,
    "EMAIL_VERIFICATION_BY_CODE_ENABLED": False,
    "PASSWORD_RESET_BY_CODE_ENABLED": False,
    "LOGIN_BY_CODE_ENABLED": False,
    "EMAIL_NOTIFICATIONS": False,
}


@register(Tags.compatibility)
def check_allauth_emails(app_configs, **kwargs):
    from allauth.account import app_settings

    return [
        Error(
            f"ACCOUNT_{name} must be {wanted}: the account outbox makes each email again in the worker and cannot "
            "make that one.",
            hint="See docs/decisions/account-email-outbox.md.",
            id="accounts.E001",
        )
        for name, wanted in REQUIRED.items()
        if getattr(app_settings, name) != wanted
    ]
