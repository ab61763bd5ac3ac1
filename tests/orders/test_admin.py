"""Operators in the admin: finding orders, exporting them, changing their status, resending emails."""

import csv
import io
import re
from decimal import Decimal
from unittest.mock import patch

import pytest
from django.contrib.admin.templatetags.admin_list import result_headers
from django.urls import reverse
from django.utils import timezone
from django.utils.text import capfirst

from orders.models import Order, OrderEmail, OrderItem
from orders.tasks import order_created, order_shipped

CHANGELIST = reverse("admin:orders_order_changelist")
# The order page's read-only inline of emails, as a browser posts it back.
NO_EMAIL_ROWS = {
    "emails-TOTAL_FORMS": "0",
    "emails-INITIAL_FORMS": "0",
    "emails-MIN_NUM_FORMS": "0",
    "emails-MAX_NUM_FORMS": "1000",
}
# The read-only inlines of payments, the invoice and a payment by hand (payments/admin.py), empty.
NO_EMAIL_ROWS |= {
    f"{prefix}-{field}": "0" if field != "MAX_NUM_FORMS" else "1000"
    for prefix in ("payments", "invoice", "payment_by_hand")
    for field in ("TOTAL_FORMS", "INITIAL_FORMS", "MIN_NUM_FORMS", "MAX_NUM_FORMS")
}


@pytest.fixture
def make_order(customer, make_product):
    """An order of two blue mugs; `emails` = {kind: {field: value}} gives it outbox rows."""

    def make(emails=None, **fields):
        order = Order.objects.create(**{**customer, "subtotal": Decimal("14.00"), "total": Decimal("14.00"), **fields})
        OrderItem.objects.create(order=order, product=make_product(name="Blue mug"), price=Decimal("7.00"), quantity=2)
        for kind, email_fields in (emails or {}).items():
            OrderEmail.objects.create(order=order, kind=kind, **email_fields)
        return order

    return make


def shipping_form(*order_ids, carrier="dhl", tracking_number="00340434161094042557"):
    """The "Ship" page's answer: a carrier and a tracking number for each order (OrderAdmin.mark_shipped)."""
    fields = {"action": "mark_shipped", "_selected_action": list(order_ids), "ship": "yes"}
    fields |= {"ship-TOTAL_FORMS": len(order_ids), "ship-INITIAL_FORMS": len(order_ids)}
    for row, order_id in enumerate(order_ids):
        fields |= {f"ship-{row}-order": order_id, f"ship-{row}-carrier": carrier}
        fields[f"ship-{row}-tracking_number"] = tracking_number if len(order_ids) == 1 else f"{tracking_number}{row}"
    return fields


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


def test_changelist_finds_an_order_by_part_of_its_number_email_or_name_in_any_case(admin_client, make_order):
    ada = make_order()
    grace = make_order(first_name="Grace", last_name="Hopper", email="Grace@Navy.example")
    ana = make_order(first_name="Ana", last_name="Müller", email="am@example.com")
    li = make_order(first_name="Wei", last_name="Li", email="wei@example.com")
    part = grace.number[3:7]  # "MS-7K4P-Q2XD" -> "7K4P"
    for typed in (grace.number, grace.number.lower(), grace.number.replace("-", " "), grace.number[3:], part):
        assert listed(admin_client.get(CHANGELIST, {"q": typed})) == {grace.id}, typed
    assert listed(admin_client.get(CHANGELIST, {"q": "grace@navy.EXAMPLE"})) == {grace.id}
    assert listed(admin_client.get(CHANGELIST, {"q": "navy.exa"})) == {grace.id}
    assert listed(admin_client.get(CHANGELIST, {"q": "lovelace"})) == {ada.id}
    assert listed(admin_client.get(CHANGELIST, {"q": " Grace  Hopper "})) == {grace.id}
    assert listed(admin_client.get(CHANGELIST, {"q": "Hop"})) == {grace.id}
    assert listed(admin_client.get(CHANGELIST, {"q": "ana"})) == {ana.id}
    assert listed(admin_client.get(CHANGELIST, {"q": "ana müller"})) == {ana.id}  # every word, in any field
    assert listed(admin_client.get(CHANGELIST, {"q": "ana hopper"})) == set()
    # Words too short for a part match whole names only: "Li" finds Wei Li, not Lovelace.
    assert listed(admin_client.get(CHANGELIST, {"q": "li"})) == {li.id}
    assert listed(admin_client.get(CHANGELIST, {"q": str(grace.id)})) == set()  # the internal id is no number


