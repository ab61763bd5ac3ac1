from django.db import models
from django.db.models.functions import Now

from orders.models import OrderEmail


class OperatorDigest(models.Model):
    """A daily email to the shop's operators (the low-stock digest), owed once per kind and day: the operator
    outbox (ops/digests.py). Its lines are frozen when it is owed, so every attempt sends the same email."""

    class Kind(models.TextChoices):
        LOW_STOCK = "low-stock", "Low-stock digest"

    State = OrderEmail.State  # the same life as an order's email, so the same words in the admin and logs

    kind = models.CharField(max_length=20, choices=Kind.choices)
    day = models.DateField()  # the shop's day (TIME_ZONE) it is about
    to = models.JSONField(default=list)  # the recipients when it was owed
    lines = models.JSONField(default=list)  # [{"name", "stock", "product_id"}], as they stood when owed
    state = models.CharField(max_length=20, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)  # counted when an attempt starts
    # Every time below is the database's clock, as in the order outbox.
    created = models.DateTimeField(db_default=Now())
    queued_at = models.DateTimeField(null=True, blank=True)
    due_at = models.DateTimeField(db_default=Now())
    claimed_at = models.DateTimeField(null=True, blank=True)
    claim_expires_at = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(max_length=200, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-day", "kind"]
        # Beat firing twice, or two beats by mistake, owe one digest a day.
        constraints = [models.UniqueConstraint(fields=["kind", "day"], name="operatordigest_one_per_day")]
        indexes = [models.Index(fields=["state", "due_at"], name="operatordigest_sweep_idx")]

    def __str__(self):
        return f"{self.get_kind_display()} of {self.day}: {self.get_state_display()}"
