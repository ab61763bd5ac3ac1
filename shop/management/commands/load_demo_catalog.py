"""Load a small demo catalog; running it again updates the same rows and creates nothing new."""

from decimal import Decimal

from django.core.management.base import BaseCommand
from django.db import transaction

from shop.models import Category, Product

CATEGORIES = [
    ("coffee", "Coffee"),
    ("tea", "Tea"),
    ("brewing-gear", "Brewing gear"),
    ("mugs-cups", "Mugs & cups"),
]

# (category slug, product slug, name, description, price, stock)
PRODUCTS = [
    (
        "coffee",
        "ethiopia-yirgacheffe-250g",
        "Ethiopia Yirgacheffe, 250 g",
        "Washed single-origin beans with notes of jasmine, lemon and bergamot. Light roast, best as pour-over.",
        Decimal("12.90"),
        40,
    ),
    (
        "coffee",
        "colombia-huila-250g",
        "Colombia Huila, 250 g",
        "Balanced and sweet: caramel, red apple and milk chocolate. A medium roast for every brew method.",
        Decimal("11.50"),
        35,
    ),
    (
        "coffee",
        "house-espresso-blend-1kg",
        "House espresso blend, 1 kg",
        "Our everyday espresso: Brazilian and Indian beans, roasted dark for a thick crema and cocoa finish.",
        Decimal("32.00"),
        18,
    ),
    (
        "tea",
        "sencha-fukamushi-100g",
        "Sencha Fukamushi, 100 g",
        "Deep-steamed Japanese green tea, grassy and smooth. Brew at 70 °C for one minute.",
        Decimal("14.50"),
        25,
    ),
    (
        "tea",
        "assam-breakfast-200g",
        "Assam breakfast, 200 g",
        "Strong, malty loose-leaf black tea that stands up to milk.",
        Decimal("9.80"),
        50,
    ),
    (
        "tea",
        "chamomile-blossoms-50g",
        "Chamomile blossoms, 50 g",
        "Whole organic chamomile flowers for a calm evening cup.",
        Decimal("6.40"),
        30,
    ),
    (
        "brewing-gear",
        "ceramic-pour-over-dripper",
        "Ceramic pour-over dripper",
        "A glazed porcelain dripper for size-02 filters; keeps the brew temperature steady.",
        Decimal("24.00"),
        15,
    ),
    (
        "brewing-gear",
        "hand-grinder-conical-burr",
        "Hand grinder with conical burrs",
        "Stainless-steel burrs and 40 click settings, from espresso to French press.",
        Decimal("59.00"),
        8,
    ),
    (
        "brewing-gear",
        "gooseneck-kettle-1l",
        "Gooseneck kettle, 1 l",
        "A slim spout for a slow, precise pour. Works on gas, electric and induction hobs.",
        Decimal("42.50"),
        12,
    ),
    (
        "brewing-gear",
        "paper-filters-02-100",
        "Paper filters size 02, 100 pcs",
        "Unbleached paper filters that leave no papery taste.",
        Decimal("4.90"),
        45,
    ),
    (
        "mugs-cups",
        "stoneware-mug-350ml",
        "Stoneware mug, 350 ml",
        "Hand-glazed stoneware in speckled white; dishwasher safe.",
        Decimal("16.00"),
        22,
    ),
    (
        "mugs-cups",
        "double-wall-glass-cup-set",
        "Double-walled glass cups, set of 2",
        "Borosilicate glass that keeps drinks hot and hands cool. 250 ml each.",
        Decimal("19.90"),
        5,
    ),
]


def _create_missing(model, slug, values):
    """Create the row unless its slug exists; an existing row is left as the shop's staff made it (stock
    sold, prices changed, products withdrawn), so re-running the command never restocks or reprices."""
    _, created = model.objects.get_or_create(slug=slug, defaults=values)
    return _, "created" if created else "kept"


class Command(BaseCommand):
    help = "Create a small demo catalog; products and categories that exist already are left untouched."

    @transaction.atomic
    def handle(self, *args, **options):
        outcomes = {"created": 0, "kept": 0}
        categories = {}
        for slug, name in CATEGORIES:
            categories[slug], outcome = _create_missing(Category, slug, {"name": name})
            outcomes[outcome] += 1
        for category_slug, slug, name, description, price, stock in PRODUCTS:
            _, outcome = _create_missing(
                Product,
                slug,
                {
                    "category_id": categories[category_slug].id,
                    "name": name,
                    "description": description,
                    "price": price,
                    "available": True,
                    "stock": stock,
                },
            )
            outcomes[outcome] += 1
        if options["verbosity"] > 1:
            self.stdout.write(", ".join(f"{count} {outcome}" for outcome, count in outcomes.items()))
        self.stdout.write(self.style.SUCCESS(f"Demo catalog: {len(CATEGORIES)} categories, {len(PRODUCTS)} products"))