@pytest.mark.parametrize(
    "params",
    [
        {"status__exact": "\x00"},
        {"status__exact": "lost"},
        {"confirmation": "\x00"},
        {"shipping": "lost"},
        {"q": "ada\x00@example.com"},
        {"q": "word " * 3000},
    ],
)
def test_a_hand_made_list_address_is_refused_or_answered_never_a_500(admin_client, make_order, params):
    make_order()
    response = admin_client.get(CHANGELIST, params)
    assert response.status_code in (200, 302), response.status_code
    if response.status_code == 302:
        assert response["Location"] == CHANGELIST + "?e=1"  # Django's "wrong filter" answer


def test_the_outbox_list_refuses_a_hand_made_filter_value(admin_client, make_order):
    make_order(emails={"confirmation": {}})
    outbox_page = reverse("admin:orders_orderemail_changelist")
    for params in ({"state__exact": "\x00"}, {"kind__exact": "\x00"}):
        assert admin_client.get(outbox_page, params)["Location"] == outbox_page + "?e=1"


def test_changelist_filters_by_date_placed(admin_client, make_order):
    from datetime import timedelta

    from django.utils import timezone

    today = make_order()
    old = make_order()
    Order.objects.filter(id=old.id).update(created=timezone.now() - timedelta(days=40))
    changelist = admin_client.get(CHANGELIST).context["cl"]
    [dates] = [spec for spec in changelist.filter_specs if spec.title == "date placed"]
    [past_week] = [choice for choice in dates.choices(changelist) if choice["display"] == "Past 7 days"]
    assert listed(admin_client.get(CHANGELIST + past_week["query_string"])) == {today.id}


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
    assert record["number"] == tricky.number
    assert record["first name"] == 'Anne, "Nancy"' and record["address"] == "Line 1\nLine 2"
    assert record["last name"] == "'=HYPERLINK(1)"  # a spreadsheet will not run it
    assert record["items"] == "2" and record["total"] == "14.00"
    assert dict(zip(header, second))["number"] == plain.number


def test_mark_paid_and_mark_shipped_actions(admin_client, make_order, django_capture_on_commit_callbacks):
    order = make_order()
    admin_client.post(CHANGELIST, {"action": "mark_paid", "_selected_action": [order.id]})
    order.refresh_from_db()
    assert order.status == "paid"
    asked = admin_client.post(CHANGELIST, {"action": "mark_shipped", "_selected_action": [order.id]})
    assert "Tracking number of order" in asked.content.decode()  # a page asks first; nothing changed yet
    order.refresh_from_db()
    assert order.status == "paid"
    with patch.object(order_shipped, "delay") as delay, django_capture_on_commit_callbacks(execute=True):
        admin_client.post(CHANGELIST, shipping_form(order.id))
    order.refresh_from_db()
    assert order.status == "shipped" and order.emails.get(kind="shipping").state == "pending"
    assert (order.carrier, order.tracking_number) == ("dhl", "00340434161094042557")
    delay.assert_called_once_with(order.id)
    with patch.object(order_shipped, "delay") as again, django_capture_on_commit_callbacks(execute=True):
        admin_client.post(CHANGELIST, shipping_form(order.id, tracking_number="OTHER123"))
    again.assert_not_called()  # shipped once, notified once
    order.refresh_from_db()
    assert order.tracking_number == "00340434161094042557"


@pytest.mark.parametrize("state", ["failed", "unconfirmed", "sent"])
def test_resend_action_makes_the_confirmation_owed_again(
    admin_client, make_order, django_capture_on_commit_callbacks, state
):
    order = make_order(emails={"confirmation": {"state": state, "attempts": 6, "last_error": "451 later"}})
    with patch.object(order_created, "delay") as delay, django_capture_on_commit_callbacks(execute=True):
        admin_client.post(CHANGELIST, {"action": "resend_confirmation", "_selected_action": [order.id]})
    email = order.emails.get()
    assert (email.state, email.attempts) == ("pending", 0)
    delay.assert_called_once_with(order.id)


