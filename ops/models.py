from django.db import models
from django.db.models.functions import Now
from django.utils.translation import gettext_lazy as _

from orders.models import OrderEmail


class OperatorDigest(models.Model):
    """A daily email to the shop's operators (the low-stock digest), owed once per kind and day: the operator
    outbox (ops/digests.py). Its lines are frozen when it is owed, so every attempt sends the same email."""

    class Kind(models.TextChoices):
        LOW_STOCK = "low-stock", _("Low-stock digest")

    State = OrderEmail.State  # the same life as an order's email, so the same words in the admin and logs

    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    day = models.DateField(_("day"))  # the shop's day (TIME_ZONE) it is about
    to = models.JSONField(_("to"), default=list)  # the recipients when it was owed
    lines = models.JSONField(_("lines"), default=list)  # [{"name", "stock", "product_id"}], as they stood when owed
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

    class Meta:
        verbose_name = _("operator digest")
        verbose_name_plural = _("operator digests")
        ordering = ["-day", "kind"]
        # Beat firing twice, or two beats by mistake, owe one digest a day.
        constraints = [models.UniqueConstraint(fields=["kind", "day"], name="operatordigest_one_per_day")]
        indexes = [models.Index(fields=["state", "due_at"], name="operatordigest_sweep_idx")]

    def __str__(self):
        return _("%(digest)s of %(day)s: %(state)s") % {
            "digest": self.get_kind_display(),
            "day": self.day,
            "state": self.get_state_display(),
        }
