from django.conf import settings
from django.db import models
from django.db.models.functions import Now
from django.utils.translation import gettext_lazy as _

from orders.countries import default_country, known_countries
from orders.models import OrderEmail


class AccountEmail(models.Model):
    """An email allauth asked to send (a verification, a reset link, "you already have an account"): the
    account outbox (accounts/outbox.py, docs/decisions/account-email-outbox.md).

    It holds no secret: the worker makes the verification key and the reset token again when it sends.
    """

    State = OrderEmail.State  # the same life as an order's email, so the same words in the admin and logs

    # allauth's template, without its folder: "email_confirmation_signup", "password_reset_key", ...
    kind = models.CharField(_("kind"), max_length=50)
    to = models.EmailField(_("to"))
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, verbose_name=_("user")
    )
    # The address a verification email confirms (allauth's EmailAddress).
    email_address = models.ForeignKey(
        "account.EmailAddress", null=True, blank=True, on_delete=models.CASCADE, verbose_name=_("email address")
    )
    state = models.CharField(_("state"), max_length=20, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)  # counted when an attempt starts
    # Every time below is the database's clock, as in the order outbox.
    created = models.DateTimeField(_("created"), db_default=Now())
    queued_at = models.DateTimeField(_("queued at"), null=True, blank=True)
    due_at = models.DateTimeField(_("due at"), db_default=Now())
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)
    claim_expires_at = models.DateTimeField(_("claim expires at"), null=True, blank=True)
    claimed_by = models.CharField(_("claimed by"), max_length=200, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    # The language the shopper was reading in when they asked: the worker writes the email in it.
    language = models.CharField(_("language"), max_length=10, default="en", db_default="en")

    class Meta:
        verbose_name = _("account email")
        verbose_name_plural = _("account emails")
        ordering = ["id"]
        indexes = [models.Index(fields=["state", "due_at"], name="accountemail_sweep_idx")]

    def __str__(self):
        return f"{self.kind} email {self.id}: {self.get_state_display()}"


class Address(models.Model):
    """A delivery address a customer saved, offered at checkout; the fields are the order's own."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, related_name="addresses", on_delete=models.CASCADE, verbose_name=_("user")
    )
    first_name = models.CharField(_("first name"), max_length=50)
    last_name = models.CharField(_("last name"), max_length=50)
    address = models.CharField(_("street and number"), max_length=250)
    address_line2 = models.CharField(_("address line 2"), max_length=250, blank=True)
    postal_code = models.CharField(_("postal code"), max_length=20)
    city = models.CharField(_("city"), max_length=100)
    country = models.CharField(
        _("country"), max_length=2, choices=known_countries, default=default_country
    )  # ISO 3166-1
    phone = models.CharField(_("phone"), max_length=30, blank=True)
    is_default = models.BooleanField(_("default address"), default=False)

    class Meta:
        verbose_name = _("address")
        verbose_name_plural = _("addresses")
        ordering = ["-is_default", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user"], condition=models.Q(is_default=True), name="address_one_default_per_user"
            )
        ]

    def __str__(self):
        return f"{self.first_name} {self.last_name}, {self.address}, {self.postal_code} {self.city}"