def test_resend_action_sends_a_shipping_notice_again(admin_client, make_order, django_capture_on_commit_callbacks):
    order = make_order(
        status="shipped", emails={"confirmation": {"state": "sent"}, "shipping": {"state": "failed", "attempts": 6}}
    )
    with patch.object(order_shipped, "delay") as delay, django_capture_on_commit_callbacks(execute=True):
        admin_client.post(CHANGELIST, {"action": "resend_shipping", "_selected_action": [order.id]})
    assert order.emails.get(kind="shipping").state == "pending"
    assert order.emails.get(kind="confirmation").state == "sent"
    delay.assert_called_once_with(order.id)


def test_the_outbox_lists_every_email_and_resends_any_kind(
    admin_client, make_order, django_capture_on_commit_callbacks
):
    order = make_order(
        status="shipped", emails={"confirmation": {"state": "unconfirmed"}, "shipping": {"state": "failed"}}
    )
    outbox_page = reverse("admin:orders_orderemail_changelist")
    listing = admin_client.get(outbox_page, {"state__exact": "failed"})
    assert [email.kind for email in listing.context["cl"].result_list] == ["shipping"]
    selected = list(order.emails.values_list("id", flat=True))
    with (
        patch.object(order_created, "delay") as confirm,
        patch.object(order_shipped, "delay") as ship,
        django_capture_on_commit_callbacks(execute=True),
    ):
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
        response = admin_client.post(
            CHANGELIST, {"action": "resend_confirmation", "_selected_action": [busy.id]}, follow=True
        )
    assert busy.emails.get().state == "sending" and not delay.called
    assert "being sent right now" in response.content.decode()


def test_orders_cannot_be_added_by_hand_in_the_admin(admin_client):
    assert admin_client.get(reverse("admin:orders_order_add")).status_code == 403


def test_saving_the_order_form_does_not_overwrite_what_the_worker_recorded(admin_client, make_order):
    order = make_order(emails={"confirmation": {}})
    page = admin_client.get(reverse("admin:orders_order_change", args=[order.id]))
    assert page.status_code == 200
    OrderEmail.objects.filter(order=order).update(state="sent")  # the worker, meanwhile
    form = {
        "status": "pending",
        "first_name": "Ada",
        "last_name": "Byron",
        "email": order.email,
        "address": order.address,
        "postal_code": order.postal_code,
        "city": order.city,
        "country": order.country,
        "items-TOTAL_FORMS": "1",
        "items-INITIAL_FORMS": "1",
        "items-MIN_NUM_FORMS": "0",
        "items-MAX_NUM_FORMS": "1000",
        "items-0-id": str(order.items.get().id),
        "items-0-order": str(order.id),
        **NO_EMAIL_ROWS,
    }
    assert admin_client.post(reverse("admin:orders_order_change", args=[order.id]), form).status_code == 302
    order.refresh_from_db()
    assert order.last_name == "Byron" and order.emails.get().state == "sent"


def test_changelist_shows_what_an_operator_follows_an_order_by(admin_client, make_order):
    order = make_order(status="paid", emails={"confirmation": {"state": "failed"}})
    response = admin_client.get(CHANGELIST)
    headers = [capfirst(header["text"]) for header in result_headers(response.context["cl"])][1:]  # [0]: the tick
    assert headers == ["Number", "Customer", "Email", "Total", "Placed", "Status", "Confirmation", "Shipping notice"]
    row = response.content.decode().split("<tbody>", 1)[1].split("</tr>", 1)[0]
    placed = timezone.localtime(order.created)
    placed = f'{placed:%Y-%m-%d}</span> <span class="time">{placed:%H:%M %Z}'
    for shown in (
        order.number,
        "Ada Lovelace",
        "ada@example.com",
        "€14.00",
        placed,
        "Paid",
        "<strong>Failed</strong>",
        "—",
    ):
        assert shown in row, shown
    assert f">{order.id}<" not in row  # the database id stays internal


def test_orders_cannot_be_deleted_only_cancelled(admin_client, make_order):
    order = make_order()
    listing = admin_client.get(CHANGELIST)
    actions = [name for name, _ in listing.context["action_form"].fields["action"].choices]
    assert "delete_selected" not in actions and "cancel" in actions
    page = admin_client.get(reverse("admin:orders_order_change", args=[order.id])).content.decode()
    assert reverse("admin:orders_order_delete", args=[order.id]) not in page
    assert admin_client.post(reverse("admin:orders_order_delete", args=[order.id]), {"post": "yes"}).status_code == 403
    assert Order.objects.filter(id=order.id).exists()


