"""The catalog's text in every language of the shop (django-modeltranslation, found by its autodiscovery).

Each field named here gets a column per language (name_en, name_de, ...); `product.name`, a filter or an
order_by on "name" read the active language's column, and English where that one is empty (settings:
MODELTRANSLATION_FALLBACK_LANGUAGES). The English text is required, the others are optional and NULL when
missing (so that the German sort can fall back to the English name: shop.search.sort_name). Slugs are not
translated: a product has one URL slug, from its English name.
"""

from django.conf import settings
from modeltranslation.translator import TranslationOptions, register

from .models import Category, Product


class CatalogText(TranslationOptions):
    required_languages = (settings.MODELTRANSLATION_DEFAULT_LANGUAGE,)
    empty_values = None  # a text left empty is NULL, not "": "no translation", never one that reads as blank


@register(Category)
class CategoryText(CatalogText):
    fields = ("name",)


@register(Product)
class ProductText(CatalogText):
    fields = ("name", "description")
