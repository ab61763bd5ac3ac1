"""Payments, invoices and provider events for operators: read-only records, refunds as an action, invoices
downloaded through the admin (never a public URL); and the order admin, extended with them."""

from django.contrib import admin, messages
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import formats, timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from orders import admin as orders_admin
from orders.models import Order
from orders.search import search_orders
from shop.money import format_money

from . import invoices, services
from .gateway import ProviderError
from .models import PROVIDER_LABELS, Invoice, Payment, PaymentByHand, WebhookEvent


class NeedsAttentionFilter(admin.SimpleListFilter):
    """Payments whose money could not pay for their order (late, duplicate, wrong amount) and are not
    refunded yet: the operator's to-do list."""

    title = gettext_lazy("needs attention")
    parameter_name = "attention"

    def lookups(self, request, model_admin):
        return [("yes", _("Yes: money to refund or explain")), ("no", _("No"))]

    def queryset(self, request, queryset):
        attention = queryset.exclude(problem="").exclude(state=Payment.State.REFUNDED)
        if self.value() == "yes":
            return attention
        if self.value() == "no":
            return queryset.exclude(id__in=attention.values("id"))
        return queryset


def with_order_search(parent, request, queryset, search_term, *, prefix):
    """The admin's own search on `search_fields`, or the order search (a number however typed, an email, a
    name: orders.search.search_orders) through `prefix`."""
    own, duplicates = parent.get_search_results(request, queryset, search_term)
    if not search_term.strip():
        return own, duplicates
    return own | search_orders(queryset, search_term, prefix=prefix), duplicates


def refund_payments(model_admin, request, payment_ids):
    """Refund each payment through its provider, saying what happened to each."""
    for payment_id in payment_ids:
        try:
            payment = services.refund(payment_id=payment_id, by=request.user.get_username())
        except services.RefundRefused as refusal:
            model_admin.message_user(request, str(refusal), messages.WARNING)
        except ProviderError as error:
            model_admin.message_user(
                request,
                _("Payment %(payment)s: the provider refused the refund (%(error)s). Nothing was refunded.")
                % {"payment": payment_id, "error": error},
                messages.ERROR,
            )
        else:
            still_paid = payment.order.status == "paid"
            note = " " + _("The order is still paid: cancel it if it will not ship.") if still_paid else ""
            model_admin.message_user(
                request,
                _("Refunded %(amount)s of order %(order)s (payment %(payment)s).")
                % {"amount": format_money(payment.amount), "order": payment.order_id, "payment": payment.id}
                + note,
                messages.SUCCESS,
            )


