"""Every order gets a number people can read out ("MS-7K4P-Q2XD"); orders placed before get one here."""

from django.db import migrations, models

import orders.numbers

BATCH = 2000


def number_existing_orders(apps, schema_editor):
    """A fresh, distinct number for each order without one (the constraint comes after, in this migration)."""
    Order = apps.get_model("orders", "Order")
    taken = set(Order.objects.exclude(number=None).values_list("number", flat=True))
    ids = list(Order.objects.filter(number=None).order_by("id").values_list("id", flat=True))
    for start in range(0, len(ids), BATCH):
        batch = []
        for order_id in ids[start : start + BATCH]:
            number = orders.numbers.new_number()
            while number in taken:
                number = orders.numbers.new_number()
            taken.add(number)
            batch.append(Order(id=order_id, number=number))
        Order.objects.bulk_update(batch, ["number"])


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0007_invoice_email_kind"),
    ]

    operations = [
        # Added empty first: a callable default would give every existing order the same number.
        migrations.AddField(
            model_name="order",
            name="number",
            field=models.CharField(editable=False, max_length=20, null=True),
        ),
        migrations.RunPython(number_existing_orders, migrations.RunPython.noop, elidable=True),
        migrations.AlterField(
            model_name="order",
            name="number",
            field=models.CharField(default=orders.numbers.new_number, editable=False, max_length=20),
        ),
        migrations.AddConstraint(
            model_name="order",
            constraint=models.UniqueConstraint(fields=("number",), name="order_number_unique"),
        ),
    ]
