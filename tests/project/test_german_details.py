"""What a German shopper noticed walking the shop in German (/de/), each fixed and held here."""

from datetime import datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from django.utils import translation

from orders.admin import OrderAdmin
from orders.models import OrderEmail
from shop.templatetags.shop_text import local_datetime


def test_a_time_names_its_zone_as_the_language_does(settings):
    settings.TIME_ZONE = "Europe/Berlin"
    winter = datetime(2026, 12, 7, 7, 31, tzinfo=ZoneInfo("UTC"))
    summer = datetime(2026, 7, 7, 6, 31, tzinfo=ZoneInfo("UTC"))
    with translation.override("de"):
        assert local_datetime(winter) == "7. Dezember 2026 08:31 MEZ"
        assert local_datetime(summer) == "7. Juli 2026 08:31 MESZ"
        assert OrderAdmin.placed(None, SimpleNamespace(created=winter)).endswith(">08:31 MEZ</span>")
    with translation.override("en"):
        assert local_datetime(winter).endswith(" CET")
        assert local_datetime(summer).endswith(" CEST")


def test_the_kinds_of_order_email_are_named_in_the_operators_language():
    with translation.override("de"):
        names = [OrderEmail(kind=kind).get_kind_display() for kind in ("confirmation", "shipping", "invoice")]
        choices = [str(label) for _, label in OrderEmail._meta.get_field("kind").choices]
    assert names == ["Bestellbestätigung", "Versandbenachrichtigung", "Rechnung"]
    assert choices == names  # the list's filter "By kind"
