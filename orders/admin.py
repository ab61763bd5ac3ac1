import csv

from django.contrib import admin, messages
from django.http import StreamingHttpResponse
from django.utils import timezone

from shop.money import format_money

from . import services
from .models import Order, OrderItem


class OrderItemInline(admin.TabularInline):
    model = OrderItem
    fields = ["product", "price", "quantity", "cost"]
    readonly_fields = ["product", "price", "quantity", "cost"]
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description="Cost")
    def cost(self, item):
        return format_money(item.get_cost())


class _Echo:
    """A file-like object whose write() hands the line back: csv.writer feeds a streaming response."""

    def write(self, value):
        return value


def _csv_safe(value):
    """Text a spreadsheet will not run as a formula (OWASP CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


CSV_COLUMNS = ["number", "created", "status", "confirmation email", "shipping email", "first name", "last name",
               "email", "address", "postal code", "city", "items", "total"]


def _csv_rows(queryset):
    yield CSV_COLUMNS
    for order in queryset.prefetch_related("items").iterator(chunk_size=500):
        items = list(order.items.all())
        yield [_csv_safe(value) for value in (
            order.number, order.created.isoformat(), order.get_status_display(),
            order.get_confirmation_status_display(), order.get_shipping_status_display(), order.first_name,
            order.last_name, order.email, order.address, order.postal_code, order.city,
            sum(item.quantity for item in items), f"{sum((item.get_cost() for item in items), 0):.2f}",
        )]


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ["id", "first_name", "last_name", "email", "city", "status", "confirmation_status",
                    "shipping_status", "total", "created"]
    list_filter = ["status", "confirmation_status", "shipping_status", "created"]
    search_fields = ["=id", "email", "first_name", "last_name"]
    search_help_text = "Order number, email or name"
    date_hierarchy = "created"
    list_per_page = 50
    inlines = [OrderItemInline]
    fieldsets = [
        (None, {"fields": ["status", "total", "token", "created", "updated"]}),
        ("Customer", {"fields": ["first_name", "last_name", "email", "address", "postal_code", "city"]}),
        ("Confirmation email", {"fields": ["confirmation_status", "confirmation_queued_at",
                                           "confirmation_sent_at", "confirmation_attempts", "confirmation_error"]}),
        ("Shipping email", {"fields": ["shipping_status", "shipping_queued_at", "shipping_sent_at",
                                       "shipping_attempts", "shipping_error"]}),
    ]
    readonly_fields = ["token", "created", "updated", "total",
                       "confirmation_status", "confirmation_queued_at", "confirmation_sent_at",
                       "confirmation_attempts", "confirmation_error",
                       "shipping_status", "shipping_queued_at", "shipping_sent_at", "shipping_attempts",
                       "shipping_error"]
    actions = ["mark_paid", "mark_shipped", "resend_confirmation", "export_csv"]

    def has_add_permission(self, request):
        return False  # orders come from checkout only: items, prices and stock are reserved there

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("items")

    @admin.display(description="Total")
    def total(self, order):
        return format_money(order.get_total_cost())

    def save_model(self, request, obj, form, change):
        """Save only what the form changed (never write back email state a worker updated meanwhile);
        status changes go through the services, so "shipped" emails the customer."""
        changed = [name for name in form.changed_data if name != "status"]
        if changed:
            obj.save(update_fields=[*changed, "updated"])
        if "status" in form.changed_data:
            if obj.status == Order.Status.SHIPPED:
                services.mark_shipped(order_ids=[obj.id])
            elif obj.status == Order.Status.PAID:
                services.mark_paid(order_ids=[obj.id])
            else:
                Order.objects.filter(id=obj.id).update(status=obj.status, updated=timezone.now())
            obj.refresh_from_db()

    @admin.action(description="Mark selected orders as paid")
    def mark_paid(self, request, queryset):
        changed = services.mark_paid(order_ids=list(queryset.values_list("id", flat=True)))
        self.message_user(request, f"Marked {len(changed)} order(s) as paid.", messages.SUCCESS)

    @admin.action(description="Mark selected orders as shipped (emails the customers)")
    def mark_shipped(self, request, queryset):
        changed = services.mark_shipped(order_ids=list(queryset.values_list("id", flat=True)))
        skipped = queryset.count() - len(changed)
        note = f" {skipped} already shipped or cancelled were left alone." if skipped else ""
        self.message_user(request, f"Marked {len(changed)} order(s) as shipped.{note}", messages.SUCCESS)

    @admin.action(description="Send the confirmation email again")
    def resend_confirmation(self, request, queryset):
        resent = services.resend_email(order_ids=list(queryset.values_list("id", flat=True)),
                                       kind=services.CONFIRMATION)
        self.message_user(request, f"Sending the confirmation of {len(resent)} order(s) again. If the broker is "
                                   "unreachable, the sweep hands them over when it is back.", messages.SUCCESS)

    @admin.action(description="Export selected orders to CSV")
    def export_csv(self, request, queryset):
        writer = csv.writer(_Echo())
        response = StreamingHttpResponse((writer.writerow(row) for row in _csv_rows(queryset.order_by("id"))),
                                         content_type="text/csv; charset=utf-8")
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        response["Content-Disposition"] = f'attachment; filename="orders-{stamp}.csv"'
        return response
