"""Finding products: full-text search with weights on PostgreSQL, a plain substring search elsewhere (SQLite), and
the sort orders of the catalog pages."""

import re

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector, SearchVectorField
from django.db import connection
from django.db.models import Case, F, Func, Index, IntegerField, Q, Value, When
from django.db.models.functions import Coalesce
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _
from modeltranslation.utils import get_language

# The text search configuration (stemming, stop words) of each language of the shop. The stored vector holds all
# the catalog's text, every language's words, once under each configuration; a query uses its page language's
# one, so that it finds a product by its German or its English words, stemmed as the shopper's language does.
# The vector is a generated column: changing this needs a migration that re-adds Product.search_vector.
CONFIGS = {"en": "english", "de": "german"}
QUERY_MAX_LENGTH = 100  # characters; longer input is refused with a message
FALLBACK_MAX_WORDS = 8  # the substring search's words (each one a condition on the name and description columns)

# The sort orders a shopper can choose: value in the URL -> (label, ordering). "relevance" only with a search.
SORTS = {
    "relevance": (_("Best match"), None),
    "name": (_("Name, A to Z"), ("name", "id")),
    "price": (_("Price, low to high"), ("price", "name", "id")),
    "-price": (_("Price, high to low"), ("-price", "name", "id")),
    "newest": (_("Newest first"), ("-created", "-id")),
}


class OnPostgreSQL(Func):
    """`expression` on PostgreSQL; NULL on other databases, which have no text search vectors."""

    arity = 1

    def as_sql(self, compiler, connection, **extra_context):
        return "NULL", []

    def as_postgresql(self, compiler, connection, **extra_context):
        return compiler.compile(self.get_source_expressions()[0])


def _columns(field):
    """The columns of a translated field, one per language of the shop: name_en, name_de."""
    return [f"{field}_{code}" for code, _ in settings.LANGUAGES]


def document():
    """The product's searchable text as a weighted vector: the names (A) above the descriptions (B), in every
    language, each under every language's configuration (CONFIGS)."""
    vectors = [
        SearchVector(*_columns(field), weight=weight, config=config)
        for config in CONFIGS.values()
        for field, weight in (("name", "A"), ("description", "B"))
    ]
    vector = vectors[0]
    for other in vectors[1:]:
        vector = vector + other
    return OnPostgreSQL(vector, output_field=SearchVectorField())


def query_config():
    """The text search configuration of the active language's searches."""
    return CONFIGS[get_language()]


def sort_name(language=None):
    """What "by name" sorts on in `language` (the active one by default): the default language's name, else the
    language's name or, where a product has none, the default language's one: the name the page shows. The
    catalog's sort indexes (shop.models) are on exactly these expressions."""
    language = language or get_language()
    default = settings.MODELTRANSLATION_DEFAULT_LANGUAGE
    if language == default:
        return F(f"name_{default}")
    return Coalesce(f"name_{language}", f"name_{default}")


def ordering(sort):
    """The order_by() of the sort order `sort` (a key of SORTS but "relevance") in the active language."""
    return [sort_name() if key == "name" else key for key in SORTS[sort][1]]


def full_text():
    """True when the database searches with the stored vector (PostgreSQL), False for the substring fallback."""
    return connection.vendor == "postgresql"


def find(products, words, sort):
    """`products` matching the shopper's `words` (all of them when there are none), in the order `sort` names
    (a key of SORTS; "relevance": best match first)."""
    if words:
        products = _matching(products, words, by_relevance=sort == "relevance")
    if sort == "relevance":
        return products
    return products.order_by(*ordering(sort))


def _matching(products, words, *, by_relevance):
    """PostgreSQL: the stored weighted vector (Product.search_vector, GIN-indexed) against a web-search style query
    (quotes for phrases, "or", "-" to exclude: any input is valid). Elsewhere: every word is found in a name or
    a description (any language's) at the start of a word, ignoring case, and products with a name that has every
    word come first.
    """
    if full_text():
        query = SearchQuery(words, search_type="websearch", config=query_config())
        products = products.filter(search_vector=query)
        if by_relevance:
            products = products.annotate(rank=SearchRank(F("search_vector"), query)).order_by(
                "-rank", sort_name(), "id"
            )
        return products
    # Words as the shopper typed them, quotes and a leading "-" or "+" aside, each found where a word starts
    # ("tea" finds "teapot", not "steady"): (^|\W) means that in Python's regexes (SQLite) and PostgreSQL's.
    terms = [term.lstrip("-+") for term in re.findall(r"[^\s\"']+", words)][:FALLBACK_MAX_WORDS]
    starts = [rf"(^|\W){re.escape(term)}" for term in terms if term]
    for start in starts:
        products = products.filter(_found_in(_columns("name") + _columns("description"), start))
    if by_relevance and starts:
        # A name (in one language) that has every word.
        in_name = Q(*(Q(*(_found_in([name], start) for start in starts)) for name in _columns("name")), _connector=Q.OR)
        products = products.annotate(
            name_match=Case(When(in_name, then=Value(0)), default=Value(1), output_field=IntegerField())
        ).order_by("name_match", sort_name(), "id")
    return products


def _found_in(columns, start):
    """A condition: one of these columns has `start` (a regex) in it, ignoring case."""
    return Q(*(Q(**{f"{column}__iregex": start}) for column in columns), _connector=Q.OR)


def default_sort(*, searching):
    """The order a page has when the shopper chose none: best match for a search, else by name."""
    return "relevance" if searching else "name"


def chosen_sort(value, *, searching):
    """The sort order `value` names, or the default one when it names none that fits (bad input falls back)."""
    if value in SORTS and (searching or value != "relevance"):
        return value
    return default_sort(searching=searching)


def kept_parameters(words, sort):
    """The query parameters a results page's links keep (its categories, pages and "clear the search" links):
    the search words and a sort other than the default, nothing else (never the page, never junk)."""
    kept = QueryDict(mutable=True)
    if words:
        kept["q"] = words
    if sort != default_sort(searching=bool(words)):
        kept["sort"] = sort
    return kept


def sort_options(chosen, *, searching):
    """[(value, label, selected)] for the sort control; "Best match" only on a search."""
    return [(value, label, value == chosen) for value, (label, _) in SORTS.items() if searching or value != "relevance"]


class SearchIndex(GinIndex):
    """A GIN index on PostgreSQL. Other databases get a plain index instead (SQLite has no GIN, and its vector
    column is NULL), so that the same migrations build the table everywhere."""

    def create_sql(self, model, schema_editor, using="", **kwargs):
        if schema_editor.connection.vendor != "postgresql":
            return Index.create_sql(self, model, schema_editor, using=using, **kwargs)
        return super().create_sql(model, schema_editor, using=using, **kwargs)
