"""Operators in the admin: finding orders, exporting them, changing their status, resending emails."""
import csv
import io
from decimal import Decimal
from unittest.mock import patch

import pytest
from django.urls import reverse

from orders.models import Order, OrderEmail, OrderItem
from orders.tasks import order_created, order_shipped

CHANGELIST = reverse("admin:orders_order_changelist")
# The order page's read-only inline of emails, as a browser posts it back.
NO_EMAIL_ROWS = {"emails-TOTAL_FORMS": "0", "emails-INITIAL_FORMS": "0", "emails-MIN_NUM_FORMS": "0",
                 "emails-MAX_NUM_FORMS": "1000"}
# The read-only inlines of payments, the invoice and a payment by hand (payments/admin.py), empty.
NO_EMAIL_ROWS |= {f"{prefix}-{field}": "0" if field != "MAX_NUM_FORMS" else "1000"
                  for prefix in ("payments", "invoice", "payment_by_hand")
                  for field in ("TOTAL_FORMS", "INITIAL_FORMS", "MIN_NUM_FORMS", "MAX_NUM_FORMS")}


@pytest.fixture
def make_order(customer, make_product):
    """An order of two blue mugs; `emails` = {kind: {field: value}} gives it outbox rows."""

    def make(emails=None, **fields):
        order = Order.objects.create(**{**customer, "subtotal": Decimal("14.00"), "total": Decimal("14.00"), **fields})
        OrderItem.objects.create(order=order, product=make_product(name="Blue mug"), price=Decimal("7.00"),
                                 quantity=2)
        for kind, email_fields in (emails or {}).items():
            OrderEmail.objects.create(order=order, kind=kind, **email_fields)
        return order

    return make


def listed(response):
    return {order.id for order in response.context["cl"].result_list}


def test_changelist_filters_by_status_and_email_status(admin_client, make_order):
    paid = make_order(status="paid", emails={"confirmation": {"state": "sent"}})
    failed = make_order(emails={"confirmation": {"state": "failed"}})
    shipped = make_order(status="shipped", emails={"confirmation": {"state": "sent"}, "shipping": {"state": "sent"}})
    unconfirmed = make_order(emails={"confirmation": {"state": "unconfirmed"}})
    assert listed(admin_client.get(CHANGELIST, {"status__exact": "paid"})) == {paid.id}
    assert listed(admin_client.get(CHANGELIST, {"confirmation": "failed"})) == {failed.id}
    assert listed(admin_client.get(CHANGELIST, {"confirmation": "unconfirmed"})) == {unconfirmed.id}
    assert listed(admin_client.get(CHANGELIST, {"shipping": "sent"})) == {shipped.id}


def test_changelist_searches_number_email_and_name_and_has_a_date_hierarchy(admin_client, make_order):
    ada = make_order()
    grace = make_order(first_name="Grace", last_name="Hopper", email="grace@navy.example")
    assert listed(admin_client.get(CHANGELIST, {"q": str(grace.id)})) == {grace.id}
    assert listed(admin_client.get(CHANGELIST, {"q": "navy.example"})) == {grace.id}
    assert listed(admin_client.get(CHANGELIST, {"q": "Lovelace"})) == {ada.id}
    response = admin_client.get(CHANGELIST)
    assert response.context["cl"].date_hierarchy == "created"


def test_order_page_shows_items_inline_with_read_only_prices(admin_client, make_order):
    order = make_order()
    page = admin_client.get(reverse("admin:orders_order_change", args=[order.id])).content.decode()
    assert "Blue mug" in page and "€14.00" in page
    assert 'name="items-0-price"' not in page  # shown, not editable


def test_csv_export_streams_every_selected_order_with_correct_quoting(admin_client, make_order):
    tricky = make_order(first_name='Anne, "Nancy"', address="Line 1\nLine 2", last_name="=HYPERLINK(1)")
    plain = make_order()
    response = admin_client.post(CHANGELIST, {"action": "export_csv", "_selected_action": [tricky.id, plain.id]})
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    header, first, second = rows
    assert header[0] == "number" and len(rows) == 3
    record = dict(zip(header, first))
    assert record["number"] == str(tricky.id)
    assert record["first name"] == 'Anne, "Nancy"' and record["address"] == "Line 1\nLine 2"
    assert record["last name"] == "'=HYPERLINK(1)"  # a spreadsheet will not run it
    assert record["items"] == "2" and record["total"] == "€14.00"
    assert dict(zip(header, second))["number"] == str(plain.id)


def test_mark_paid_and_mark_shipped_actions(admin_client, make_order, django_capture_on_commit_callbacks):
    order = make_order()
    admin_client.post(CHANGELIST, {"action": "mark_paid", "_selected_action": [order.id]})
    order.refresh_from_db()
    assert order.status == "paid"
    with patch.object(order_shipped, "delay") as delay, django_capture_on_commit_callbacks(execute=True):
        admin_client.post(CHANGELIST, {"action": "mark_shipped", "_selected_action": [order.id]})
    order.refresh_from_db()
    assert order.status == "shipped" and order.emails.get(kind="shipping").state == "pending"
    delay.assert_called_once_with(order.id)
    with patch.object(order_shipped, "delay") as again, django_capture_on_commit_callbacks(execute=True):
        admin_client.post(CHANGELIST, {"action": "mark_shipped", "_selected_action": [order.id]})
    again.assert_not_called()  # shipped once, notified once


