from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import models
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from modeltranslation.admin import TranslationAdmin

from . import images, stock
from .models import Category, Product, StockMovement


class ProductForm(forms.ModelForm):
    def clean_image(self):
        image = self.cleaned_data.get("image")
        if image and image is not self.initial.get("image"):  # a new upload, not the stored file
            images.check_upload(image)
        return image


class ProductListForm(forms.ModelForm):
    """A row of the product list: its editable cells are named after the product, for screen readers (a
    table cell's input has no label of its own); the price box is as wide as a price."""

    LABELS = {"price": gettext_lazy("Price of %(product)s"), "available": gettext_lazy("%(product)s is available")}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, label in self.LABELS.items():
            if name in self.fields:
                self.fields[name].widget.attrs["aria-label"] = label % {"product": self.instance.name}
        if "price" in self.fields:
            self.fields["price"].widget.attrs["class"] = "price-input"


class LowStockFilter(admin.SimpleListFilter):
    """Products on sale that are running out (SHOP_LOW_STOCK_AT units or fewer), the fewest first."""

    title = gettext_lazy("stock")
    parameter_name = "stock"

    def lookups(self, request, model_admin):
        return [
            ("low", _("Low: %(count)s or fewer, on sale") % {"count": settings.SHOP_LOW_STOCK_AT}),
            ("out", _("Sold out, on sale")),
        ]

    def queryset(self, request, queryset):
        if self.value() == "low":
            return queryset.filter(available=True, stock__lte=settings.SHOP_LOW_STOCK_AT)
        if self.value() == "out":
            return queryset.filter(available=True, stock=0)
        return queryset


def _every_language(field):
    """A translated field's columns, for searches that find a product by any language's text."""
    return [f"{field}_{code}" for code, _ in settings.LANGUAGES]


# TranslationAdmin: a box per language for each translated field (shop/translation.py), the English one required.
# Not the tabbed one, whose jQuery UI comes from a CDN.
@admin.register(Category)
class CategoryAdmin(TranslationAdmin):
    list_display = ["name", "slug"]
    prepopulated_fields = {"slug": ("name",)}
    search_fields = _every_language("name")


class StockChangeForm(forms.Form):
    kind = forms.ChoiceField(
        choices=[
            ("received", gettext_lazy("Received: add this many units (a delivery)")),
            ("counted", gettext_lazy("Stock-take: this many units are on the shelf")),
        ],
        label=gettext_lazy("Kind"),
        widget=forms.RadioSelect,
        initial="received",
    )
    quantity = forms.IntegerField(
        min_value=0,
        max_value=1_000_000,
        label=gettext_lazy("Units"),
        error_messages={
            "min_value": gettext_lazy("Enter a number of units: at least 1 for a delivery, 0 or more for a stock-take.")
        },
    )
    note = forms.CharField(
        label=gettext_lazy("Note"),
        max_length=200,
        required=False,
        help_text=gettext_lazy("e.g. the delivery note's number"),
    )

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("kind") == "received" and cleaned.get("quantity") == 0:
            self.add_error("quantity", _("Enter the number of units received: at least 1."))
        return cleaned


