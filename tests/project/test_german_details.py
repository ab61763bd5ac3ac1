"""What a German shopper noticed walking the shop in German (/de/), each fixed and held here."""

from datetime import datetime
from decimal import Decimal
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from django.apps import apps
from django.contrib.admin import site
from django.contrib.admin.utils import label_for_field
from django.utils import translation

from coupons.admin import CouponAdmin
from coupons.models import Coupon
from orders.admin import OrderAdmin
from orders.carriers import carrier_choices
from orders.countries import known_countries
from orders.models import OrderEmail
from payments.admin import InvoiceAdmin
from payments.models import Invoice, Payment, PaymentByHand
from shop.admin import ProductAdmin
from shop.models import Product
from shop.templatetags.shop_text import local_datetime, stamp


def test_a_time_names_its_zone_as_the_language_does(settings):
    settings.TIME_ZONE = "Europe/Berlin"
    winter = datetime(2026, 12, 7, 7, 31, tzinfo=ZoneInfo("UTC"))
    summer = datetime(2026, 7, 7, 6, 31, tzinfo=ZoneInfo("UTC"))
    with translation.override("de"):
        assert local_datetime(winter) == "7. Dezember 2026 08:31 MEZ"
        assert local_datetime(summer) == "7. Juli 2026 08:31 MESZ"
        assert OrderAdmin.placed(None, SimpleNamespace(created=winter)).endswith(">08:31 MEZ</span>")
        assert stamp(winter) == "2026-12-07 08:31:00 MEZ"  # the order page's emails
    with translation.override("en"):
        assert local_datetime(winter).endswith(" CET")
        assert local_datetime(summer).endswith(" CEST")


def test_the_kinds_of_order_email_are_named_in_the_operators_language():
    with translation.override("de"):
        names = [OrderEmail(kind=kind).get_kind_display() for kind in ("confirmation", "shipping", "invoice")]
        choices = [str(label) for _, label in OrderEmail._meta.get_field("kind").choices]
    assert names == ["Bestellbestätigung", "Versandbenachrichtigung", "Rechnung"]
    assert choices == names  # the list's filter "By kind"


def test_the_admin_describes_payments_and_invoices_in_german(settings):
    settings.TIME_ZONE = "Europe/Berlin"
    created = datetime(2026, 12, 7, 13, 2, tzinfo=ZoneInfo("UTC"))
    payment = Payment(provider="offline", state="succeeded", created=created, amount=Decimal("1234.50"), currency="EUR")
    with translation.override("de"):
        assert str(payment) == "Kartenzahlung (Testanbieter), bezahlt, 7 Dez 14:02, 1.234,50\xa0€"
        assert str(PaymentByHand(arranged_by="Ute")) == "Zahlung von Hand, vereinbart von Ute"
        [number] = [field for field in InvoiceAdmin.fields if field == "number"]
        assert str(label_for_field(number, Invoice, InvoiceAdmin(Invoice, site))) == "Nummer"


def test_the_german_admin_takes_prices_with_a_decimal_comma(rf, admin_user):
    request = rf.get("/admin/")
    request.user = admin_user
    product_admin, coupon_admin = ProductAdmin(Product, site), CouponAdmin(Coupon, site)
    fields = [
        product_admin.get_form(request).base_fields["price"],
        product_admin.get_changelist_form(request).base_fields["price"],  # the list's price column
        coupon_admin.get_form(request).base_fields["value"],
        coupon_admin.get_form(request).base_fields["minimum_order"],
    ]
    with translation.override("de"):
        assert [field.clean("1234,50") for field in fields] == [Decimal("1234.50")] * 4
        assert fields[0].widget.format_value(Decimal("59.00")) == "59,00"
    with translation.override("en"):
        assert fields[0].clean("59.00") == Decimal("59.00")


def test_the_ship_forms_carriers_and_the_admins_sections_are_german():
    with translation.override("de"):
        assert str(carrier_choices()[-1][1]) == "Anderer Versanddienstleister"
        sections = {
            str(config.verbose_name) for config in apps.get_app_configs() if config.label in ("account", "accounts")
        }
    assert len(sections) == 2, sections  # allauth's addresses and the shop's account emails, told apart


def test_countries_sort_as_german_sorts_umlauts():
    with translation.override("de"):
        names = [str(name) for _, name in known_countries()]
    assert names.index("Niederlande") < names.index("Österreich") < names.index("Polen"), names
