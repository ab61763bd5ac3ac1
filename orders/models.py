import unicodedata
import uuid
from decimal import Decimal

import idna
from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models.functions import Now, Upper
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from shop.money import standard_vat_rate

from . import carriers
from .countries import country_name, default_country, known_countries
from .emails import kind_choices
from .numbers import new_number
from .search import TrigramIndex


def mailbox_of(email):
    """The mailbox an address reaches: lower case, without a +tag, its local part in one Unicode form and its
    domain in ASCII (bücher.de is xn--bcher-kva.de). Dots stay: only some providers ignore them."""
    local, _, domain = unicodedata.normalize("NFC", (email or "").strip().lower()).rpartition("@")
    if not local:
        return ""
    domain = domain.rstrip(".")
    try:
        domain = idna.encode(domain, uts46=True).decode("ascii")
    except idna.IDNAError:  # not a domain IDNA accepts: compared as written
        pass
    return f"{local.split('+', 1)[0]}@{domain}"


class Order(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Pending payment")
        PAID = "paid", _("Paid")
        SHIPPED = "shipped", _("Shipped")
        CANCELLED = "cancelled", _("Cancelled")

    first_name = models.CharField(_("first name"), max_length=50)
    last_name = models.CharField(_("last name"), max_length=50)
    email = models.EmailField(_("email"))
    # The mailbox the email reaches, whatever its case or +tag ("ada+x@Example.com" -> "ada@example.com"):
    # what the per-mailbox daily cap counts (orders/limits.py), through an index.
    mailbox = models.CharField(_("mailbox"), max_length=254, blank=True, editable=False)
    address = models.CharField(_("address"), max_length=250)
    address_line2 = models.CharField(_("address line 2"), max_length=250, blank=True)
    postal_code = models.CharField(_("postal code"), max_length=20)
    city = models.CharField(_("city"), max_length=100)
    country = models.CharField(
        _("country"), max_length=2, choices=known_countries, default=default_country
    )  # ISO 3166-1
    phone = models.CharField(_("phone"), max_length=30, blank=True)
    # The shopper's account when they were logged in at checkout; guest orders have none (accounts/).
    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        related_name="orders",
        on_delete=models.SET_NULL,
        verbose_name=_("customer"),
    )
    created = models.DateTimeField(_("created"), auto_now_add=True)
    updated = models.DateTimeField(_("updated"), auto_now=True)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.PENDING)
    # What people see and say ("MS-7K4P-Q2XD", orders/numbers.py): random, unlike the internal id.
    number = models.CharField(_("number"), max_length=20, default=new_number, editable=False)
    # The customer's link to this order: unguessable, unlike the sequential id.
    token = models.UUIDField(_("token"), default=uuid.uuid4, unique=True, editable=False)
    # The checkout form's one-time key: submitting the same form twice places one order, not two.
    idempotency_key = models.UUIDField(_("idempotency key"), null=True, blank=True, unique=True, editable=False)
    # The money, fixed when the order is placed (shop.money): the goods, shipping, and what is charged.
    subtotal = models.DecimalField(_("subtotal"), max_digits=12, decimal_places=2, default=0, editable=False)
    shipping_cost = models.DecimalField(_("shipping cost"), max_digits=10, decimal_places=2, default=0, editable=False)
    # The columns below have database defaults, so that rows written by code older than them (during a rolling
    # deploy, or bulk SQL) still insert.
    # A coupon's reduction of the goods, fixed at checkout with the coupon's code (coupons/); 0 without one.
    discount = models.DecimalField(
        _("discount"), max_digits=12, decimal_places=2, default=0, db_default=0, editable=False
    )
    coupon_code = models.CharField(
        _("coupon code"), max_length=40, blank=True, default="", db_default="", editable=False
    )
    # The coupon itself, whose uses this order took (given back if it is cancelled unpaid); kept with the order.
    coupon = models.ForeignKey(
        "coupons.Coupon",
        null=True,
        blank=True,
        related_name="orders",
        on_delete=models.PROTECT,
        editable=False,
        verbose_name=_("coupon"),
    )
    # The mailbox whose per-customer use the coupon took: given back to it even if the email is corrected later.
    coupon_mailbox = models.CharField(
        _("coupon mailbox"), max_length=254, blank=True, default="", db_default="", editable=False
    )
    total = models.DecimalField(_("total"), max_digits=12, decimal_places=2, default=0, editable=False)
    # Filled when the order is shipped: who carries the parcel, and its number with them.
    carrier = models.CharField(_("carrier"), max_length=30, blank=True, default="", db_default="")
    tracking_number = models.CharField(_("tracking number"), max_length=60, blank=True, default="", db_default="")
    # The language the shopper ordered in: the worker writes the order's emails and invoice in it, whenever and
    # wherever it sends them (orders.emails.message). "en" in the database too, for code older than the column.
    language = models.CharField(
        _("language"), max_length=10, choices=settings.LANGUAGES, default="en", db_default="en", editable=False
    )

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ["-created", "-id"]
        indexes = [
            models.Index(fields=["-created"], name="order_created_idx"),
            models.Index(fields=["mailbox", "created"], name="order_mailbox_created_idx"),
            # The admin at a million orders: each filter and search has its index (orders/admin.py).
            models.Index(fields=["status", "id"], name="order_status_id_idx"),
            # A customer's guest orders by email, any case (accounts.services.orders_of).
            models.Index(Upper("email"), name="order_email_upper_idx"),
            # The admin's search for part of a name, an email or a number (orders/search.py).
            TrigramIndex(Upper("first_name"), name="order_first_name_trgm_idx"),
            TrigramIndex(Upper("last_name"), name="order_last_name_trgm_idx"),
            TrigramIndex(Upper("email"), name="order_email_trgm_idx"),
            TrigramIndex(Upper("number"), name="order_number_trgm_idx"),
        ]
        # A constraint rather than unique=True: the same index, without PostgreSQL's extra LIKE index.
        constraints = [models.UniqueConstraint(fields=["number"], name="order_number_unique")]

    def __str__(self):
        return _("Order %(number)s") % {"number": self.number}

    def save(self, *args, **kwargs):
        self.mailbox = mailbox_of(self.email)
        if kwargs.get("update_fields") is not None and "email" in kwargs["update_fields"]:
            kwargs["update_fields"] = {*kwargs["update_fields"], "mailbox"}
        super().save(*args, **kwargs)

    def get_absolute_url(self):
        return reverse("orders:order_detail", args=[self.token])

    @property
    def customer_name(self):
        return f"{self.first_name} {self.last_name}"

    @property
    def address_lines(self):
        """The delivery address as it goes on a parcel, line by line (the name first)."""
        lines = [self.customer_name, self.address, self.address_line2, f"{self.postal_code} {self.city}"]
        return [line for line in lines if line.strip()] + [country_name(self.country)]

    @property
    def carrier_label(self):
        return carriers.carrier_label(self.carrier)

    @property
    def customer_carrier_label(self):
        return carriers.customer_label(self.carrier)

    @property
    def tracking_url(self):
        """The carrier's page for this order's parcel; "" if it has none (or the order has not shipped)."""
        return carriers.tracking_url(self.carrier, self.tracking_number)

    def email_state(self, kind):
        """The state of this order's `kind` email, for people ("—" if none is owed); uses prefetched emails."""
        email = next((email for email in self.emails.all() if email.kind == kind), None)
        return email.get_state_display() if email else "—"


