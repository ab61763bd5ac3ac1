from django.contrib import admin, messages
from django.utils import timezone

from shop.money import format_money

from . import export, services
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
        return export.orders_csv_response(queryset.order_by("id"))
