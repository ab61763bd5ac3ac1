"""Each order email becomes a row of the outbox (OrderEmail) instead of six columns per kind on Order.

Every existing order's email state is carried over: an email that was owed, being sent, sent or failed keeps
that state, its attempts, times and last error; an email never due (a shipping notice before shipping, an
order placed without one) gets no row.
"""

from datetime import timedelta

import django.db.models.deletion
import django.db.models.functions.datetime
import django.utils.timezone
from django.db import migrations, models

KINDS = ("confirmation", "shipping")
# The claim lease under the old code: a claim taken before the migration lapses when it would have then.
OLD_CLAIM_SECONDS = 300
REQUEUE_AFTER_SECONDS = 900


def columns_to_rows(apps, schema_editor):
    Order = apps.get_model("orders", "Order")
    OrderEmail = apps.get_model("orders", "OrderEmail")
    now = django.utils.timezone.now()
    batch = []
    for order in Order.objects.order_by("id").iterator(chunk_size=2000):
        for kind in KINDS:
            state = getattr(order, f"{kind}_status")
            if state == "not_due":
                continue
            queued_at = getattr(order, f"{kind}_queued_at")
            claimed_at = getattr(order, f"{kind}_claimed_at")
            batch.append(
                OrderEmail(
                    order_id=order.id,
                    kind=kind,
                    state=state,
                    attempts=getattr(order, f"{kind}_attempts"),
                    created=order.created,
                    queued_at=queued_at,
                    sent_at=getattr(order, f"{kind}_sent_at"),
                    claimed_at=claimed_at,
                    claim_expires_at=claimed_at + timedelta(seconds=OLD_CLAIM_SECONDS) if claimed_at else None,
                    claimed_by="(before the outbox)" if claimed_at and state == "sending" else "",
                    last_error=getattr(order, f"{kind}_error"),
                    # Never handed over: due at once; handed over: due when the old code would have requeued it.
                    due_at=queued_at + timedelta(seconds=REQUEUE_AFTER_SECONDS) if queued_at else now,
                )
            )
        if len(batch) >= 2000:
            OrderEmail.objects.bulk_create(batch)
            batch = []
    OrderEmail.objects.bulk_create(batch)


def rows_to_columns(apps, schema_editor):
    Order = apps.get_model("orders", "Order")
    OrderEmail = apps.get_model("orders", "OrderEmail")
    Order.objects.update(confirmation_status="not_due", shipping_status="not_due")
    for email in OrderEmail.objects.iterator(chunk_size=2000):
        Order.objects.filter(id=email.order_id).update(
            **{
                # The old columns knew no "unconfirmed": the server was handed the message.
                f"{email.kind}_status": "sent" if email.state == "unconfirmed" else email.state,
                f"{email.kind}_queued_at": email.queued_at,
                f"{email.kind}_claimed_at": email.claimed_at,
                f"{email.kind}_sent_at": email.sent_at,
                f"{email.kind}_attempts": email.attempts,
                f"{email.kind}_error": email.last_error,
            }
        )


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0003_checkout_idempotency_key"),
    ]

    operations = [
        migrations.CreateModel(
            name="OrderEmail",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "kind",
                    models.CharField(
                        choices=[("confirmation", "Order confirmation"), ("shipping", "Shipping notice")], max_length=20
                    ),
                ),
                (
                    "state",
                    models.CharField(
                        choices=[
                            ("pending", "Not sent yet"),
                            ("sending", "Being sent"),
                            ("sent", "Sent"),
                            ("unconfirmed", "Sent, unconfirmed"),
                            ("failed", "Failed"),
                        ],
                        default="pending",
                        max_length=20,
                    ),
                ),
                ("attempts", models.PositiveIntegerField(default=0)),
                ("created", models.DateTimeField(db_default=django.db.models.functions.datetime.Now())),
                (
                    "queued_at",
                    models.DateTimeField(
                        blank=True, help_text="Last handed (or tried to hand) to the broker.", null=True
                    ),
                ),
                ("due_at", models.DateTimeField(db_default=django.db.models.functions.datetime.Now())),
                ("claimed_at", models.DateTimeField(blank=True, null=True)),
                ("claim_expires_at", models.DateTimeField(blank=True, null=True)),
                (
                    "claimed_by",
                    models.CharField(blank=True, help_text="Task, host and process sending it.", max_length=200),
                ),
                ("sent_at", models.DateTimeField(blank=True, null=True)),
                ("last_error", models.TextField(blank=True)),
                (
                    "order",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="emails", to="orders.order"
                    ),
                ),
            ],
            options={
                "ordering": ["order_id", "kind"],
            },
        ),
        migrations.RunPython(columns_to_rows, rows_to_columns),
        migrations.RemoveIndex(
            model_name="order",
            name="order_confirmation_idx",
        ),
        migrations.RemoveIndex(
            model_name="order",
            name="order_shipping_email_idx",
        ),
        migrations.RemoveField(
            model_name="order",
            name="confirmation_attempts",
        ),
        migrations.RemoveField(
            model_name="order",
            name="confirmation_claimed_at",
        ),
        migrations.RemoveField(
            model_name="order",
            name="confirmation_error",
        ),
        migrations.RemoveField(
            model_name="order",
            name="confirmation_queued_at",
        ),
        migrations.RemoveField(
            model_name="order",
            name="confirmation_sent_at",
        ),
        migrations.RemoveField(
            model_name="order",
            name="confirmation_status",
        ),
        migrations.RemoveField(
            model_name="order",
            name="shipping_attempts",
        ),
        migrations.RemoveField(
            model_name="order",
            name="shipping_claimed_at",
        ),
        migrations.RemoveField(
            model_name="order",
            name="shipping_error",
        ),
        migrations.RemoveField(
            model_name="order",
            name="shipping_queued_at",
        ),
        migrations.RemoveField(
            model_name="order",
            name="shipping_sent_at",
        ),
        migrations.RemoveField(
            model_name="order",
            name="shipping_status",
        ),
        migrations.AddIndex(
            model_name="orderemail",
            index=models.Index(fields=["state", "due_at"], name="orderemail_sweep_idx"),
        ),
        migrations.AddIndex(
            model_name="orderemail",
            index=models.Index(fields=["kind", "state", "order"], name="orderemail_kind_state_idx"),
        ),
        migrations.AddConstraint(
            model_name="orderemail",
            constraint=models.UniqueConstraint(fields=("order", "kind"), name="orderemail_one_per_kind"),
        ),
    ]
