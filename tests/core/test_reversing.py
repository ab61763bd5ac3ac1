"""kept_reverse() (core/reversing.py): what reverse() gives, in each language and under each script prefix."""

from django.urls import reverse, set_script_prefix
from django.utils import translation

from core.reversing import kept_reverse


def test_it_gives_what_reverse_gives_per_language_and_script_prefix():
    for _ in range(2):
        for language in ("en", "de"):
            with translation.override(language):
                assert kept_reverse("shop:product_detail", 7, "tea") == f"/{language}/product/7/tea/"
                assert kept_reverse("shop:product_detail", 7, "tea") == reverse("shop:product_detail", args=[7, "tea"])
        set_script_prefix("/shop/")
        try:
            with translation.override("de"):
                assert kept_reverse("shop:product_list_by_category", "tea") == "/shop/de/category/tea/"
        finally:
            set_script_prefix("/")
