from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Customer accounts on django-allauth: order history, reorder, saved addresses; account emails through
    the worker (accounts/outbox.py)."""

    name = "accounts"

    def ready(self):
        from orders import pages

        from . import addresses, tasks  # noqa: F401  (tasks: the account email's task and its sweep)

        pages.add_checkout_initial(addresses.checkout_initial)
