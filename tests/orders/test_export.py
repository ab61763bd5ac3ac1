"""The orders CSV export: no cell, nor any part of a cell after a separator, is run as a formula."""

import csv
import io
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import translation

from orders.models import Order, OrderItem

CHANGELIST = reverse("admin:orders_order_changelist")
FORMULA_STARTS = ("=", "+", "-", "@")
SEPARATORS = [";", ",", "\t"]
HOSTILE = {
    "city": "Berlin;=2+3",
    "address": 'Main St 1,=HYPERLINK("http://evil.example")',
    "last_name": "Smith\t=1+1",
    "first_name": "@SUM(A1:A9)",
    "postal_code": "10115; -2+3",
}


@pytest.fixture
def exported(admin_client, customer, make_product):
    """The CSV text exported by the admin action for one order with hostile fields, and the order."""
    order = Order.objects.create(**{**customer, **HOSTILE, "subtotal": Decimal("14.00"), "total": Decimal("14.00")})
    OrderItem.objects.create(order=order, product=make_product(), price=Decimal("7.00"), quantity=2)
    response = admin_client.post(CHANGELIST, {"action": "export_csv", "_selected_action": [order.id]})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    return b"".join(response.streaming_content).decode(), order


def starts_a_formula(cell):
    return cell.strip().strip('"').lstrip().startswith(FORMULA_STARTS)


@pytest.mark.parametrize("separator", SEPARATORS, ids=["semicolon", "comma", "tab"])
def test_no_cell_starts_a_formula_whichever_separator_the_spreadsheet_splits_on(exported, separator):
    text, _ = exported
    # A spreadsheet told to split on `separator`: with the quotes honoured (csv), and without (a plain split).
    parsed = [cell for row in csv.reader(io.StringIO(text), delimiter=separator) for cell in row]
    split = [cell for line in text.splitlines() for cell in line.split(separator)]
    hostile = [cell for cell in parsed + split if starts_a_formula(cell)]
    assert hostile == []


def test_every_text_cell_is_quoted_and_only_numbers_are_bare(admin_client, customer):
    order = Order.objects.create(**customer, subtotal=Decimal("14.00"), total=Decimal("14.00"), coupon_code="SPRING")
    response = admin_client.post(CHANGELIST, {"action": "export_csv", "_selected_action": [order.id]})
    header, line = b"".join(response.streaming_content).decode().splitlines()
    assert all(cell.startswith('"') and cell.endswith('"') for cell in header.split(","))
    names = next(csv.reader([header]))
    bare = [name for name, cell in zip(names, line.split(",")) if not cell.startswith('"')]  # no commas in it
    assert bare == ["items", "subtotal", "discount", "shipping", "total"]


def test_amounts_are_numbers_a_spreadsheet_can_sum_with_the_currency_beside_them(admin_client, customer):
    orders = [
        Order.objects.create(
            **customer, subtotal=Decimal("30.70"), shipping_cost=Decimal("4.90"), total=Decimal("35.60")
        ),
        Order.objects.create(
            **customer,
            subtotal=Decimal("1234.50"),
            discount=Decimal("123.45"),
            coupon_code="=WELCOME10",
            total=Decimal("1111.05"),
        ),
    ]
    response = admin_client.post(CHANGELIST, {"action": "export_csv", "_selected_action": [o.id for o in orders]})
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [(row["subtotal"], row["discount"], row["shipping"], row["total"]) for row in rows] == [
        ("30.70", "0.00", "4.90", "35.60"),
        ("1234.50", "123.45", "0.00", "1111.05"),
    ]
    assert sum(Decimal(row["total"]) for row in rows) == Decimal("1146.65")
    assert {row["currency"] for row in rows} == {"EUR"}
    assert rows[1]["coupon code"] == "'=WELCOME10"  # text stays neutralised


def test_neutralised_values_keep_their_text(exported):
    text, order = exported
    header, row = list(csv.reader(io.StringIO(text)))
    record = dict(zip(header, row))
    assert record["city"] == "Berlin;'=2+3"
    assert record["postal code"] == "10115; '-2+3"
    assert record["first name"] == "'@SUM(A1:A9)"
    assert record["number"] == order.number and record["total"] == "14.00"


@pytest.mark.parametrize(
    "value, expected",
    [
        ("plain", "plain"),
        ("", ""),
        (None, ""),
        (42, 42),
        (Decimal("-5.00"), Decimal("-5.00")),  # a number, written bare: no formula
        (Decimal("NaN"), "NaN"),
        ("=1+1", "'=1+1"),
        ("a;=1", "a;'=1"),
        ("a, +1", "a, '+1"),
        ("a\t-1", "a\t'-1"),
        ("line 1\n=cmd", "line 1\n'=cmd"),
        ("\r=cmd", "\r'=cmd"),
        ("co-op; e-mail", "co-op; e-mail"),  # a dash inside a word starts nothing
    ],
)
def test_cell_neutralisation(value, expected):
    from orders.export import csv_cell

    assert csv_cell(value) == expected


def test_a_german_operators_export_has_the_same_cells_as_an_english_ones(admin_client, customer):
    """The columns are named in English and read by scripts and spreadsheets: the status and the email states
    stay the same words whatever language the operator's browser asks for, and whatever the thread has
    active when the streamed rows are written."""
    order = Order.objects.create(**customer, subtotal=Decimal("14.00"), total=Decimal("14.00"))
    order.emails.create(kind="confirmation")
    posted = {"action": "export_csv", "_selected_action": [order.id]}
    response = admin_client.post(CHANGELIST, posted, HTTP_ACCEPT_LANGUAGE="de")
    with translation.override("de"):  # a German thread writing the rows out
        rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    cells = dict(zip(rows[0], rows[1]))
    assert (cells["status"], cells["confirmation email"]) == ("Pending payment", "Not sent yet")
    assert cells["total"] == "14.00"