def test_order_page_captions_each_line_by_product_with_prices_in_the_currency(admin_client, make_order):
    order = make_order(subtotal=Decimal("14.00"), shipping_cost=Decimal("4.90"), total=Decimal("18.90"))
    page = admin_client.get(reverse("admin:orders_order_change", args=[order.id])).content.decode()
    line = page.split('id="line-1"', 1)[1].split("</tr>", 1)[0]
    assert "2 × Blue mug" in line and "€7.00" in line and "€14.00" in line
    assert " x " not in line and "in order" not in line
    for money in ("€14.00", "€4.90", "€18.90"):
        assert money in page
    assert order.number in page


ACT = "admin:orders_order_act"


def buttons_on(admin_client, order):
    page = admin_client.get(reverse("admin:orders_order_change", args=[order.id])).content.decode()
    return re.findall(r'<button type="submit" name="action" value="(\w+)"', page)


@pytest.mark.parametrize(
    "status, emails, expected",
    [
        ("pending", {"confirmation": {"state": "sent"}}, ["mark_paid", "cancel", "resend_confirmation"]),
        ("paid", {"confirmation": {"state": "failed"}}, ["mark_shipped", "cancel", "resend_confirmation"]),
        (
            "shipped",
            {"confirmation": {"state": "sent"}, "shipping": {"state": "sent"}},
            ["resend_confirmation", "resend_shipping"],
        ),
        ("cancelled", {"confirmation": {"state": "sent"}}, ["resend_confirmation"]),
        ("pending", {}, ["mark_paid", "cancel"]),
    ],
)
def test_order_page_offers_a_button_for_each_move_the_transition_table_allows(
    admin_client, make_order, status, emails, expected
):
    order = make_order(status=status, emails=emails)
    assert buttons_on(admin_client, order) == expected


def press(admin_client, order, action, **extra):
    return admin_client.post(reverse(ACT, args=[order.id]), {"action": action, **extra})


def test_order_page_buttons_mark_paid_then_shipped_and_email_once(
    admin_client, make_order, django_capture_on_commit_callbacks
):
    order = make_order(emails={"confirmation": {"state": "sent"}})
    response = press(admin_client, order, "mark_paid")
    assert response.status_code == 302 and response["Location"] == reverse("admin:orders_order_change", args=[order.id])
    order.refresh_from_db()
    assert order.status == "paid"
    with patch.object(order_shipped, "delay") as delay, django_capture_on_commit_callbacks(execute=True):
        asked = admin_client.post(reverse(ACT, args=[order.id]), {"action": "mark_shipped"})
        assert f"Ship order {order.number}" in asked.content.decode() and not delay.called
        answer = shipping_form(order.id, carrier="ups", tracking_number="1z 999 aa1")
        followed = admin_client.post(reverse(ACT, args=[order.id]), answer, follow=True)
    order.refresh_from_db()
    assert order.status == "shipped" and order.emails.get(kind="shipping").state == "pending"
    assert (order.carrier, order.tracking_number) == ("ups", "1Z999AA1")  # spaces out, upper case
    delay.assert_called_once_with(order.id)
    assert f"Shipped; each customer gets a notice with the tracking link: order {order.number}." in (
        followed.content.decode()
    )
    assert buttons_on(admin_client, order) == ["resend_confirmation", "resend_shipping", "resend_invoice"]
    history = admin_client.get(reverse("admin:orders_order_history", args=[order.id])).content.decode()
    assert "Marked paid." in history and "Shipped with UPS, tracking number 1Z999AA1" in history
    assert "admin" in history  # who did it


def test_the_cancel_button_asks_first_then_puts_the_stock_back_on_sale(admin_client, customer, make_product):
    from orders.services import place_order

    lamp = make_product(name="Lamp", stock=5)
    with patch("celery.app.task.Task.apply_async"):
        order = place_order(customer=customer, quantities={lamp.id: 3})
    asked = press(admin_client, order, "cancel")
    assert asked.status_code == 200 and "cannot be reopened" in asked.content.decode()
    order.refresh_from_db()
    lamp.refresh_from_db()
    assert order.status == "pending" and lamp.stock == 2  # nothing happens before the answer
    assert press(admin_client, order, "cancel", confirmed="yes").status_code == 302
    order.refresh_from_db()
    lamp.refresh_from_db()
    assert order.status == "cancelled" and lamp.stock == 5


