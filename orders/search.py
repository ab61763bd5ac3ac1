"""Finding orders by part of a name, an email address or an order number: the admin's search box (and the
payment pages', through `prefix`). On PostgreSQL each part is served by a trigram index (TrigramIndex)."""

import re

from django.contrib.postgres.indexes import GinIndex, OpClass
from django.db.models import Index, Q

from . import numbers

MAX_SEARCH = 254  # the longest email address
MAX_WORDS = 6
# A trigram index serves a part of at least three characters; a search made only of shorter words ("Li")
# matches whole names instead, which the same indexes serve (pg_trgm answers equality too).
MIN_PART = 3
FIELDS = ("first_name", "last_name", "email", "number")
# A whole address is looked up as a whole (the btree on UPPER(email)): its parts ("shop", "@gmail.com") are in
# so many addresses that their trigrams' lists would be read whole.
WHOLE_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]{2,}")


class TrigramIndex(GinIndex):
    """`TrigramIndex(Upper("email"))`: a GIN index with gin_trgm_ops on UPPER(field), the expression Django's
    icontains compares on PostgreSQL (`UPPER("email"::text) LIKE UPPER('%ana%')`). SQLite has neither GIN
    nor trigrams: it gets a plain index on the expression, so that the same migrations build the table."""

    def __init__(self, *expressions, **kwargs):
        expressions = [
            expression if isinstance(expression, OpClass) else OpClass(expression, name="gin_trgm_ops")
            for expression in expressions
        ]
        super().__init__(*expressions, **kwargs)

    def create_sql(self, model, schema_editor, using="", **kwargs):
        if schema_editor.connection.vendor != "postgresql":
            plain = [expression.source_expressions[0] for expression in self.expressions]
            return Index(*plain, name=self.name).create_sql(model, schema_editor, using=using, **kwargs)
        return super().create_sql(model, schema_editor, using=using, **kwargs)


def search_orders(queryset, term, *, prefix=""):
    """Orders (or rows reached through `prefix`, e.g. "order__") matching every word of `term` in one of
    their name, email or number, any case ("ana" finds Ana Müller, "7K4P" finds MS-7K4P-Q2XD); or whose
    number `term` is, however typed ("ms 7k4p q2xo"). A whole email address matches that address only."""
    term = " ".join(term.replace("\x00", "").split())[:MAX_SEARCH]
    if not term:
        return queryset
    if WHOLE_EMAIL.fullmatch(term):
        return queryset.filter(**{f"{prefix}email__iexact": term})
    words = term.split(" ")[:MAX_WORDS]
    if any(len(word) >= MIN_PART for word in words):
        lookup = "icontains"
    else:
        lookup = "iexact"
    matches = Q()
    for word in words:
        matches &= Q.create([(f"{prefix}{field}__{lookup}", word) for field in FIELDS], connector=Q.OR)
    number = numbers.parse_number(term)
    if number:
        matches |= Q(**{f"{prefix}number": number})
    return queryset.filter(matches)
