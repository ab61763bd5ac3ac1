"""The orders in the admin: a list made for finding and following orders (fast at a million), an order page
with its lines, its emails and a button for each next step, and the outbox. Statuses move only through
orders.services.change_status."""

from collections.abc import Callable
from dataclasses import dataclass

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import get_language, gettext_lazy, gettext_noop
from django.utils.translation import gettext as _

from shop.money import format_money
from shop.templatetags.shop_text import zone_name

from . import carriers, export, outbox, services
from .emails import KINDS
from .models import Order, OrderEmail
from .paginator import SEARCH_EXACT_UP_TO, EstimatingPaginator
from .search import search_orders

Status = Order.Status


class EmailStateFilter(admin.SimpleListFilter):
    """Orders by the state of one kind of their emails (e.g. every order whose confirmation failed)."""

    kind = None

    def lookups(self, request, model_admin):
        return OrderEmail.State.choices

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset
        if self.value() not in OrderEmail.State.values:  # a URL made by hand: never sent to the database
            raise IncorrectLookupParameters(f"no such email state: {self.value()!r}")
        return queryset.filter(emails__kind=self.kind, emails__state=self.value())


class KnownChoicesFilter(admin.ChoicesFieldListFilter):
    """Django's filter by a field's choices, refusing any other value instead of querying for it (a NUL byte
    in a hand-made URL would reach PostgreSQL, which refuses it with an error: a 500)."""

    def queryset(self, request, queryset):
        values = self.lookup_val if isinstance(self.lookup_val, list) else [self.lookup_val]
        allowed = {str(value) for value, _ in self.field.flatchoices}
        if any(value is not None and value not in allowed for value in values):
            raise IncorrectLookupParameters(f"no such {self.field.name}: {self.lookup_val!r}")
        return super().queryset(request, queryset)


class ConfirmationFilter(EmailStateFilter):
    title = gettext_lazy("confirmation email")
    parameter_name = "confirmation"
    kind = "confirmation"


class ShippingNoticeFilter(EmailStateFilter):
    title = gettext_lazy("shipping notice")
    parameter_name = "shipping"
    kind = "shipping"


class PlacedFilter(admin.DateFieldListFilter):
    """The date filter (today, past 7 days, this month, this year), named for operators; served by the
    index on `created`."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.title = _("date placed")


def _orders(order_ids):
    """Orders named for a message: "order MS-7K4P-Q2XD" for a few, else how many."""
    if len(order_ids) > 5:
        return _("%(count)s orders") % {"count": len(order_ids)}
    found = dict(Order.objects.filter(id__in=order_ids).values_list("id", "number"))
    return ", ".join(_("order %(number)s") % {"number": found[order_id]} for order_id in order_ids if order_id in found)


# The labels the email kinds are declared with (orders.tasks, payments.tasks), for the catalog: the admin
# translates them when it names a kind.
EMAIL_KIND_LABELS = [gettext_noop("Order confirmation"), gettext_noop("Shipping notice"), gettext_noop("Invoice")]


def _email_name(kind):
    """A kind of email as a sentence names it: "the order confirmation" in English; German keeps its capitals."""
    label = _(str(kind.label))
    return label.lower() if (get_language() or "en").startswith("en") else label


def _record(request, order_ids, what):
    """Write a step an operator took into each order's history (the order page's "History" link)."""
    if order_ids:
        LogEntry.objects.log_actions(
            user_id=request.user.pk,
            queryset=Order.objects.filter(id__in=order_ids),
            action_flag=CHANGE,
            change_message=what,
            single_object=len(order_ids) == 1,
        )


def _resend(model_admin, request, order_ids, kind):
    resent = outbox.resend(order_ids=order_ids, kind=kind)
    label = _email_name(KINDS[kind])
    _record(request, resent, _("Sent the %(email)s again.") % {"email": label})
    if resent:
        model_admin.message_user(
            request,
            _(
                "Sending the %(email)s of %(orders)s again. If the broker is unreachable, the sweep hands it "
                "over when it is back."
            )
            % {"email": label, "orders": _orders(resent)},
            messages.SUCCESS,
        )
    resent_ids = set(resent)
    skipped = [order_id for order_id in order_ids if order_id not in resent_ids]
    if skipped:
        model_admin.message_user(
            request,
            _("Left alone: %(orders)s, whose %(email)s is being sent right now or was never owed.")
            % {"orders": _orders(skipped), "email": label},
            messages.WARNING,
        )


class ShipmentForm(forms.Form):
    """One order's row on the "Ship" page: who carries the parcel and its tracking number."""

    order = forms.IntegerField(widget=forms.HiddenInput)
    carrier = forms.ChoiceField(
        label=gettext_lazy("Carrier"), choices=[("", gettext_lazy("Choose…")), *carriers.carrier_choices()]
    )
    tracking_number = forms.CharField(
        label=gettext_lazy("Tracking number"),
        max_length=80,
        widget=forms.TextInput(attrs={"size": 24, "autocomplete": "off"}),
    )

    def clean_tracking_number(self):
        return carriers.clean_tracking_number(self.cleaned_data["tracking_number"])


