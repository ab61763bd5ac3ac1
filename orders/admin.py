from django.contrib import admin, messages

from payments import services as payments
from payments.admin import InvoiceInline, PaymentByHandInline, PaymentInline
from shop.money import format_money

from . import export, outbox, services
from .models import Order, OrderEmail, OrderItem


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
        return format_money(item.cost)


class OrderEmailInline(admin.TabularInline):
    model = OrderEmail
    fields = ["kind", "state", "attempts", "queued_at", "sent_at", "claimed_by", "claim_expires_at", "last_error"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = "emails to the customer"

    def has_add_permission(self, request, obj=None):
        return False


class EmailStateFilter(admin.SimpleListFilter):
    """Orders by the state of one kind of their emails (e.g. every order whose confirmation failed)."""

    kind = None

    def lookups(self, request, model_admin):
        return OrderEmail.State.choices

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(emails__kind=self.kind, emails__state=self.value())
        return queryset


class ConfirmationFilter(EmailStateFilter):
    title = "confirmation email"
    parameter_name = "confirmation"
    kind = OrderEmail.Kind.CONFIRMATION


class ShippingNoticeFilter(EmailStateFilter):
    title = "shipping notice"
    parameter_name = "shipping"
    kind = OrderEmail.Kind.SHIPPING


def _resend(model_admin, request, order_ids, kind):
    resent = outbox.resend(order_ids=order_ids, kind=kind)
    label = OrderEmail.Kind(kind).label.lower()
    model_admin.message_user(request, f"Sending the {label} of {len(resent)} order(s) again. If the broker is "
                                      "unreachable, the sweep hands them over when it is back.", messages.SUCCESS)
    skipped = len(order_ids) - len(resent)
    if skipped:
        model_admin.message_user(request, f"{skipped} order(s) left alone: being sent right now, or never owed a "
                                          f"{label}.", messages.WARNING)


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ["id", "first_name", "last_name", "email", "city", "status", "confirmation", "shipping_notice",
                    "total", "created"]
    list_filter = ["status", ConfirmationFilter, ShippingNoticeFilter, "created"]
    search_fields = ["=id", "email", "first_name", "last_name"]
    search_help_text = "Order number, email or name"
    date_hierarchy = "created"
    list_per_page = 50
    inlines = [OrderItemInline, OrderEmailInline, PaymentInline, InvoiceInline, PaymentByHandInline]
    fieldsets = [
        (None, {"fields": ["status", "total", "token", "created", "updated"]}),
        ("Customer", {"fields": ["first_name", "last_name", "email", "address", "postal_code", "city"]}),
    ]
    # The status moves only through the actions (services.change_status and its transition table).
    readonly_fields = ["status", "token", "created", "updated", "total"]
    actions = ["mark_paid", "mark_shipped", "cancel", "resend_confirmation", "resend_shipping", "export_csv",
               "refund_and_cancel", "take_payment_by_hand", "resend_invoice"]

    def has_add_permission(self, request):
        return False  # orders come from checkout only: items, prices and stock are reserved there

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("items", "emails")

    @admin.display(description="Confirmation")
    def confirmation(self, order):
        return order.email_state(OrderEmail.Kind.CONFIRMATION)

    @admin.display(description="Shipping notice")
    def shipping_notice(self, order):
        return order.email_state(OrderEmail.Kind.SHIPPING)

    @admin.display(description="Total")
    def total(self, order):
        return format_money(order.total)

    def save_model(self, request, obj, form, change):
        """Save only what the form changed: never write back what a worker or another operator changed."""
        if form.changed_data:
            obj.save(update_fields=[*form.changed_data, "updated"])

    def _change_status(self, request, queryset, to, done):
        changed, refused = services.change_status(order_ids=list(queryset.values_list("id", flat=True)), to=to)
        if changed:
            self.message_user(request, f"{done}: {len(changed)} order(s).", messages.SUCCESS)
        for why in refused.values():
            self.message_user(request, why, messages.WARNING)

    @admin.action(description="Mark selected orders as paid")
    def mark_paid(self, request, queryset):
        self._change_status(request, queryset, Order.Status.PAID, "Marked paid")

    @admin.action(description="Mark selected orders as shipped (emails the customers)")
    def mark_shipped(self, request, queryset):
        self._change_status(request, queryset, Order.Status.SHIPPED, "Marked shipped; the customers get a notice")

    @admin.action(description="Cancel selected orders (their stock goes back on sale)")
    def cancel(self, request, queryset):
        self._change_status(request, queryset, Order.Status.CANCELLED, "Cancelled, stock given back")

    @admin.action(description="Send the confirmation email again")
    def resend_confirmation(self, request, queryset):
        _resend(self, request, list(queryset.values_list("id", flat=True)), OrderEmail.Kind.CONFIRMATION)

    @admin.action(description="Send the shipping notice again")
    def resend_shipping(self, request, queryset):
        _resend(self, request, list(queryset.values_list("id", flat=True)), OrderEmail.Kind.SHIPPING)

    @admin.action(description="Export selected orders to CSV")
    def export_csv(self, request, queryset):
        return export.orders_csv_response(queryset.order_by("id"))

    # --- Payments (payments/services.py) ---

    @admin.action(description="Refund and cancel selected orders (money back through the provider, stock back on sale)")
    def refund_and_cancel(self, request, queryset):
        refunded, refused = payments.refund_and_cancel(order_ids=list(queryset.values_list("id", flat=True)),
                                                       by=request.user.get_username())
        for payment in refunded:
            self.message_user(request, f"Order {payment.order_id}: refunded {format_money(payment.amount)} through "
                                       f"{payment.provider}.", messages.SUCCESS)
        for why in refused.values():
            self.message_user(request, why, messages.WARNING)

    @admin.action(description="Send the invoice again")
    def resend_invoice(self, request, queryset):
        _resend(self, request, list(queryset.values_list("id", flat=True)), OrderEmail.Kind.INVOICE)

    @admin.action(description="Wait for a payment by bank transfer (the order never expires)")
    def take_payment_by_hand(self, request, queryset):
        ids = payments.take_payment_by_hand(order_ids=list(queryset.values_list("id", flat=True)),
                                            by=request.user.get_username())
        self.message_user(request, f"{len(ids)} pending order(s) now wait for a payment by hand; mark them paid when "
                                   "it arrives.", messages.SUCCESS)


@admin.register(OrderEmail)
class OrderEmailAdmin(admin.ModelAdmin):
    """The outbox: every email owed to a customer, how sending it went, and a way to send it again."""

    list_display = ["order", "kind", "state", "attempts", "queued_at", "sent_at", "claimed_by", "last_error"]
    list_filter = ["kind", "state"]
    search_fields = ["=order__id"]
    search_help_text = "Order number"
    list_select_related = ["order"]
    readonly_fields = ["order", "kind", "state", "attempts", "created", "queued_at", "due_at", "claimed_at",
                       "claim_expires_at", "claimed_by", "sent_at", "last_error"]
    fields = readonly_fields
    actions = ["resend"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # an email owed must stay visible until it is sent

    @admin.action(description="Send the selected emails again")
    def resend(self, request, queryset):
        for kind in OrderEmail.Kind:
            order_ids = list(queryset.filter(kind=kind).values_list("order_id", flat=True))
            if order_ids:
                _resend(self, request, order_ids, kind)
