"""Late payments from before automatic refunds existed stay the operators' (they may have chosen to contact the
shopper): marked so that the expiry's automatic refunds leave them alone."""

from django.db import migrations

BY_HAND = "refund by hand: "  # payments.services.BY_HAND, as it was written here


def mark(apps, schema_editor):
    Payment = apps.get_model("payments", "Payment")
    Payment.objects.filter(state="succeeded", problem="late").update(
        last_error=BY_HAND + "paid late before automatic refunds existed"
    )


class Migration(migrations.Migration):
    dependencies = [("payments", "0002_earlier_pending_orders_are_paid_by_hand")]
    operations = [migrations.RunPython(mark, migrations.RunPython.noop)]
