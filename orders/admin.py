from django.contrib import admin, messages

from shop.templatetags.money import format_money

from .models import Order, OrderItem
from .services import queue_confirmation


class OrderItemInline(admin.TabularInline):
    model = OrderItem
    raw_id_fields = ["product"]
    readonly_fields = ["product", "price", "quantity"]
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ["id", "first_name", "last_name", "email", "city", "status", "confirmation_status",
                    "created"]
    list_filter = ["status", "confirmation_status", "created"]
    search_fields = ["=id", "email", "first_name", "last_name"]
    date_hierarchy = "created"
    inlines = [OrderItemInline]
    readonly_fields = ["token", "created", "updated", "confirmation_status", "confirmation_queued_at",
                       "confirmation_claimed_at", "confirmation_sent_at", "confirmation_attempts",
                       "confirmation_error", "total"]
    actions = ["resend_confirmation"]

    @admin.display(description="Total")
    def total(self, order):
        return format_money(order.get_total_cost())

    @admin.action(description="Send the confirmation email again")
    def resend_confirmation(self, request, queryset):
        ids = list(queryset.values_list("id", flat=True))
        queryset.update(confirmation_status=Order.ConfirmationStatus.PENDING, confirmation_claimed_at=None,
                        confirmation_queued_at=None, confirmation_attempts=0)
        queued = sum(queue_confirmation(order_id) for order_id in ids)
        if queued == len(ids):
            self.message_user(request, f"Queued the confirmation of {queued} order(s).", messages.SUCCESS)
        else:
            self.message_user(request, f"Queued {queued} of {len(ids)}; the broker is unreachable, the rest "
                                       "will be sent when it is back.", messages.WARNING)
