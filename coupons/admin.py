from django import forms
from django.contrib import admin
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from shop.money import format_money

from .models import Coupon


class CouponForm(forms.ModelForm):
    class Meta:
        model = Coupon
        fields = [
            "code",
            "active",
            "valid_from",
            "valid_to",
            "kind",
            "value",
            "minimum_order",
            "max_uses",
            "max_uses_per_customer",
        ]

    def clean_code(self):
        return self.cleaned_data["code"].strip()


class ValidityFilter(admin.SimpleListFilter):
    title = gettext_lazy("validity")
    parameter_name = "validity"

    def lookups(self, request, model_admin):
        return [("current", _("Valid now")), ("future", _("Not yet valid")), ("expired", _("Expired"))]

    def queryset(self, request, queryset):
        now = timezone.now()
        return {
            "current": queryset.filter(valid_from__lte=now, valid_to__gt=now),
            "future": queryset.filter(valid_from__gt=now),
            "expired": queryset.filter(valid_to__lte=now),
        }.get(self.value(), queryset)


@admin.register(Coupon)
class CouponAdmin(admin.ModelAdmin):
    form = CouponForm
    # Amounts as the operator's language writes them: "59,00" in German (read either way, shown that way).
    formfield_overrides = {models.DecimalField: {"localize": True}}
    list_display = ["code", "discount", "valid_from", "valid_to", "uses_of_cap", "active"]
    list_filter = ["active", ValidityFilter, "kind"]
    search_fields = ["code"]
    readonly_fields = ["uses", "created"]
    fieldsets = [
        (None, {"fields": ["code", "active", ("valid_from", "valid_to")]}),
        (gettext_lazy("Discount"), {"fields": ["kind", "value", "minimum_order"]}),
        (gettext_lazy("Limits"), {"fields": ["max_uses", "max_uses_per_customer", "uses", "created"]}),
    ]

    def changelist_view(self, request, extra_context=None):
        # Without the navigation column, as the order and product lists: at 1280 px the list needs the room.
        return super().changelist_view(request, {"is_nav_sidebar_enabled": False, **(extra_context or {})})

    @admin.display(description=gettext_lazy("discount"), ordering="value")
    def discount(self, coupon):
        if coupon.minimum_order:
            return _("%(discount)s off from %(minimum)s") % {
                "discount": coupon.discount_text,
                "minimum": format_money(coupon.minimum_order),
            }
        return _("%(discount)s off") % {"discount": coupon.discount_text}

    @admin.display(description=gettext_lazy("uses / cap"), ordering="uses")
    def uses_of_cap(self, coupon):
        return (
            f"{coupon.uses} / {coupon.max_uses}"
            if coupon.max_uses is not None
            else _("%(uses)s / no cap") % {"uses": coupon.uses}
        )
