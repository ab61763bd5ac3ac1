"""The languages the shop speaks now (settings.LANGUAGES), for what a row remembers from an earlier one."""

from django.conf import settings
from django.utils import translation


def spoken_language(code):
    """`code` as one of LANGUAGES ("de-at" is "de"); LANGUAGE_CODE for none, or for one the shop no longer
    speaks (an order placed in a language since removed: its emails must not link to /fr/, a 404)."""
    try:
        return translation.get_supported_language_variant(code or settings.LANGUAGE_CODE)
    except LookupError:
        return settings.LANGUAGE_CODE
