"""A paginator for admin lists of big tables: it never counts more rows than it can afford to.

Django's admin counts every row the list could show, on every page view (`SELECT COUNT(*)` over the whole
table when nothing is filtered): at a million orders that count costs more than the rest of the page. Here
the count stops at EXACT_UP_TO rows; beyond that, PostgreSQL's planner estimates it (from its statistics,
in about a millisecond) and the page says "about". Other databases count exactly.
"""

import json

from django.core.paginator import Paginator
from django.db import connections
from django.utils.formats import number_format
from django.utils.functional import cached_property
from django.utils.translation import gettext as _

EXACT_UP_TO = 10_000
# A search's matches are counted up to here: past it, finding each match costs more than a page is worth
# (bench/RESULTS.md, "Order search at a million orders").
SEARCH_EXACT_UP_TO = 1_000


class EstimatingPaginator(Paginator):
    """Counts exactly up to EXACT_UP_TO rows, then estimates; `count_is_estimate` says which."""

    count_is_estimate = False
    exact_up_to = None  # None: EXACT_UP_TO

    @cached_property
    def count(self):
        queryset = self.object_list.order_by()
        if connections[queryset.db].vendor != "postgresql":
            return queryset.count()
        exact_up_to = EXACT_UP_TO if self.exact_up_to is None else self.exact_up_to
        counted = queryset[: exact_up_to + 1].count()  # reads at most exact_up_to + 1 index entries
        if counted <= exact_up_to:
            return counted
        self.count_is_estimate = True
        return max(_planner_estimate(queryset), counted)

    @property
    def count_text(self):
        """The count for people: "1,234 orders" or, for an estimate, "about 1,200,000" (3 figures)."""
        count = self.count
        if not self.count_is_estimate:
            return number_format(count, force_grouping=True)
        rounded = round(count, 3 - len(str(count)))
        return _("about %(count)s") % {"count": number_format(rounded, force_grouping=True)}

    def get_elided_page_range(self, number=1, *, on_each_side=3, on_ends=2):
        """As Django's, except that an estimated count offers no links near its end: those pages may not
        exist, and reaching them would mean skipping most of the table."""
        pages = list(super().get_elided_page_range(number, on_each_side=on_each_side, on_ends=on_ends))
        if not self.count_is_estimate:
            return pages
        number = self.validate_number(number)
        nearby = [page for page in pages if page == self.ELLIPSIS or page <= number + on_each_side]
        while nearby and nearby[-1] == self.ELLIPSIS:
            nearby.pop()
        return [*nearby, self.ELLIPSIS]


def _planner_estimate(queryset):
    """How many rows PostgreSQL's planner expects `queryset` to return (EXPLAIN; nothing is read)."""
    sql, params = queryset.query.sql_with_params()
    with connections[queryset.db].cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])
