"""Orders whose address has a non-ASCII character: their mailbox again, with the domain in ASCII."""

from django.db import migrations

from orders.models import mailbox_of


def recount(apps, schema_editor):
    Order = apps.get_model("orders", "Order")
    for order in Order.objects.filter(email__regex=r"[^\x00-\x7f]").only("id", "email").iterator():
        Order.objects.filter(id=order.id).update(mailbox=mailbox_of(order.email))


class Migration(migrations.Migration):
    dependencies = [("orders", "0010_email_kinds_declared_in_code")]
    operations = [migrations.RunPython(recount, migrations.RunPython.noop)]
