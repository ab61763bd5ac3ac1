"""Orders as CSV for spreadsheets: amounts as plain numbers a spreadsheet can sum, every text cell quoted,
nothing a spreadsheet would run as a formula."""

import csv
import re
from decimal import Decimal

from django.conf import settings
from django.http import StreamingHttpResponse
from django.utils import timezone, translation

from shop.money import to_amount

# A formula starts with one of these (OWASP "CSV injection"). A spreadsheet that splits on a separator
# other than the writer's, or ignores the quotes, sees a new cell after every `;`, `,`, tab or line break:
# each of those cell parts is neutralised too, not only the start of the value.
FORMULA_START = re.compile(r"(^|[;,\t\r\n])(\s*)(?=[=+\-@])")

COLUMNS = [
    "number",
    "created",
    "status",
    "confirmation email",
    "shipping email",
    "first name",
    "last name",
    "email",
    "address",
    "address line 2",
    "postal code",
    "city",
    "country",
    "phone",
    "items",
    "subtotal",
    "discount",
    "coupon code",
    "shipping",
    "total",
    "currency",
    "carrier",
    "tracking number",
]


def csv_cell(value):
    """`value` as a cell no spreadsheet runs as a formula: a number (int, Decimal) as itself, written
    unquoted; text with a `'` before any part that would start a formula."""
    if (isinstance(value, int) and not isinstance(value, bool)) or (isinstance(value, Decimal) and value.is_finite()):
        return value
    text = "" if value is None else str(value)
    return FORMULA_START.sub(r"\1\2'", text)


def order_rows(queryset):
    """The header, then one row of cell texts per order of `queryset` (in its order), read in chunks; the
    status words in English like the header, whatever language the operator reads the admin in or the thread
    has active when the streamed rows are written (after the view has returned)."""
    yield [csv_cell(name) for name in COLUMNS]
    for order in queryset.prefetch_related("items", "emails").iterator(chunk_size=500):
        with translation.override(settings.LANGUAGE_CODE):
            row = _order_row(order)
        yield row  # outside the override: a generator paused inside it would leave English active


def _order_row(order):
    items = list(order.items.all())
    return [
        csv_cell(value)
        for value in (
            order.number,
            order.created.isoformat(),
            order.get_status_display(),
            order.email_state("confirmation"),
            order.email_state("shipping"),
            order.first_name,
            order.last_name,
            order.email,
            order.address,
            order.address_line2,
            order.postal_code,
            order.city,
            order.country,
            order.phone,
            sum(item.quantity for item in items),
            to_amount(order.subtotal),  # "30.70": the currency has a column of its own
            to_amount(order.discount),
            order.coupon_code,
            to_amount(order.shipping_cost),
            to_amount(order.total),
            settings.SHOP_CURRENCY,
            order.carrier_label if order.carrier else "",
            order.tracking_number,
        )
    ]


class _Echo:
    """A file-like object whose write() hands the line back: csv.writer feeds a streaming response."""

    def write(self, value):
        return value


def orders_csv_response(queryset):
    """A streamed CSV download of the orders in `queryset`."""
    # Text quoted, numbers bare: a spreadsheet reads a bare 30.70 as a number whatever its import options.
    writer = csv.writer(_Echo(), quoting=csv.QUOTE_NONNUMERIC)
    response = StreamingHttpResponse(
        (writer.writerow(row) for row in order_rows(queryset)), content_type="text/csv; charset=utf-8"
    )
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="orders-{stamp}.csv"'
    return response
