"""What a German shopper noticed walking the shop in German (/de/), each fixed and held here."""

from datetime import datetime
from zoneinfo import ZoneInfo

from django.utils import translation

from shop.templatetags.shop_text import local_datetime


def test_a_time_names_its_zone_as_the_language_does(settings):
    settings.TIME_ZONE = "Europe/Berlin"
    winter = datetime(2026, 12, 7, 7, 31, tzinfo=ZoneInfo("UTC"))
    summer = datetime(2026, 7, 7, 6, 31, tzinfo=ZoneInfo("UTC"))
    with translation.override("de"):
        assert local_datetime(winter) == "7. Dezember 2026 08:31 MEZ"
        assert local_datetime(summer) == "7. Juli 2026 08:31 MESZ"
    with translation.override("en"):
        assert local_datetime(winter).endswith(" CET")
        assert local_datetime(summer).endswith(" CEST")
