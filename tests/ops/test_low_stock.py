"""Low stock: the list operators filter, and the daily digest owed once a day by beat through the operator
outbox (ops/digests.py), sent by the worker to the operators."""

from datetime import date, timedelta
from unittest.mock import patch

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import translation

from ops import digests
from ops.models import OperatorDigest
from ops.tasks import owe_low_stock_digest, send_operator_digest, sweep_unsent_digests
from orders.tasks import Delivery
from shop.stock import low_stock


@pytest.fixture
def stocked(make_product, settings):
    """Products on sale with 0, 3, 5 and 6 units, and one withdrawn with 1; operators are named."""
    settings.SHOP_LOW_STOCK_AT = 5
    settings.SHOP_OPERATOR_EMAILS = ["stock@example.com", "boss@example.com"]
    return {
        "gnome": make_product(name="Garden gnome", stock=0),
        "lamp": make_product(name="Lamp", stock=3),
        "mug": make_product(name="Mug", stock=5),
        "teapot": make_product(name="Teapot", stock=6),
        "old": make_product(name="Old kettle", stock=1, available=False),
    }


def test_low_stock_is_what_is_on_sale_at_the_threshold_or_below_fewest_first(stocked, admin_client):
    assert [product.name for product in low_stock()] == ["Garden gnome", "Lamp", "Mug"]
    page = admin_client.get(reverse("admin:shop_product_changelist"), {"stock": "low"})
    assert [product.name for product in page.context["cl"].result_list] == ["Garden gnome", "Lamp", "Mug"]
    sold_out = admin_client.get(reverse("admin:shop_product_changelist"), {"stock": "out"})
    assert [product.name for product in sold_out.context["cl"].result_list] == ["Garden gnome"]


def test_the_digest_is_owed_once_a_day_even_when_beat_fires_twice(stocked, django_capture_on_commit_callbacks):
    with patch.object(send_operator_digest, "delay") as publish, django_capture_on_commit_callbacks(execute=True):
        first = owe_low_stock_digest()
        publish.assert_not_called()  # nothing is published before the commit
    with patch.object(send_operator_digest, "delay") as again, django_capture_on_commit_callbacks(execute=True):
        assert owe_low_stock_digest() is None  # the same day, a second beat
    publish.assert_called_once_with(first)
    again.assert_not_called()
    digest = OperatorDigest.objects.get()
    assert digest.id == first and [line["name"] for line in digest.lines] == ["Garden gnome", "Lamp", "Mug"]
    tomorrow = digests.owe_low_stock_digest(publish=lambda digest_id: None, day=date.today() + timedelta(days=1))
    assert tomorrow is not None and OperatorDigest.objects.count() == 2


def test_nothing_low_owes_no_digest(make_product, settings, django_capture_on_commit_callbacks):
    settings.SHOP_OPERATOR_EMAILS = ["stock@example.com"]
    make_product(stock=50)
    with patch.object(send_operator_digest, "delay") as publish, django_capture_on_commit_callbacks(execute=True):
        assert owe_low_stock_digest() is None
    publish.assert_not_called()
    assert not OperatorDigest.objects.exists()


def test_recipients_are_the_setting_else_the_managers_else_the_admins(settings):
    settings.SHOP_OPERATOR_EMAILS = []
    settings.MANAGERS, settings.ADMINS = [], [("Root", "root@example.com")]
    assert digests.operator_emails() == ["root@example.com"]
    settings.MANAGERS = [("Stock", "stock@example.com")]
    assert digests.operator_emails() == ["stock@example.com"]
    settings.SHOP_OPERATOR_EMAILS = ["ops@example.com"]
    assert digests.operator_emails() == ["ops@example.com"]


def test_recipients_fall_back_to_operator_emails_before_the_managers(settings):
    # OPERATOR_EMAILS already names the operators for the shop's other notices: the digest reaches them too.
    settings.SHOP_OPERATOR_EMAILS = []
    settings.OPERATOR_EMAILS = ["ops@example.com"]
    settings.MANAGERS, settings.ADMINS = [("Stock", "stock@example.com")], []
    assert digests.operator_emails() == ["ops@example.com"]


def test_the_worker_sends_the_digest_to_the_operators_once(stocked, mailoutbox):
    digest = digests.owe_low_stock_digest(publish=lambda digest_id: None)
    assert send_operator_digest(digest.id) == Delivery.SENT
    assert send_operator_digest(digest.id) == Delivery.ALREADY_DONE  # a second delivery sends nothing
    [message] = mailoutbox
    assert message.to == ["stock@example.com", "boss@example.com"]
    assert "3 products low on stock" in message.subject
    assert "     0  Garden gnome (sold out)" in message.body and "     3  Lamp" in message.body
    assert "Teapot" not in message.body and "Old kettle" not in message.body
    assert "/admin/shop/product/?stock=low" in message.body
    digest.refresh_from_db()
    assert (digest.state, digest.attempts) == ("sent", 1)


def test_the_sweep_publishes_a_digest_the_broker_lost(stocked):
    digest = digests.owe_low_stock_digest(publish=lambda digest_id: None)  # published, then lost
    OperatorDigest.objects.filter(id=digest.id).update(due_at=digest.created - timedelta(minutes=5))
    with patch.object(send_operator_digest, "delay") as publish:
        assert sweep_unsent_digests() == 1
        assert sweep_unsent_digests() == 0  # pushed a requeue period ahead: not published twice at once
    publish.assert_called_once_with(digest.id)


def test_the_digest_is_written_in_the_operators_language_whatever_the_worker_has(stocked, settings, mailoutbox):
    settings.SHOP_OPERATOR_LANGUAGE = "de"
    digest = digests.owe_low_stock_digest(publish=lambda digest_id: None, day=date(2026, 12, 7))
    with translation.override("en"):
        assert send_operator_digest(digest.id) == Delivery.SENT
    [message] = mailoutbox
    assert message.subject == "myshop: 3 Produkte mit niedrigem Bestand (7. Dezember 2026)"
    assert "Niedriger Bestand bei myshop am 7. Dezember 2026" in message.body
    assert "     0  Garden gnome (ausverkauft)" in message.body
    [(html, _)] = message.alternatives
    assert '<html lang="de">' in html and "<th" in html and "Stück</th>" in html


def test_an_operator_language_the_shop_does_not_speak_fails_the_checks(settings):
    settings.SHOP_OPERATOR_LANGUAGE = "fr"
    with pytest.raises(Exception, match="ops.E001"):
        call_command("check")
