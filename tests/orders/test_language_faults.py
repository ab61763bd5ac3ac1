"""Faults in the order's language the parts did not try: a row whose language the shop no longer speaks (a
language removed from LANGUAGES after the order was placed) is written in the default one, links included."""

from decimal import Decimal

import pytest

from accounts.models import AccountEmail
from accounts.tasks import send_account_email
from orders import emails
from orders.models import Order
from orders.services import place_order
from orders.tasks import load_order


@pytest.fixture
def order(db, customer, make_product):
    placed = place_order(customer=customer, quantities={make_product(name="Lamp", price=Decimal("1234.50")).id: 1})
    Order.objects.filter(id=placed.id).update(language="fr")  # placed when the shop still spoke French
    return placed


def test_an_order_in_a_language_no_longer_spoken_is_written_in_the_default_one(order):
    email = emails.message(load_order(order.id), emails.KINDS["confirmation"])
    assert email.subject == f"myshop: order {order.number} received"
    assert "Total: €1,234.50" in email.body and f"/en/orders/{order.token}/" in email.body, email.body
    assert "/fr/" not in email.body


def test_an_account_email_in_a_language_no_longer_spoken_is_written_in_the_default_one(db, mailoutbox):
    email = AccountEmail.objects.create(kind="unknown_account", to="x@example.com", language="fr")
    send_account_email(email.id)
    [sent] = mailoutbox
    assert "/fr/" not in sent.body and "/en/" in sent.body, sent.body
