"""Migrations that move data keep every row's meaning."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE_OUTBOX = ("orders", "0003_checkout_idempotency_key")
OUTBOX = ("orders", "0004_order_email_outbox")


def migrate(target):
    executor = MigrationExecutor(connection)
    executor.migrate([target])
    return executor.loader.project_state([target]).apps


@pytest.fixture(autouse=True)
def back_to_the_latest_schema():
    yield
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def test_the_outbox_migration_carries_every_orders_email_state_over_and_back(customer):
    old = migrate(BEFORE_OUTBOX)
    Order = old.get_model("orders", "Order")
    now = timezone.now()
    claimed = now - timedelta(seconds=20)
    states = {
        "owed": dict(confirmation_status="pending"),
        "handed_over": dict(confirmation_status="pending", confirmation_queued_at=now),
        "being_sent": dict(
            confirmation_status="sending",
            confirmation_queued_at=now,
            confirmation_claimed_at=claimed,
            confirmation_attempts=2,
            confirmation_error="451 try later",
        ),
        "sent_and_shipped": dict(
            confirmation_status="sent",
            confirmation_sent_at=now,
            confirmation_attempts=1,
            status="shipped",
            shipping_status="failed",
            shipping_attempts=6,
            shipping_error="550 mailbox full",
        ),
        "floor": dict(confirmation_status="not_due"),
    }
    ids = {name: Order.objects.create(**customer, **fields).id for name, fields in states.items()}

    new = migrate(OUTBOX)
    OrderEmail = new.get_model("orders", "OrderEmail")
    rows = {(email.order_id, email.kind): email for email in OrderEmail.objects.all()}
    assert set(rows) == {
        (ids[name], "confirmation") for name in ("owed", "handed_over", "being_sent", "sent_and_shipped")
    } | {(ids["sent_and_shipped"], "shipping")}
    owed, handed_over = rows[ids["owed"], "confirmation"], rows[ids["handed_over"], "confirmation"]
    assert owed.state == "pending" and owed.queued_at is None and owed.due_at <= timezone.now()
    assert handed_over.queued_at == now and handed_over.due_at == now + timedelta(seconds=900)
    being_sent = rows[ids["being_sent"], "confirmation"]
    assert (being_sent.state, being_sent.attempts, being_sent.last_error) == ("sending", 2, "451 try later")
    assert being_sent.claimed_at == claimed and being_sent.claim_expires_at == claimed + timedelta(seconds=300)
    sent = rows[ids["sent_and_shipped"], "confirmation"]
    assert (sent.state, sent.sent_at, sent.attempts) == ("sent", now, 1)
    shipping = rows[ids["sent_and_shipped"], "shipping"]
    assert (shipping.state, shipping.attempts, shipping.last_error) == ("failed", 6, "550 mailbox full")

    back = migrate(BEFORE_OUTBOX)  # and back again, for a rollback
    restored = {order.id: order for order in back.get_model("orders", "Order").objects.all()}
    assert restored[ids["being_sent"]].confirmation_status == "sending"
    assert restored[ids["being_sent"]].confirmation_attempts == 2
    assert restored[ids["sent_and_shipped"]].shipping_status == "failed"
    assert restored[ids["floor"]].confirmation_status == "not_due"


def test_lines_sold_before_vat_rates_existed_get_the_standard_rate(customer, make_product, settings):
    old = migrate(("orders", "0014_order_discount_and_tracking"))
    order = old.get_model("orders", "Order").objects.create(**customer)
    product = make_product()
    line = old.get_model("orders", "OrderItem").objects.create(order=order, product_id=product.id, price=7, quantity=1)
    settings.SHOP_VAT_RATE = Decimal("20")  # the rate as set when the migration runs
    new = migrate(("orders", "0015_orderitem_vat_rate"))
    NewItem = new.get_model("orders", "OrderItem")
    assert NewItem.objects.get(id=line.id).vat_rate == Decimal("20")
    with connection.cursor() as cursor:  # code older than the column (a rolling deploy) still inserts lines
        cursor.execute(
            "INSERT INTO orders_orderitem (order_id, product_id, price, quantity) VALUES (%s, %s, 1, 1)",
            [order.id, make_product().id],
        )
    assert NewItem.objects.exclude(id=line.id).get().vat_rate == Decimal("19")  # the database's default


def test_the_catalog_text_becomes_the_english_text_and_back():
    old = migrate(("shop", "0007_product_vat_class"))
    category = old.get_model("shop", "Category").objects.create(name="Tea", slug="tea")
    Product = old.get_model("shop", "Product")
    assam = Product.objects.create(category=category, name="Assam", slug="assam", description="Malty.", price=9)
    plain = Product.objects.create(category=category, name="Plain", slug="plain", description="", price=1)

    new = migrate(("shop", "0008_catalog_text_in_languages"))
    Product = new.get_model("shop", "Product")
    assert new.get_model("shop", "Category").objects.values_list("name_en", "name_de").get() == ("Tea", None)
    rows = {row[0]: row[1:] for row in Product.objects.values_list("id", "name_en", "description_en", "name_de")}
    assert rows == {assam.id: ("Assam", "Malty.", None), plain.id: ("Plain", None, None)}  # no text is NULL
    Product.objects.filter(id=assam.id).update(name_en="Assam breakfast", name_de="Assam-Frühstückstee")

    back = migrate(("shop", "0007_product_vat_class"))  # a rollback keeps the English text
    rows = dict(back.get_model("shop", "Product").objects.values_list("id", "name"))
    assert rows == {assam.id: "Assam breakfast", plain.id: "Plain"}
