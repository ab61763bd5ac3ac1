from django import forms
from django.utils.translation import gettext_lazy as _

from . import search


class ProductSearchForm(forms.Form):
    """The shopper's search words (`q`), as the header's search box sends them. Django's CharField refuses NUL
    characters; the length is capped so that a pasted page of text gets a message instead of a slow query."""

    q = forms.CharField(
        label=_("Search products"),
        required=False,
        max_length=search.QUERY_MAX_LENGTH,
        error_messages={"max_length": _("Search with at most %(limit_value)d characters.")},
    )