def test_a_button_pressed_on_a_stale_page_says_why_it_did_nothing(admin_client, make_order):
    order = make_order()
    Order.objects.filter(id=order.id).update(status="cancelled")  # another operator, meanwhile
    response = admin_client.post(reverse(ACT, args=[order.id]), {"action": "mark_paid"}, follow=True)
    assert response.status_code == 200
    assert f"Order {order.number} is cancelled: it cannot be marked paid." in response.content.decode()
    order.refresh_from_db()
    assert order.status == "cancelled"


def test_the_button_address_takes_only_a_known_step_by_post_from_someone_who_may_change_orders(
    client, admin_client, make_order, django_user_model
):
    order = make_order()
    assert admin_client.get(reverse(ACT, args=[order.id])).status_code == 405
    from django.test import Client

    forged = Client(enforce_csrf_checks=True)
    forged.force_login(django_user_model.objects.get(username="admin"))
    assert forged.post(reverse(ACT, args=[order.id]), {"action": "mark_paid"}).status_code == 403  # no CSRF token
    unknown = admin_client.post(reverse(ACT, args=[order.id]), {"action": "delete_selected"}, follow=True)
    assert "not something this page can do" in unknown.content.decode()
    assert admin_client.post(reverse(ACT, args=[987654]), {"action": "mark_paid"}).status_code == 404
    from django.contrib.auth.models import Permission

    viewer = django_user_model.objects.create_user("viewer", password="a long viewer passphrase", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_order"))
    client.force_login(viewer)
    assert client.get(reverse("admin:orders_order_change", args=[order.id])).status_code == 200
    assert buttons_on(client, order) == []
    assert client.post(reverse(ACT, args=[order.id]), {"action": "mark_paid"}).status_code == 403
    order.refresh_from_db()
    assert order.status == "pending"


def test_the_resend_button_sends_this_orders_email_again(admin_client, make_order, django_capture_on_commit_callbacks):
    order = make_order(emails={"confirmation": {"state": "failed", "attempts": 6}})
    with patch.object(order_created, "delay") as delay, django_capture_on_commit_callbacks(execute=True):
        followed = admin_client.post(reverse(ACT, args=[order.id]), {"action": "resend_confirmation"}, follow=True)
    assert order.emails.get().state == "pending"
    delay.assert_called_once_with(order.id)
    assert f"Sending the order confirmation of order {order.number} again" in followed.content.decode()


def test_an_order_to_a_country_no_longer_shipped_to_can_still_be_edited(admin_client, make_order, settings):
    order = make_order(country="FR", postal_code="75001", emails={"confirmation": {}})
    settings.SHOP_SHIPPING_COUNTRIES = ["DE", "AT"]  # France dropped since the order was placed
    form = {
        "status": "pending",
        **{field: getattr(order, field) for field in ("first_name", "last_name", "email", "address", "postal_code")},
        "city": "Paris",
        "country": "FR",
        "items-TOTAL_FORMS": "1",
        "items-INITIAL_FORMS": "1",
        "items-MIN_NUM_FORMS": "0",
        "items-MAX_NUM_FORMS": "1000",
        "items-0-id": str(order.items.get().id),
        "items-0-order": str(order.id),
        **NO_EMAIL_ROWS,
    }
    response = admin_client.post(reverse("admin:orders_order_change", args=[order.id]), form)
    assert response.status_code == 302, response.context["adminform"].form.errors
    order.refresh_from_db()
    assert (order.country, order.city) == ("FR", "Paris")


def test_the_order_list_speaks_the_operators_browser_language(admin_client, make_order):
    make_order(emails={"confirmation": {"state": "failed"}})
    page = admin_client.get(CHANGELIST, HTTP_ACCEPT_LANGUAGE="de").content.decode()
    for column in ["Nummer", "Kunde", "E-Mail", "Bestellt", "Status", "Bestätigung", "Versandbenachrichtigung"]:
        assert f">{column}</a>" in page or f">{column}</span>" in page, column
    for filter_title in ["Bestätigungs-E-Mail", "Versandbenachrichtigung", "Bestelldatum"]:
        assert f"Nach {filter_title}" in page, filter_title
    assert "Zahlung offen" in page and "<strong>Fehlgeschlagen</strong>" in page
    assert "Ausgewählte Bestellungen als bezahlt markieren" in page
