"""Shipping asks for a carrier and a tracking number; the customer's email and status page carry the link."""

from decimal import Decimal
from unittest.mock import patch

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from orders import carriers
from orders.models import Order, OrderItem
from orders.services import Shipment, change_status, ship
from orders.tasks import order_shipped
from tests.orders.test_admin import shipping_form

CHANGELIST = reverse("admin:orders_order_changelist")


@pytest.fixture
def paid_order(customer, make_product):
    def make(**fields):
        order = Order.objects.create(**{**customer, "status": "paid", "total": Decimal("14.00"), **fields})
        OrderItem.objects.create(order=order, product=make_product(name="Blue mug"), price=Decimal("7.00"), quantity=2)
        return order

    return make


@pytest.mark.any_database
@pytest.mark.parametrize(
    "raw, cleaned", [(" 1z 999 aa1 0123 ", "1Z999AA10123"), ("JJD-000123456789", "JJD-000123456789")]
)
def test_tracking_numbers_are_trimmed_and_upper_cased(raw, cleaned):
    assert carriers.clean_tracking_number(raw) == cleaned


@pytest.mark.any_database
@pytest.mark.parametrize("raw", ["", "   ", "12345", "<script>1234", "x" * 41, "12345/6789"])
def test_a_tracking_number_that_cannot_be_one_is_refused(raw):
    with pytest.raises(ValidationError):
        carriers.clean_tracking_number(raw)


@pytest.mark.any_database
def test_tracking_links_follow_the_carriers_template_and_other_has_none():
    assert carriers.tracking_url("dpd", "0123 4567") == "https://tracking.dpd.de/status/de_DE/parcel/0123%204567"
    assert carriers.tracking_url("other", "ABC123") == "" and carriers.tracking_url("", "") == ""


def test_shipping_without_a_tracking_number_changes_nothing(paid_order, django_capture_on_commit_callbacks):
    order = paid_order()
    with django_capture_on_commit_callbacks(execute=False) as published:
        changed, refused = change_status(order_ids=[order.id], to="shipped")
        bad, why = ship(shipments={order.id: Shipment("dhl", "no!")})
    assert changed == bad == [] and "tracking number" in refused[order.id] and "6 to 40" in why[order.id]
    order.refresh_from_db()
    assert order.status == "paid" and not order.emails.exists() and not published


def test_a_bad_row_on_the_ship_page_is_shown_again_and_nothing_ships(admin_client, paid_order):
    first, second = paid_order(), paid_order()
    form = shipping_form(first.id, second.id)
    form["ship-1-tracking_number"] = "12"
    response = admin_client.post(CHANGELIST, form)
    page = response.content.decode()
    assert response.status_code == 200 and "6 to 40 letters" in page
    assert f"Tracking number of order {second.number}" in page
    assert set(Order.objects.values_list("status", flat=True)) == {"paid"}  # all or nothing


def test_bulk_ship_gives_each_order_its_own_tracking_number(
    admin_client, paid_order, django_capture_on_commit_callbacks
):
    orders = [paid_order(), paid_order()]
    pending = paid_order(status="pending")
    ids = [order.id for order in orders]
    asked = admin_client.post(CHANGELIST, {"action": "mark_shipped", "_selected_action": [*ids, pending.id]})
    page = asked.content.decode()
    assert "Ship 2 orders" in page and all(f"Carrier of order {o.number}" in page for o in orders)
    assert f"Carrier of order {pending.number}" not in page  # not paid: left out, with a warning
    with patch.object(order_shipped, "delay") as delay, django_capture_on_commit_callbacks(execute=True):
        admin_client.post(CHANGELIST, shipping_form(*ids, carrier="hermes", tracking_number="H10000"))
    assert dict(Order.objects.filter(id__in=ids).values_list("id", "tracking_number")) == {
        ids[0]: "H100000",
        ids[1]: "H100001",
    }
    assert sorted(call.args[0] for call in delay.call_args_list) == ids


def test_the_shipping_email_and_status_page_carry_the_tracking_link(client, paid_order, mailoutbox):
    order = paid_order()
    with patch.object(order_shipped, "delay"):
        ship(shipments={order.id: Shipment("dhl", "00340434161094042557")})
    link = "https://www.dhl.de/de/privatkunden/pakete-empfangen/verfolgen.html?piececode=00340434161094042557"
    assert order_shipped(order.id) == "sent"
    [message] = mailoutbox
    assert "Carrier: DHL" in message.body and f"Follow your parcel: {link}" in message.body
    assert f'href="{link}"' in message.alternatives[0][0]
    page = client.get(order.get_absolute_url()).content.decode()
    assert f'href="{link}"' in page and "DHL" in page


def test_a_parcel_with_another_carrier_never_names_the_carrier_other_to_the_customer(client, paid_order, mailoutbox):
    order = paid_order()
    with patch.object(order_shipped, "delay"):
        ship(shipments={order.id: Shipment("other", "XY-998877")})
    assert order_shipped(order.id) == "sent"
    [message] = mailoutbox
    html = message.alternatives[0][0]
    assert "Tracking number: XY-998877" in message.body and "XY-998877" in html
    assert "Other" not in message.body and "Other" not in html
    page = client.get(order.get_absolute_url()).content.decode()
    assert "XY-998877" in page and "Other" not in page
