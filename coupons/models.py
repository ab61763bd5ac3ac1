from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models.functions import Upper
from django.utils.translation import gettext_lazy as _

from shop.money import CENT, format_money

CODE_MAX_LENGTH = 40
CODE_CHARACTERS = r"[A-Za-z0-9_-]"  # what a shopper can type and read out without doubt


class Coupon(models.Model):
    class Kind(models.TextChoices):
        PERCENT = "percent", _("Percent off the goods")
        AMOUNT = "amount", _("Amount off the goods")

    # Kept as entered (trimmed); unique and matched ignoring case, so "spring10" finds SPRING10.
    code = models.CharField(
        _("code"),
        max_length=CODE_MAX_LENGTH,
        validators=[
            RegexValidator(
                rf"^{CODE_CHARACTERS}+\Z", _("Use only letters A–Z, digits, dashes and underscores (no spaces).")
            )
        ],
        help_text=_("What shoppers type in the cart. Case does not matter."),
    )
    active = models.BooleanField(_("active"), default=True, help_text=_("Untick to stop the coupon at once."))
    valid_from = models.DateTimeField(_("valid from"))
    valid_to = models.DateTimeField(_("valid to"), help_text=_("The coupon stops applying at this moment."))
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.PERCENT)
    value = models.DecimalField(
        _("value"),
        max_digits=10,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0.01"), message=_("Enter a value above 0."))],
        help_text=_("Percent off (1–100), or the amount off in the shop's currency."),
    )
    minimum_order = models.DecimalField(
        _("minimum order"),
        max_digits=10,
        decimal_places=2,
        default=0,
        validators=[MinValueValidator(0)],
        help_text=_("The goods (before shipping and discount) must be worth at least this much."),
    )
    max_uses = models.PositiveIntegerField(
        _("uses allowed in total"), null=True, blank=True, help_text=_("Empty: no limit.")
    )
    max_uses_per_customer = models.PositiveIntegerField(
        _("uses allowed per customer"),
        null=True,
        blank=True,
        default=1,
        help_text=_("Per account, or per email address for guests. Empty: no limit."),
    )
    # Taken by orders.services.place_order (coupons/services.redeem), given back by an unpaid order cancelled.
    uses = models.PositiveIntegerField(_("uses"), default=0, editable=False)
    created = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("coupon")
        verbose_name_plural = _("coupons")
        ordering = ["-valid_to", "code"]
        constraints = [
            models.UniqueConstraint(
                Upper("code"),
                name="coupon_code_unique_ignoring_case",
                violation_error_message=_("A coupon with this code exists already (codes ignore case)."),
            ),
            models.CheckConstraint(condition=models.Q(value__gt=0), name="coupon_value_positive"),
            models.CheckConstraint(
                condition=~models.Q(kind="percent") | models.Q(value__lte=100), name="coupon_percent_at_most_100"
            ),
            models.CheckConstraint(condition=models.Q(valid_to__gt=models.F("valid_from")), name="coupon_valid_span"),
        ]

    def __str__(self):
        return self.code

    def clean(self):
        self.code = (self.code or "").strip()
        problems = {}
        if self.valid_from and self.valid_to and self.valid_to <= self.valid_from:
            problems["valid_to"] = "The end must come after the start (“valid from”)."
        if (
            self.kind == self.Kind.PERCENT
            and self.value is not None
            and not (1 <= self.value <= 100 and self.value == int(self.value))
        ):
            problems["value"] = "A percent discount is a whole number from 1 to 100, like 10."
        for cap in ("max_uses", "max_uses_per_customer"):  # 0 would refuse every order: untick "active" instead
            if getattr(self, cap) == 0:
                problems[cap] = "Leave it empty for no limit, or allow at least 1 use."
        if problems:
            raise ValidationError(problems)

    def save(self, *args, **kwargs):
        self.code = (self.code or "").strip()
        super().save(*args, **kwargs)

    @property
    def discount_text(self):
        """ "10 %" or "€5.00": what the coupon takes off, for people."""
        if self.kind == self.Kind.PERCENT:  # 12.5 stays 12.5; 10.00 reads 10
            return f"{self.value.quantize(CENT).normalize():f} %"
        return format_money(self.value)


class CustomerUse(models.Model):
    """How often one customer (an account, or a guest's mailbox) used a coupon: the per-customer cap's counter."""

    coupon = models.ForeignKey(Coupon, related_name="customer_uses", on_delete=models.CASCADE, verbose_name=_("coupon"))
    # "account:<id>" or "mailbox:<address>" (coupons.services.customer_key).
    customer_key = models.CharField(_("customer key"), max_length=270)
    uses = models.PositiveIntegerField(_("uses"), default=0)

    class Meta:
        verbose_name = _("customer use")
        verbose_name_plural = _("customer uses")
        constraints = [models.UniqueConstraint(fields=["coupon", "customer_key"], name="coupon_use_one_per_customer")]

    def __str__(self):
        return f"{self.coupon}: {self.customer_key} × {self.uses}"
