"""Payments, the provider events already processed, invoices and their numbering, and the offline provider's
own records. Every state change goes through payments/services.py (payments) or payments/invoices.py."""

from datetime import datetime

from django.db import models
from django.db.models.functions import Now
from django.utils import formats, timezone
from django.utils.translation import gettext, pgettext
from django.utils.translation import gettext_lazy as _

from shop.money import format_money

# What operators call a payment by its provider (payments/providers.py): the offline provider stands in for
# card payments in development and tests.
PROVIDER_LABELS = {"stripe": _("Card payment"), "offline": _("Card payment (test provider)")}


class Payment(models.Model):
    """One attempt to take an order's money through a provider (one checkout session), and what came of it.

    Its state follows the provider's word only (a verified webhook, or a check with the provider), never the
    shopper's return to the shop; see services.TRANSITIONS for the moves that exist.
    """

    class State(models.TextChoices):
        OPEN = "open", _("Waiting for the shopper")
        SUCCEEDED = "succeeded", _("Paid")
        FAILED = "failed", _("Declined")
        EXPIRED = "expired", _("Expired")
        REFUNDING = "refunding", _("Refund under way")
        REFUNDED = "refunded", _("Refunded")

    class Problem(models.TextChoices):
        """Money that arrived but could not pay for the order: an operator decides (usually a refund)."""

        NONE = "", _("None")
        LATE = "late", _("Paid after the order was cancelled")
        DUPLICATE = "duplicate", _("Paid for an order already paid")
        MISMATCH = "mismatch", _("Amount or currency differs from the order")

    order = models.ForeignKey(
        "orders.Order", related_name="payments", on_delete=models.PROTECT, verbose_name=_("order")
    )
    provider = models.CharField(_("provider"), max_length=20)
    # The provider's id of the checkout (a Stripe Checkout Session id); empty until the provider answered.
    reference = models.CharField(_("reference"), max_length=255, null=True, blank=True)
    redirect_url = models.TextField(
        _("redirect url"), blank=True, help_text=_("Where the shopper pays (the provider's page).")
    )
    # What was asked, copied from the order when the checkout began.
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3)
    state = models.CharField(_("state"), max_length=20, choices=State.choices, default=State.OPEN)
    problem = models.CharField(_("problem"), max_length=20, choices=Problem.choices, blank=True, default=Problem.NONE)
    # What the provider said was paid, and its id for the money (a Stripe PaymentIntent, needed to refund).
    amount_received = models.DecimalField(_("amount received"), max_digits=12, decimal_places=2, null=True, blank=True)
    currency_received = models.CharField(_("currency received"), max_length=3, blank=True)
    provider_payment_id = models.CharField(_("provider payment id"), max_length=255, blank=True)
    # Times are the database's clock.
    created = models.DateTimeField(_("created"), db_default=Now())
    updated = models.DateTimeField(_("updated"), db_default=Now())
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    refund_started_at = models.DateTimeField(_("refund started at"), null=True, blank=True)
    refunded_at = models.DateTimeField(_("refunded at"), null=True, blank=True)
    refund_reference = models.CharField(_("refund reference"), max_length=255, blank=True)
    refunded_by = models.CharField(_("refunded by"), max_length=150, blank=True)
    last_error = models.TextField(_("last error"), blank=True)

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        ordering = ["-created", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "reference"], name="payment_one_per_provider_reference"),
        ]
        indexes = [
            models.Index(fields=["order", "state"], name="payment_order_state_idx"),
            models.Index(fields=["problem", "state"], name="payment_problem_idx"),
        ]

    def __str__(self):
        """In an operator's words, in their language: "Card payment, declined, 7 Dec 14:02, €30.70"."""
        provider = PROVIDER_LABELS.get(self.provider) or gettext("%(provider)s payment") % {"provider": self.provider}
        parts = [str(provider), self.get_state_display().lower()]
        if isinstance(self.created, datetime):  # not yet read back after an insert: the database's clock sets it
            parts.append(formats.date_format(timezone.localtime(self.created), "j M H:i"))  # the language's months
        parts.append(format_money(self.amount, self.currency))
        return ", ".join(parts)