ShipmentFormSet = forms.formset_factory(ShipmentForm, extra=0, max_num=services.MAX_SHIP_AT_ONCE, validate_max=True)


@dataclass(frozen=True)
class OrderButton:
    """A button on the order page that runs the admin action `action` on that order alone.

    Shown when `shown(order)` says the step is possible now; the action (and the service it calls) checks
    again when it runs. With `confirm`, a page asks first, saying that, with a `confirm_label` button.
    """

    action: str
    label: str
    shown: Callable[[Order], bool]
    confirm: str = ""
    confirm_label: str = ""


def can_move_to(status):
    """For OrderButton.shown: the transition table allows this order to move to `status`."""
    return lambda order: status in services.TRANSITIONS[order.status]


def owes(kind):
    """For OrderButton.shown: the order owes (or owed) its customer the `kind` email."""
    return lambda order: any(email.kind == kind for email in order.emails.all())


def resend_action(kind):
    """The admin action "Send the <kind> again" for the selected orders (each kind of email has one)."""

    def action(model_admin, request, queryset):
        _resend(model_admin, request, list(queryset.values_list("id", flat=True)), kind.name)

    action.__name__ = f"resend_{kind.name}"
    description = _("Send the %(email)s again") % {"email": _email_name(kind)}  # made per request, in its language
    return admin.action(description=description, permissions=["change"])(action)


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    # Fits 1280 px without scrolling sideways; every column is read from the order row or its prefetched emails.
    list_display = [
        "number",
        "customer_column",
        "email",
        "money_total",
        "placed",
        "status",
        "confirmation",
        "shipping_notice",
    ]
    list_display_links = ["number"]
    list_filter = [("status", KnownChoicesFilter), ConfirmationFilter, ShippingNoticeFilter, ("created", PlacedFilter)]
    search_fields = ["=number", "=email"]  # shows the search box; get_search_results does the matching
    search_help_text = gettext_lazy("Part of a name, an email address or an order number (“ana”, “7K4P”), any case.")
    # At a million orders: no full counts (EstimatingPaginator), no facet counts, and one order, newest first,
    # by id: ids are handed out as orders are placed, so that is placement order, and every index that ends
    # in the order's id (the primary key; status, id; an email's kind, state, order) gives a filtered page in
    # that order without sorting all its matches.
    ordering = ["-id"]
    sortable_by = ["placed"]
    paginator = EstimatingPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    list_per_page = 50
    # The lines and the emails are tables of their own below the form (change_form.html), read-only.
    fieldsets = [
        (None, {"fields": ["number", "status", "placed", "last_changed", "status_page"]}),
        (gettext_lazy("Money"), {"fields": ["money_subtotal", "money_discount", "money_shipping", "money_total"]}),
        (
            gettext_lazy("Customer"),
            {
                "fields": [
                    "first_name",
                    "last_name",
                    "email",
                    "phone",
                    "address",
                    "address_line2",
                    "postal_code",
                    "city",
                    "country",
                ]
            },
        ),
    ]
    # The status moves only through the actions and the buttons (services.change_status and its table).
    readonly_fields = [
        "number",
        "status",
        "placed",
        "last_changed",
        "status_page",
        "money_subtotal",
        "money_discount",
        "money_shipping",
        "money_total",
        "shipment",
    ]
    # And a "Send the ... again" action for each kind of email (get_actions).
    actions = ["mark_paid", "mark_shipped", "cancel", "export_csv"]
    # The order page's buttons, in this order, each shown only when its step is possible for the order; then
    # one to send each kind of email again (get_order_buttons).
    order_buttons = [
        OrderButton("mark_paid", gettext_lazy("Mark paid"), can_move_to(Status.PAID)),
        OrderButton("mark_shipped", gettext_lazy("Ship: carrier and tracking number"), can_move_to(Status.SHIPPED)),
        OrderButton(
            "cancel",
            gettext_lazy("Cancel: stock goes back on sale"),
            can_move_to(Status.CANCELLED),
            confirm=gettext_lazy("Its stock goes back on sale, and a cancelled order cannot be reopened."),
            confirm_label=gettext_lazy("Yes, cancel the order"),
        ),
    ]

    class Media:
        css = {"all": ["css/admin-orders.css"]}

    def has_add_permission(self, request):
        return False  # orders come from checkout only: items, prices and stock are reserved there

    def has_delete_permission(self, request, obj=None):
        return False  # deleting would lose the order's record: cancel it instead

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("emails")

    def get_inline_instances(self, request, obj=None):
        """The inlines other apps add (payments), less those with nothing to show and nothing to add: an empty
        "Invoice" heading tells an operator nothing."""
        inlines = super().get_inline_instances(request, obj)
        if obj is None:
            return inlines
        return [
            inline
            for inline in inlines
            if inline.has_add_permission(request, obj)
            or inline.get_queryset(request).filter(**{inline.get_formset(request, obj).fk.name: obj}).exists()
        ]

    def get_fieldsets(self, request, obj=None):
        """The declared fieldsets, without lines that would be empty: no discount line without a coupon, the
        parcel once the order has shipped."""
        fieldsets = []
        for name, options in super().get_fieldsets(request, obj):
            fields = [field for field in options["fields"] if field != "money_discount" or (obj and obj.discount)]
            if name is None and obj is not None and obj.tracking_number:
                fields.insert(fields.index("status") + 1, "shipment")
            fieldsets.append((name, {**options, "fields": fields}))
        return fieldsets

    def get_search_results(self, request, queryset, search_term):
        return search_orders(queryset, search_term), False

    def get_paginator(self, request, queryset, per_page, orphans=0, allow_empty_first_page=True):
        return _paginator(self, request, queryset, per_page, orphans, allow_empty_first_page)

    def get_actions(self, request):
        actions = super().get_actions(request)
        if actions and self.has_change_permission(request):
            for kind in KINDS.values():
                action = resend_action(kind)
                actions[action.__name__] = (action, action.__name__, action.short_description)
        return actions

    def get_order_buttons(self):
        resend = [
            OrderButton(
                f"resend_{kind.name}", _("Send the %(email)s again") % {"email": _email_name(kind)}, owes(kind.name)
            )
            for kind in KINDS.values()
        ]
        return [*self.order_buttons, *resend]

    def changelist_view(self, request, extra_context=None):
        # Without the admin's navigation column: at 1280 px it would leave the list too narrow for its
        # columns (the home page and the breadcrumbs still lead everywhere).
        return super().changelist_view(request, {"is_nav_sidebar_enabled": False, **(extra_context or {})})

    # --- Columns and fields --------------------------------------------------------------------------
    # Each is called once per row of a 50-row page: kept to string formatting (Django's own checkbox renders
    # a form widget through the template engine, which cost more than the rest of the row).

    def action_checkbox(self, order):
        """The row's tick box for the actions, as Django's JavaScript expects it."""
        return format_html(
            '<input type="checkbox" name="{}" value="{}" class="action-select" aria-label="{}">',
            ACTION_CHECKBOX_NAME,
            order.pk,
            _("Select order %(number)s") % {"number": order.number},
        )

    @admin.display(description=gettext_lazy("Customer"))
    def customer_column(self, order):  # not `customer`: that is the order's account (a field wins over this)
        return order.customer_name

    @admin.display(description=gettext_lazy("Placed"), ordering="id")
    def placed(self, order):
        """In the shop's time zone, named; in a narrow column the time goes under the date."""
        local = timezone.localtime(order.created)
        return format_html(
            '<span class="date">{}</span> <span class="time">{}</span>',
            local.strftime("%Y-%m-%d"),
            f"{local:%H:%M} {zone_name(local)}",
        )

    @admin.display(description=gettext_lazy("Last changed"))
    def last_changed(self, order):
        local = timezone.localtime(order.updated)
        return f"{local:%Y-%m-%d %H:%M} {zone_name(local)}"

    @admin.display(description=gettext_lazy("Confirmation"))
    def confirmation(self, order):
        return _email_state(order, "confirmation")

    @admin.display(description=gettext_lazy("Shipping notice"))
    def shipping_notice(self, order):
        return _email_state(order, "shipping")

    @admin.display(description=gettext_lazy("Subtotal"))
    def money_subtotal(self, order):
        return format_money(order.subtotal)

    @admin.display(description=gettext_lazy("Discount"))
    def money_discount(self, order):
        code = " " + _("(coupon %(code)s)") % {"code": order.coupon_code} if order.coupon_code else ""
        return f"−{format_money(order.discount)}{code}"

    @admin.display(description=gettext_lazy("Parcel"))
    def shipment(self, order):
        if order.tracking_url:
            return format_html(
                '{}, <a href="{}" rel="noopener noreferrer">{}</a>',
                order.carrier_label,
                order.tracking_url,
                order.tracking_number,
            )
        return f"{order.carrier_label}, {order.tracking_number}"

    @admin.display(description=gettext_lazy("Shipping"))
    def money_shipping(self, order):
        return format_money(order.shipping_cost)

    @admin.display(description=gettext_lazy("Total"))
    def money_total(self, order):
        return format_money(order.total)

    @admin.display(description=gettext_lazy("Customer's status page"))
    def status_page(self, order):
        return format_html('<a href="{}">{}</a>', order.get_absolute_url(), _("Open the page the customer sees"))

    def save_model(self, request, obj, form, change):
        """Save only what the form changed: never write back what a worker or another operator changed."""
        if form.changed_data:
            obj.save(update_fields=[*form.changed_data, "updated"])

    # --- The order page's buttons ------------------------------------------------------------------

    def get_urls(self):
        return [
            path("<path:object_id>/act/", self.admin_site.admin_view(self.order_button_view), name="orders_order_act"),
            *super().get_urls(),
        ]

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context.update(title=str(obj), subtitle=None)  # "Order MS-7K4P-Q2XD", not "Change order"
            context["order_lines"] = list(obj.items.select_related("product"))
            context["order_emails"] = list(obj.emails.all())
            if self.has_change_permission(request, obj):
                available = self.get_actions(request)
                context["order_buttons"] = [
                    button for button in self.get_order_buttons() if button.action in available and button.shown(obj)
                ]
        return super().render_change_form(request, context, add, change, form_url, obj)

    def order_button_view(self, request, object_id):
        """POST action=<name>: run that button's admin action on this order, then back to its page."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        order = self.get_object(request, unquote(object_id))
        if order is None:
            raise Http404(_("No such order."))
        if not self.has_change_permission(request, order):
            raise PermissionDenied
        change_page = reverse("admin:orders_order_change", args=[order.pk])
        action = request.POST.get("action")
        button = next((button for button in self.get_order_buttons() if button.action == action), None)
        available = self.get_actions(request)
        if button is None or button.action not in available:
            self.message_user(request, _("That is not something this page can do to an order."), messages.ERROR)
            return redirect(change_page)
        if button.confirm and request.POST.get("confirmed") != "yes":
            context = {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "order": order,
                "button": button,
                "title": _("%(step)s order %(number)s?")
                % {"step": str(button.label).split(":")[0], "number": order.number},
                "change_page": change_page,
            }
            return TemplateResponse(request, "admin/orders/order/confirm_button.html", context)
        run = available[button.action][0]
        response = run(self, request, self.get_queryset(request).filter(pk=order.pk))
        return response or redirect(change_page)

    # --- Actions (the list's, and the buttons') -----------------------------------------------------

    def _change_status(self, request, queryset, to, done):
        changed, refused = services.change_status(order_ids=list(queryset.values_list("id", flat=True)), to=to)
        _record(request, changed, f"{done}.")
        if changed:
            self.message_user(request, f"{done}: {_orders(changed)}.", messages.SUCCESS)
        for why in refused.values():
            self.message_user(request, why, messages.WARNING)

    @admin.action(description=gettext_lazy("Mark selected orders as paid"), permissions=["change"])
    def mark_paid(self, request, queryset):
        self._change_status(request, queryset, Status.PAID, _("Marked paid"))

    @admin.action(
        description=gettext_lazy("Ship selected orders (asks each one's tracking number)"), permissions=["change"]
    )
    def mark_shipped(self, request, queryset):
        """First a page with a row per paid order (carrier, tracking number); its answer ships them."""
        orders = list(queryset.order_by("id").only("id", "number", "status", "first_name", "last_name", "city"))
        shippable = [order for order in orders if Status.SHIPPED in services.TRANSITIONS[order.status]]
        for order in orders:
            if order not in shippable:
                self.message_user(
                    request,
                    _("Order %(number)s is %(status)s: it cannot be shipped.")
                    % {"number": order.number, "status": _status_name(order)},
                    messages.WARNING,
                )
        if not shippable:
            return None
        if len(shippable) > services.MAX_SHIP_AT_ONCE:
            self.message_user(
                request,
                _("Ship at most %(count)s orders at once: select fewer.") % {"count": services.MAX_SHIP_AT_ONCE},
                messages.ERROR,
            )
            return None
        by_id = {order.id: order for order in shippable}
        if "ship" in request.POST:
            formset = ShipmentFormSet(request.POST, prefix="ship")
            if formset.is_valid() and {form.cleaned_data["order"] for form in formset} == set(by_id):
                shipments = {
                    form.cleaned_data["order"]: services.Shipment(
                        form.cleaned_data["carrier"], form.cleaned_data["tracking_number"]
                    )
                    for form in formset
                }
                changed, refused = services.ship(shipments=shipments)
                for order_id in changed:
                    shipment = shipments[order_id]
                    _record(
                        request,
                        [order_id],
                        _("Shipped with %(carrier)s, tracking number %(number)s; the customer gets a notice.")
                        % {
                            "carrier": carriers.carrier_label(shipment.carrier),
                            "number": carriers.clean_tracking_number(shipment.tracking_number),
                        },
                    )
                if changed:
                    self.message_user(
                        request,
                        _("Shipped; each customer gets a notice with the tracking link: %(orders)s.")
                        % {"orders": _orders(changed)},
                        messages.SUCCESS,
                    )
                for why in refused.values():
                    self.message_user(request, why, messages.WARNING)
                return None
        else:
            formset = ShipmentFormSet(
                prefix="ship", initial=[{"order": order.id, "carrier": order.carrier} for order in shippable]
            )
        rows = [(form, by_id.get(_int(form["order"].value()))) for form in formset]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Ship order %(number)s") % {"number": shippable[0].number}
            if len(shippable) == 1
            else _("Ship %(count)s orders") % {"count": len(shippable)},
            "formset": formset,
            "rows": rows,
            "selected": [order.id for order in orders],
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
            "change_page": reverse("admin:orders_order_change", args=[shippable[0].id]) if len(shippable) == 1 else "",
        }
        return TemplateResponse(request, "admin/orders/order/ship.html", context)

    @admin.action(
        description=gettext_lazy("Cancel selected orders (their stock goes back on sale)"), permissions=["change"]
    )
    def cancel(self, request, queryset):
        self._change_status(request, queryset, Status.CANCELLED, _("Cancelled, stock back on sale"))

    @admin.action(description=gettext_lazy("Export selected orders to CSV"))
    def export_csv(self, request, queryset):
        return export.orders_csv_response(queryset.order_by("id"))


def _paginator(model_admin, request, queryset, per_page, orphans, allow_empty_first_page):
    """The list's EstimatingPaginator; a search's count stops sooner (SEARCH_EXACT_UP_TO)."""
    paginator = EstimatingPaginator(queryset, per_page, orphans, allow_empty_first_page)
    if request.GET.get("q", "").strip():
        paginator.exact_up_to = SEARCH_EXACT_UP_TO
    return paginator


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _status_name(order):
    """An order's status as a sentence says it: "pending payment" in English; German keeps its capitals."""
    status = order.get_status_display()
    return status.lower() if (get_language() or "en").startswith("en") else status