@pytest.mark.parametrize("state", ["failed", "unconfirmed", "sent"])
def test_resend_action_makes_the_confirmation_owed_again(admin_client, make_order, django_capture_on_commit_callbacks,
                                                         state):
    order = make_order(emails={"confirmation": {"state": state, "attempts": 6, "last_error": "451 later"}})
    with patch.object(order_created, "delay") as delay, django_capture_on_commit_callbacks(execute=True):
        admin_client.post(CHANGELIST, {"action": "resend_confirmation", "_selected_action": [order.id]})
    email = order.emails.get()
    assert (email.state, email.attempts) == ("pending", 0)
    delay.assert_called_once_with(order.id)


def test_resend_action_sends_a_shipping_notice_again(admin_client, make_order, django_capture_on_commit_callbacks):
    order = make_order(status="shipped", emails={"confirmation": {"state": "sent"},
                                                 "shipping": {"state": "failed", "attempts": 6}})
    with patch.object(order_shipped, "delay") as delay, django_capture_on_commit_callbacks(execute=True):
        admin_client.post(CHANGELIST, {"action": "resend_shipping", "_selected_action": [order.id]})
    assert order.emails.get(kind="shipping").state == "pending"
    assert order.emails.get(kind="confirmation").state == "sent"
    delay.assert_called_once_with(order.id)


def test_the_outbox_lists_every_email_and_resends_any_kind(admin_client, make_order,
                                                          django_capture_on_commit_callbacks):
    order = make_order(status="shipped", emails={"confirmation": {"state": "unconfirmed"},
                                                 "shipping": {"state": "failed"}})
    outbox_page = reverse("admin:orders_orderemail_changelist")
    listing = admin_client.get(outbox_page, {"state__exact": "failed"})
    assert [email.kind for email in listing.context["cl"].result_list] == ["shipping"]
    selected = list(order.emails.values_list("id", flat=True))
    with patch.object(order_created, "delay") as confirm, patch.object(order_shipped, "delay") as ship, \
            django_capture_on_commit_callbacks(execute=True):
        admin_client.post(outbox_page, {"action": "resend", "_selected_action": selected})
    confirm.assert_called_once_with(order.id)
    ship.assert_called_once_with(order.id)
    assert set(order.emails.values_list("state", flat=True)) == {"pending"}
    assert admin_client.get(reverse("admin:orders_orderemail_add")).status_code == 403


def test_shipping_email_is_sent_once_and_names_the_order(make_order, mailoutbox):
    order = make_order(status="shipped", emails={"shipping": {}})
    assert order_shipped(order.id) == "sent"
    assert order_shipped(order.id) == "already-done"
    [message] = mailoutbox
    assert f"order {order.number} has shipped" in message.subject and "2 × Blue mug" in message.body


def test_shipping_email_is_not_sent_for_an_order_not_shipped(make_order, mailoutbox):
    order = make_order(emails={"confirmation": {"state": "sent"}})
    assert order_shipped(order.id) == "missing"  # no shipping notice is owed
    assert mailoutbox == []


def test_resend_leaves_an_email_that_a_worker_is_sending_right_now_alone(
    admin_client, make_order, django_capture_on_commit_callbacks
):
    from orders import outbox

    busy = make_order(emails={"confirmation": {}})
    outbox.claim(busy.id, "confirmation")
    with patch.object(order_created, "delay") as delay, django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(CHANGELIST, {"action": "resend_confirmation", "_selected_action": [busy.id]},
                                     follow=True)
    assert busy.emails.get().state == "sending" and not delay.called
    assert "being sent right now" in response.content.decode()


def test_orders_cannot_be_added_by_hand_in_the_admin(admin_client):
    assert admin_client.get(reverse("admin:orders_order_add")).status_code == 403


def test_saving_the_order_form_does_not_overwrite_what_the_worker_recorded(admin_client, make_order):
    order = make_order(emails={"confirmation": {}})
    page = admin_client.get(reverse("admin:orders_order_change", args=[order.id]))
    assert page.status_code == 200
    OrderEmail.objects.filter(order=order).update(state="sent")  # the worker, meanwhile
    form = {"status": "pending", "first_name": "Ada", "last_name": "Byron", "email": order.email,
            "address": order.address, "postal_code": order.postal_code, "city": order.city,
            "items-TOTAL_FORMS": "1", "items-INITIAL_FORMS": "1", "items-MIN_NUM_FORMS": "0",
            "items-MAX_NUM_FORMS": "1000", "items-0-id": str(order.items.get().id), "items-0-order": str(order.id),
            **NO_EMAIL_ROWS}
    assert admin_client.post(reverse("admin:orders_order_change", args=[order.id]), form).status_code == 302
    order.refresh_from_db()
    assert order.last_name == "Byron" and order.emails.get().state == "sent"
