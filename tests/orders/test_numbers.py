"""Order numbers people can read out ("MS-7K4P-Q2XD"): random, unique, shown wherever a person sees an order;
the database id stays internal."""

import csv
import io
import re
from decimal import Decimal
from unittest.mock import patch

import pytest
from django.db import IntegrityError, connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse

from orders import numbers
from orders.models import Order
from orders.services import change_status, place_order
from orders.tasks import order_created, order_shipped

NUMBER = re.compile(r"MS-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}")


@pytest.fixture
def placed(customer, make_product, django_capture_on_commit_callbacks):
    """An order placed through checkout's service (the broker left out)."""
    lamp = make_product(name="Lamp", price=Decimal("12.00"), stock=10)
    with patch("celery.app.task.Task.apply_async"), django_capture_on_commit_callbacks(execute=True):
        return place_order(customer=customer, quantities={lamp.id: 3})


def test_a_placed_order_gets_a_formatted_random_number_not_its_database_id(placed):
    assert NUMBER.fullmatch(placed.number), placed.number
    assert placed.number != str(placed.id)
    assert Order.objects.get(number=placed.number) == placed
    assert str(placed) == f"Order {placed.number}"


def test_numbers_are_random_and_distinct(db, customer):
    orders = [Order.objects.create(**customer) for _ in range(50)]  # any way an order is made gets one
    drawn = [order.number for order in orders]
    assert all(NUMBER.fullmatch(number) for number in drawn)
    assert len(set(drawn)) == 50
    assert drawn != sorted(drawn)  # not a running count in disguise


def test_a_number_already_taken_is_drawn_again_inside_the_checkout_transaction(customer, placed, make_product):
    teapot = make_product(name="Teapot", stock=5)
    fresh = "MS-2222-3333"
    with (
        patch.object(numbers, "new_number", side_effect=[placed.number, fresh]),
        patch("celery.app.task.Task.apply_async"),
    ):
        second = place_order(customer=customer, quantities={teapot.id: 1})
    assert second.number == fresh and second.items.get().product == teapot
    assert Order.objects.count() == 2


def test_a_number_that_keeps_colliding_fails_the_checkout_cleanly(customer, placed, make_product):
    teapot = make_product(name="Teapot", stock=5)
    movements = teapot.stock_movements.count()
    with patch.object(numbers, "new_number", return_value=placed.number), pytest.raises(IntegrityError):
        place_order(customer=customer, quantities={teapot.id: 1})
    assert Order.objects.count() == 1 and teapot.stock_movements.count() == movements  # nothing half-saved


def test_the_number_is_unique_in_the_database(customer, placed):
    with pytest.raises(IntegrityError):
        Order.objects.create(**customer, number=placed.number)


@pytest.mark.parametrize(
    "typed",
    [
        "MS-7K4P-Q2XD",
        "ms-7k4p-q2xd",
        "MS 7K4P Q2XD",
        "7K4P-Q2XD",
        "7k4pq2xd",
        "MS7K4PQ2XD",
        " #MS-7K4P-Q2XD ",
        "ms.7k4p.q2xd",
    ],
)
def test_a_number_is_read_the_way_people_type_it(typed):
    assert numbers.parse_number(typed) == "MS-7K4P-Q2XD"


def test_lookalike_letters_are_read_as_the_digits_they_stand_for():
    assert numbers.parse_number("MS-OO1L-I000") == "MS-0011-1000"
    assert numbers.parse_number("Lovelace") == "MS-10VE-1ACE"  # so the admin's search tries names as well


@pytest.mark.parametrize(
    "typed", ["", "42", "ada@example.com", "MS-7K4P-Q2X", "MS-7K4P-Q2XDZ", "MS-7K4P-Q2XU", "Smith", "Ada Lovelace"]
)
def test_text_that_cannot_be_a_number_is_not_one(typed):
    assert numbers.parse_number(typed) is None


def test_emails_name_the_order_by_its_number_and_keep_the_id_in_the_message_id(placed, mailoutbox):
    assert order_created(placed.id) == "sent"
    Order.objects.filter(id=placed.id).update(status="shipped")
    from orders import outbox

    outbox.add(placed.id, "shipping")
    assert order_shipped(placed.id) == "sent"
    confirmation, shipping = mailoutbox
    for message in (confirmation, shipping):
        html = message.alternatives[0][0]
        assert f"order {placed.number}" in message.subject
        assert placed.number in message.body and placed.number in html
        assert message.extra_headers["Message-ID"].startswith(f"<order-{placed.id}-")


def test_pages_show_the_number(client, placed):
    status_page = client.get(placed.get_absolute_url()).content.decode()
    assert f'<span id="order-number">{placed.number}</span>' in status_page


def test_a_refused_status_change_names_the_order_by_its_number(placed):
    change_status(order_ids=[placed.id], to="cancelled")
    _, refused = change_status(order_ids=[placed.id], to="paid")
    assert refused == {placed.id: f"Order {placed.number} is cancelled: it cannot be marked paid."}


def test_the_csv_export_gives_the_number(admin_client, placed):
    response = admin_client.post(
        reverse("admin:orders_order_changelist"), {"action": "export_csv", "_selected_action": [placed.id]}
    )
    header, row = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert dict(zip(header, row))["number"] == placed.number


@pytest.mark.django_db(transaction=True)
def test_orders_placed_before_numbers_existed_each_get_a_distinct_one(customer, make_product):
    executor = MigrationExecutor(connection)
    executor.migrate([("orders", "0005_order_money")])
    old = executor.loader.project_state([("orders", "0005_order_money")]).apps
    OldOrder, OldItem = old.get_model("orders", "Order"), old.get_model("orders", "OrderItem")
    product = make_product()
    ids = []
    for _ in range(5):
        order = OldOrder.objects.create(**customer)
        OldItem.objects.create(order=order, product_id=product.id, price=Decimal("7.00"), quantity=1)
        ids.append(order.id)
    try:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
        drawn = dict(Order.objects.filter(id__in=ids).values_list("id", "number"))
        assert set(drawn) == set(ids) and len(set(drawn.values())) == 5
        assert all(NUMBER.fullmatch(number) for number in drawn.values())
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
