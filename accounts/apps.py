from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    """Customer accounts on django-allauth: order history, reorder, saved addresses; account emails through
    the worker (accounts/outbox.py)."""

    name = "accounts"
    verbose_name = _("Customer accounts")  # not "Accounts": allauth's section (email addresses) has that name

    def ready(self):
        from orders import pages

        from . import addresses, checks, tasks  # noqa: F401  (checks registered; tasks: the email task and sweep)

        pages.add_checkout_initial(addresses.checkout_initial)
