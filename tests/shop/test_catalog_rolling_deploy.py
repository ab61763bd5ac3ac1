"""A product or category written by the release before the languages (during a rolling deploy, its admin still
running) has its name in the old column only: the new release shows that name, not a blank one."""

from decimal import Decimal

from django.utils import translation

from shop.models import Category, Product


def test_a_name_written_by_the_release_before_is_shown_not_a_blank(db, make_product):
    lamp = make_product(name="Lamp", price=Decimal("1.00"))
    # What the old release's INSERT leaves: the old columns, no English (nor German) text.
    Product.objects.rewrite(False).filter(id=lamp.id).update(name="Desk lamp", name_en=None, description="Bright.")
    Category.objects.rewrite(False).filter(id=lamp.category_id).update(name="Lights", name_en=None)
    for language in ("en", "de"):
        with translation.override(language):
            product = Product.objects.select_related("category").get(id=lamp.id)
            assert (product.name, product.category.name) == ("Desk lamp", "Lights"), language
            assert product.description == "Bright."