class OrderItem(models.Model):
    order = models.ForeignKey(Order, related_name="items", on_delete=models.CASCADE, verbose_name=_("order"))
    product = models.ForeignKey(
        "shop.Product", related_name="order_items", on_delete=models.PROTECT, verbose_name=_("product")
    )
    # The price at checkout, frozen: later catalog changes never rewrite an order.
    price = models.DecimalField(_("price"), max_digits=10, decimal_places=2, validators=[MinValueValidator(0)])
    quantity = models.PositiveIntegerField(_("quantity"), default=1, validators=[MinValueValidator(1)])
    # The VAT rate in percent the line was sold at, frozen like the price (orders/vat.py sums the order by it).
    # Lines written outside the ORM, or by code older than the column (a rolling deploy), get 19: a database
    # default cannot read SHOP_VAT_RATE, so it is the setting's default.
    vat_rate = models.DecimalField(
        _("VAT rate"),
        max_digits=5,
        decimal_places=2,
        default=standard_vat_rate,
        db_default=Decimal("19"),
        validators=[MinValueValidator(0)],
    )

    class Meta:
        verbose_name = _("order item")
        verbose_name_plural = _("order items")
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(quantity__gte=1), name="orderitem_quantity_positive"),
            models.UniqueConstraint(fields=["order", "product"], name="orderitem_one_line_per_product"),
        ]

    def __str__(self):
        return f"{self.quantity} × {self.product}"

    @property
    def cost(self):
        return self.price * self.quantity


class OrderEmail(models.Model):
    """An email an order owes its customer, and how sending it went: the outbox (see orders/outbox.py).

    The row, not the broker, remembers that the email is owed: it is written in the same transaction as
    what made it due (the order, its shipping), so an email can be late but never forgotten.
    """

    class State(models.TextChoices):
        PENDING = "pending", _("Not sent yet")
        SENDING = "sending", _("Being sent")
        SENT = "sent", _("Sent")
        # The mail server got the whole message but its answer never came: it may or may not have been
        # delivered, so it is not sent again by itself (an operator may).
        UNCONFIRMED = "unconfirmed", _("Sent, unconfirmed")
        FAILED = "failed", _("Failed")

    order = models.ForeignKey(Order, related_name="emails", on_delete=models.CASCADE, verbose_name=_("order"))
    kind = models.CharField(_("kind"), max_length=20, choices=kind_choices)  # declared by orders.tasks.email_task
    state = models.CharField(_("state"), max_length=20, choices=State.choices, default=State.PENDING)
    # Counted when an attempt starts, so an attempt that never finishes (a killed worker) counts too.
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    # Every time below is the database's clock, never a host's.
    created = models.DateTimeField(_("created"), db_default=Now())
    queued_at = models.DateTimeField(
        _("queued at"), null=True, blank=True, help_text=_("Last handed (or tried to hand) to the broker.")
    )
    # If still owed then, the sweep hands the email to the broker again (once per REQUEUE period).
    due_at = models.DateTimeField(_("due at"), db_default=Now())
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)
    # A claim is a lease its holder renews while sending; once it lapses, the holder is presumed dead.
    claim_expires_at = models.DateTimeField(_("claim expires at"), null=True, blank=True)
    claimed_by = models.CharField(
        _("claimed by"), max_length=200, blank=True, help_text=_("Task, host and process sending it.")
    )
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)

    class Meta:
        verbose_name = _("order email")
        verbose_name_plural = _("order emails")
        ordering = ["order_id", "kind"]
        constraints = [models.UniqueConstraint(fields=["order", "kind"], name="orderemail_one_per_kind")]
        indexes = [
            models.Index(fields=["state", "due_at"], name="orderemail_sweep_idx"),
            models.Index(fields=["kind", "state", "order"], name="orderemail_kind_state_idx"),
        ]

    def __str__(self):
        return _("%(email)s of order %(number)s: %(state)s") % {
            "email": self.get_kind_display(),
            "number": self.order.number,
            "state": self.get_state_display(),
        }