class WebhookEvent(models.Model):
    """A provider's event, stored in the transaction that acts on it: the same event sent again finds its
    row and changes nothing."""

    provider = models.CharField(_("provider"), max_length=20)
    event_id = models.CharField(_("event id"), max_length=255)
    type = models.CharField(_("type"), max_length=100)
    payment = models.ForeignKey(
        Payment, related_name="events", null=True, blank=True, on_delete=models.PROTECT, verbose_name=_("payment")
    )
    received = models.DateTimeField(_("received"), db_default=Now())
    outcome = models.CharField(_("outcome"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("webhook event")
        verbose_name_plural = _("webhook events")
        ordering = ["-received", "-id"]
        constraints = [models.UniqueConstraint(fields=["provider", "event_id"], name="webhookevent_once")]

    def __str__(self):
        return f"{self.provider} {self.type} {self.event_id}"


class PaymentByHand(models.Model):
    """An operator takes this order's payment by hand (a bank transfer, cash): the order never expires."""

    order = models.OneToOneField(
        "orders.Order", related_name="payment_by_hand", on_delete=models.CASCADE, verbose_name=_("order")
    )
    arranged_by = models.CharField(_("arranged by"), max_length=150, blank=True)
    created = models.DateTimeField(_("created"), db_default=Now())

    class Meta:
        verbose_name = _("payment by hand")
        verbose_name_plural = _("payments by hand")

    def __str__(self):
        if self.arranged_by:
            return gettext("Paid by hand, arranged by %(operator)s") % {"operator": self.arranged_by}
        return gettext("Paid by hand")


class InvoiceSequence(models.Model):
    """The last invoice number given in a year. Taken under its row lock in the transaction that records the
    payment, so numbers are gapless: a rolled-back payment (or a killed process) gives its number back."""

    year = models.PositiveIntegerField(_("year"), primary_key=True)
    last_number = models.PositiveIntegerField(_("last number"), default=0)

    def __str__(self):
        return f"{self.year}: {self.last_number}"


class Invoice(models.Model):
    """The invoice of a paid order: numbered when the payment is recorded, rendered to PDF by the worker."""

    order = models.OneToOneField(
        "orders.Order", related_name="invoice", on_delete=models.PROTECT, verbose_name=_("order")
    )
    year = models.PositiveIntegerField(_("year"))
    sequence = models.PositiveIntegerField(_("sequence"))
    issued_at = models.DateTimeField(_("issued at"))
    # The PDF in the private "invoices" storage; empty until the worker has rendered it.
    pdf_name = models.CharField(_("pdf name"), max_length=255, blank=True)
    rendered_at = models.DateTimeField(_("rendered at"), null=True, blank=True)

    class Meta:
        verbose_name = _("invoice")
        verbose_name_plural = _("invoices")
        ordering = ["-year", "-sequence"]
        constraints = [
            models.UniqueConstraint(fields=["year", "sequence"], name="invoice_number_unique"),
            models.CheckConstraint(condition=models.Q(sequence__gte=1), name="invoice_sequence_positive"),
        ]

    def __str__(self):
        return gettext("Invoice %(number)s") % {"number": self.number}

    @property
    def number(self):
        return f"{self.year}-{self.sequence:06d}"

    number.fget.short_description = _("number")  # the admin's label for it

    @property
    def filename(self):
        """The stored PDF's name (the same in every language: payments.invoices keeps it)."""
        return f"invoice-{self.number}.pdf"

    @property
    def download_name(self):
        """The file's name as the active language calls it, for the email's attachment and downloads."""
        return pgettext("file name", "invoice-%(number)s.pdf") % {"number": self.number}


class OfflineCheckout(models.Model):
    """The offline provider's own record of a checkout, as a real provider keeps one on its side. The shop's
    Payment learns what happened here only through the provider's signed webhook or a check with it."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        APPROVED = "approved", _("Approved")
        DECLINED = "declined", _("Declined")
        EXPIRED = "expired", _("Expired")
        REFUNDED = "refunded", _("Refunded")

    id = models.CharField(_("id"), max_length=64, primary_key=True)
    client_reference_id = models.CharField(_("client reference id"), max_length=64)
    amount_minor = models.PositiveBigIntegerField(_("amount minor"))
    currency = models.CharField(_("currency"), max_length=3)
    return_url = models.TextField(_("return url"))
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.OPEN)
    created = models.DateTimeField(_("created"), db_default=Now())
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    refund_id = models.CharField(_("refund id"), max_length=64, blank=True)

    def __str__(self):
        return f"Offline checkout {self.id} ({self.status})"