@admin.register(Payment)
class PaymentAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "order",
        "provider_text",
        "state",
        "problem_text",
        "amount_text",
        "created",
        "paid_at",
        "refunded_at",
    ]
    list_filter = [NeedsAttentionFilter, "problem", "state", "provider"]
    search_fields = ["reference", "provider_payment_id"]  # and the order: get_search_results
    search_help_text = gettext_lazy("An order number, the customer's email or name, or the provider's reference")
    list_select_related = ["order"]
    # In an operator's words, as the order page's payments: the facts that have a value, never "Problem: None".
    readonly_fields = ["order", "provider_text", "state", "amount_text", "details"]
    fields = readonly_fields
    actions = ["refund"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # money records stay

    @admin.display(description=gettext_lazy("Amount"))
    def amount_text(self, payment):
        return format_money(payment.amount, payment.currency)

    @admin.display(description=gettext_lazy("Provider"), ordering="provider")
    def provider_text(self, payment):
        return PROVIDER_LABELS.get(payment.provider, payment.provider)

    @admin.display(description=gettext_lazy("Problem"), ordering="problem")
    def problem_text(self, payment):
        return payment.get_problem_display() if payment.problem else ""

    @admin.display(description=gettext_lazy("Details"))
    def details(self, payment):
        return payment_details_list(payment)

    def get_search_results(self, request, queryset, search_term):
        return with_order_search(super(), request, queryset, search_term, prefix="order__")

    @admin.action(description=gettext_lazy("Refund selected payments through their provider"))
    def refund(self, request, queryset):
        refund_payments(self, request, list(queryset.values_list("id", flat=True)))


def payment_details(payment):
    """The payment's facts that have a value, as a definition list: an empty one ("Problem: None") says
    nothing to an operator."""
    rows = [
        (_("Problem"), payment.get_problem_display() if payment.problem else ""),
        (
            _("Received"),
            format_money(payment.amount_received, payment.currency_received or payment.currency)
            if payment.amount_received is not None and payment.amount_received != payment.amount
            else "",
        ),
        (_("Paid"), _when(payment.paid_at)),
        (_("Refunded"), _when(payment.refunded_at)),
        (_("Refunded by"), payment.refunded_by),
        (_("Refund reference"), payment.refund_reference),
        (_("Provider's reference"), payment.reference or ""),
        (_("Provider's payment id"), payment.provider_payment_id),
        (_("Last error"), payment.last_error),
    ]
    return format_html_join("", "<div><dt>{}</dt><dd>{}</dd></div>", [row for row in rows if row[1]])


def payment_details_list(payment):
    facts = payment_details(payment)
    return format_html('<dl class="payment-details">{}</dl>', facts) if facts else _("Nothing more recorded.")


def _when(moment):
    if not moment:
        return ""
    return formats.date_format(timezone.localtime(moment), "j M Y H:i")  # month names in the active language


class PaymentInline(admin.StackedInline):  # stacked: a tabular inline's empty headers fail axe
    """Each payment of the order, headed in an operator's words (Payment.__str__), with what is known of it."""

    model = Payment
    fields = ["details"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True
    verbose_name_plural = gettext_lazy("payments")

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description=gettext_lazy("Details"))
    def details(self, payment):
        return payment_details_list(payment)


def invoice_link(invoice):
    if not invoice.pdf_name:
        return _("not rendered yet")
    return format_html(
        '<a href="{}">{}</a>',
        reverse("admin:payments_invoice_pdf", args=[invoice.id]),
        _("Download %(file)s") % {"file": invoice.download_name},
    )


@admin.register(Invoice)
class InvoiceAdmin(admin.ModelAdmin):
    list_display = ["number", "order", "issued_at", "total", "pdf"]
    list_filter = ["year"]
    search_fields = ["=sequence"]  # and the order: get_search_results
    search_help_text = gettext_lazy("An order number, the customer's email or name, or the invoice's sequence number")
    list_select_related = ["order"]
    readonly_fields = ["number", "order", "issued_at", "total", "pdf", "rendered_at"]
    fields = readonly_fields

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # invoice numbers are gapless: an invoice is never deleted

    @admin.display(description=gettext_lazy("Total"))
    def total(self, invoice):
        return format_money(invoice.order.total)

    @admin.display(description=gettext_lazy("PDF"))
    def pdf(self, invoice):
        return invoice_link(invoice)

    def get_search_results(self, request, queryset, search_term):
        return with_order_search(super(), request, queryset, search_term, prefix="order__")

    def get_urls(self):
        return [
            path("<int:invoice_id>/pdf/", self.admin_site.admin_view(self.download), name="payments_invoice_pdf"),
            *super().get_urls(),
        ]

    def download(self, request, invoice_id):
        invoice = get_object_or_404(Invoice, id=invoice_id)
        if not self.has_view_permission(request, invoice):
            raise Http404
        pdf = invoices.open_pdf(invoice)
        if pdf is None:
            raise Http404(_("This invoice has not been rendered yet."))
        return FileResponse(pdf, as_attachment=True, filename=invoice.download_name, content_type="application/pdf")


class InvoiceInline(admin.StackedInline):
    model = Invoice
    fields = ["number", "issued_at", "pdf"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description=gettext_lazy("PDF"))
    def pdf(self, invoice):
        return invoice_link(invoice)


@admin.register(WebhookEvent)
class WebhookEventAdmin(admin.ModelAdmin):
    """Every provider event the shop acted on (or ignored), once each."""

    list_display = ["received", "provider", "type", "event_id", "payment", "outcome"]
    list_filter = ["provider", "type"]
    search_fields = ["event_id"]  # and the order: get_search_results
    search_help_text = gettext_lazy("An order number, the customer's email or name, or the provider's event id")
    readonly_fields = ["provider", "event_id", "type", "payment", "received", "outcome"]
    fields = readonly_fields

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # a deleted record would let the same event act again

    def get_search_results(self, request, queryset, search_term):
        return with_order_search(super(), request, queryset, search_term, prefix="payment__order__")


class PaymentByHandInline(admin.StackedInline):
    model = PaymentByHand
    fields = ["arranged_by", "created"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = gettext_lazy("paid by hand (never expires)")

    def has_add_permission(self, request, obj=None):
        return False


# --- The order page, with what payments adds to it ---------------------------------------------------------

admin.site.unregister(Order)


@admin.register(Order)
class OrderAdmin(orders_admin.OrderAdmin):
    """The orders app's admin, with each order's payments, its invoice, refunds and payment by hand."""

    inlines = [*orders_admin.OrderAdmin.inlines, PaymentInline, InvoiceInline, PaymentByHandInline]
    actions = [*orders_admin.OrderAdmin.actions, "refund_and_cancel", "take_payment_by_hand"]

    @admin.action(
        description=gettext_lazy(
            "Refund and cancel selected orders (money back through the provider, stock back on sale)"
        )
    )
    def refund_and_cancel(self, request, queryset):
        refunded, refused = services.refund_and_cancel(
            order_ids=list(queryset.values_list("id", flat=True)), by=request.user.get_username()
        )
        for payment in refunded:
            self.message_user(
                request,
                _("Order %(order)s: refunded %(amount)s through %(provider)s.")
                % {"order": payment.order_id, "amount": format_money(payment.amount), "provider": payment.provider},
                messages.SUCCESS,
            )
        for why in refused.values():
            self.message_user(request, why, messages.WARNING)

    @admin.action(description=gettext_lazy("Wait for a payment by bank transfer (the order never expires)"))
    def take_payment_by_hand(self, request, queryset):
        ids = services.take_payment_by_hand(
            order_ids=list(queryset.values_list("id", flat=True)), by=request.user.get_username()
        )
        self.message_user(
            request,
            ngettext(
                "%(count)s pending order now waits for a payment by hand; mark it paid when it arrives.",
                "%(count)s pending orders now wait for a payment by hand; mark them paid when they arrive.",
                len(ids),
            )
            % {"count": len(ids)},
            messages.SUCCESS,
        )