def _email_state(order, kind):
    """The state of the order's `kind` email for the list ("—" if none is owed); a failure stands out."""
    state = order.email_state(kind)
    return format_html("<strong>{}</strong>", state) if state == OrderEmail.State.FAILED.label else state


@admin.register(OrderEmail)
class OrderEmailAdmin(admin.ModelAdmin):
    """The outbox: every email owed to a customer, how sending it went, and a way to send it again."""

    list_display = ["order", "kind", "state", "attempts", "queued_at", "sent_at", "claimed_by", "last_error"]
    list_filter = [("kind", KnownChoicesFilter), ("state", KnownChoicesFilter)]
    search_fields = ["=order__number"]  # shows the search box; get_search_results does the matching
    search_help_text = gettext_lazy("Part of a name, an email address or an order number, any case.")
    list_select_related = ["order"]
    # About as many rows as orders: the same care as the order list.
    paginator = EstimatingPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    readonly_fields = [
        "order",
        "kind",
        "state",
        "attempts",
        "created",
        "queued_at",
        "due_at",
        "claimed_at",
        "claim_expires_at",
        "claimed_by",
        "sent_at",
        "last_error",
    ]
    fields = readonly_fields
    actions = ["resend"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # an email owed must stay visible until it is sent

    def get_search_results(self, request, queryset, search_term):
        return search_orders(queryset, search_term, prefix="order__"), False

    def get_paginator(self, request, queryset, per_page, orphans=0, allow_empty_first_page=True):
        return _paginator(self, request, queryset, per_page, orphans, allow_empty_first_page)

    @admin.action(description=gettext_lazy("Send the selected emails again"))
    def resend(self, request, queryset):
        for kind in KINDS:
            order_ids = list(queryset.filter(kind=kind).values_list("order_id", flat=True))
            if order_ids:
                _resend(self, request, order_ids, kind)
