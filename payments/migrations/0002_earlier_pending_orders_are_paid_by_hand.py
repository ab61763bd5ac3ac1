"""Orders still pending when online payment arrives were placed under "we will email you payment
instructions": they are paid by hand, so the expiry of unpaid orders never cancels them."""

from django.db import migrations


def arrange_by_hand(apps, schema_editor):
    Order = apps.get_model("orders", "Order")
    PaymentByHand = apps.get_model("payments", "PaymentByHand")
    pending = Order.objects.filter(status="pending").values_list("id", flat=True).iterator(chunk_size=2000)
    batch = []
    for order_id in pending:
        batch.append(PaymentByHand(order_id=order_id, arranged_by="migration: placed before online payment"))
        if len(batch) == 2000:
            PaymentByHand.objects.bulk_create(batch, ignore_conflicts=True)
            batch = []
    PaymentByHand.objects.bulk_create(batch, ignore_conflicts=True)


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(arrange_by_hand, migrations.RunPython.noop),
    ]