@admin.register(Product)
class ProductAdmin(TranslationAdmin):
    form = ProductForm
    # Amounts as the operator's language writes them: "59,00" in German (read either way, shown that way).
    formfield_overrides = {models.DecimalField: {"localize": True}}
    # Fits 1280 px (tests/browser/test_admin.py): the slug and dates are on the product's page.
    list_display = ["name", "category", "price", "stock", "available", "updated_on"]
    list_filter = [LowStockFilter, "available", "category", "updated"]
    # Stock is never a field once the product exists: it moves by recorded deltas (see stock_change_view).
    list_editable = ["price", "available"]
    list_select_related = ["category"]
    prepopulated_fields = {"slug": ("name",)}
    search_fields = [*_every_language("name"), "slug"]

    class Media:
        css = {"all": ["css/admin-products.css"]}

    @admin.display(description=gettext_lazy("Updated"), ordering="updated")
    def updated_on(self, product):
        return timezone.localdate(product.updated)

    def get_ordering(self, request):
        if request.GET.get(LowStockFilter.parameter_name):  # what runs out first, first
            return ["stock", "name"]
        return super().get_ordering(request)

    def changelist_view(self, request, extra_context=None):
        # Without the navigation column, as the order list: at 1280 px the list needs the room.
        return super().changelist_view(request, {"is_nav_sidebar_enabled": False, **(extra_context or {})})

    def get_changelist_form(self, request, **kwargs):
        return super().get_changelist_form(request, form=ProductListForm, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        return ["stock_on_hand"] if obj is not None else []

    def get_exclude(self, request, obj=None):
        # TranslationAdmin lays the page out from the form's fields, not from get_fields(): without this an
        # existing product showed a stock box that saving ignores (Product.save never writes stock).
        return ["stock"] if obj is not None else super().get_exclude(request, obj)

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        if obj is not None:
            fields = [field for field in fields if field not in ("stock", "stock_on_hand")] + ["stock_on_hand"]
        return fields

    @admin.display(description=gettext_lazy("Stock"))
    def stock_on_hand(self, product):
        url = reverse("admin:shop_product_stock", args=[product.id])
        history = reverse("admin:shop_stockmovement_changelist") + f"?product__id__exact={product.id}"
        return format_html(
            '{} · <a href="{}">{}</a> · <a href="{}">{}</a>',
            ngettext("%(count)s unit", "%(count)s units", product.stock) % {"count": product.stock},
            url,
            _("Receive or count stock"),
            history,
            _("History"),
        )

    def get_urls(self):
        return [
            path(
                "<int:product_id>/stock/", self.admin_site.admin_view(self.stock_change_view), name="shop_product_stock"
            ),
            *super().get_urls(),
        ]

    def stock_change_view(self, request, product_id):
        """Receive units or record a stock-take: a movement with who, when and why, never an overwrite."""
        product = get_object_or_404(Product, id=product_id)
        if not self.has_change_permission(request, product):
            raise PermissionDenied
        form = StockChangeForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            kind, quantity, note = (form.cleaned_data[name] for name in ("kind", "quantity", "note"))
            try:
                if kind == "received":
                    now = stock.receive(product_id=product.id, quantity=quantity, by=request.user, note=note)
                    self.message_user(
                        request,
                        _("Received %(quantity)s of “%(product)s”: %(now)s in stock.")
                        % {"quantity": quantity, "product": product.name, "now": now},
                        messages.SUCCESS,
                    )
                else:
                    delta = stock.count(product_id=product.id, counted=quantity, by=request.user, note=note)
                    self.message_user(
                        request,
                        _("Stock-take of “%(product)s”: %(quantity)s in stock (%(delta)s).")
                        % {"product": product.name, "quantity": quantity, "delta": f"{delta:+d}"},
                        messages.SUCCESS,
                    )
            except stock.StockError as error:
                form.add_error(None, str(error))
            else:
                return redirect("admin:shop_product_change", product.id)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "product": product,
            "form": form,
            "title": _("Stock of “%(product)s”") % {"product": product.name},
            "movements": product.stock_movements.select_related("by", "order")[:10],
        }
        return TemplateResponse(request, "admin/shop/product/stock.html", context)


@admin.register(StockMovement)
class StockMovementAdmin(admin.ModelAdmin):
    """The ledger: every change to stock, read-only."""

    list_display = ["created", "product", "delta", "balance", "reason", "order", "by", "note"]
    list_filter = ["reason"]
    search_fields = [*(f"product__{column}" for column in _every_language("name")), "=order__number", "note"]
    list_select_related = ["product", "order", "by"]
    date_hierarchy = "created"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
