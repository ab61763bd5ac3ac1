"""Load a small demo catalog, in English and German, with a picture per product; running it again creates nothing
new (it only fills in German text a demo product or category lacks)."""

from decimal import Decimal

from django.core.files.base import ContentFile
from django.core.management.base import BaseCommand
from django.db import transaction

from shop import demo_pictures
from shop.demo_pictures import Picture
from shop.models import Category, Product

# (slug, name, the backdrop colour of its product pictures)
CATEGORIES = [
    ("coffee", "Coffee", "#d9c3a5"),
    ("tea", "Tea", "#c9d6c0"),
    ("brewing-gear", "Brewing gear", "#b9c4cc"),
    ("mugs-cups", "Mugs & cups", "#d7a58c"),
]

# Coffee and tea are food, sold at the reduced rate in Germany; the gear and the mugs at the standard one.
VAT_CLASSES = {"coffee": Product.VatClass.REDUCED, "tea": Product.VatClass.REDUCED}

# (category slug, product slug, name, description, price, stock, picture)
PRODUCTS = [
    (
        "coffee",
        "ethiopia-yirgacheffe-250g",
        "Ethiopia Yirgacheffe, 250 g",
        "Washed single-origin beans with notes of jasmine, lemon and bergamot. Light roast, best as pour-over.",
        Decimal("12.90"),
        40,
        Picture("pouch", "#8c4a2f", "Ethiopia", "Yirgacheffe · 250 g"),
    ),
    (
        "coffee",
        "colombia-huila-250g",
        "Colombia Huila, 250 g",
        "Balanced and sweet: caramel, red apple and milk chocolate. A medium roast for every brew method.",
        Decimal("11.50"),
        35,
        Picture("pouch", "#2f5d62", "Colombia", "Huila · 250 g"),
    ),
    (
        "coffee",
        "house-espresso-blend-1kg",
        "House espresso blend, 1 kg",
        "Our everyday espresso: Brazilian and Indian beans, roasted dark for a thick crema and cocoa finish.",
        Decimal("32.00"),
        18,
        Picture("pouch", "#26252b", "Espresso", "House blend · 1 kg"),
    ),
    (
        "tea",
        "sencha-fukamushi-100g",
        "Sencha Fukamushi, 100 g",
        "Deep-steamed Japanese green tea, grassy and smooth. Brew at 70 °C for one minute.",
        Decimal("14.50"),
        25,
        Picture("tin", "#3f6b4a", "Sencha", "Fukamushi · 100 g"),
    ),
    (
        "tea",
        "assam-breakfast-200g",
        "Assam breakfast, 200 g",
        "Strong, malty loose-leaf black tea that stands up to milk.",
        Decimal("9.80"),
        50,
        Picture("tin", "#7b2d26", "Assam", "Breakfast · 200 g"),
    ),
    (
        "tea",
        "chamomile-blossoms-50g",
        "Chamomile blossoms, 50 g",
        "Whole organic chamomile flowers for a calm evening cup.",
        Decimal("6.40"),
        30,
        Picture("tin", "#c9a22e", "Chamomile", "Blossoms · 50 g"),
    ),
    (
        "brewing-gear",
        "ceramic-pour-over-dripper",
        "Ceramic pour-over dripper",
        "A glazed porcelain dripper for size-02 filters; keeps the brew temperature steady.",
        Decimal("24.00"),
        15,
        Picture("dripper", "#e9e4dc"),
    ),
    (
        "brewing-gear",
        "hand-grinder-conical-burr",
        "Hand grinder with conical burrs",
        "Stainless-steel burrs and 40 click settings, from espresso to French press.",
        Decimal("59.00"),
        8,
        Picture("grinder", "#a8adb3"),
    ),
    (
        "brewing-gear",
        "gooseneck-kettle-1l",
        "Gooseneck kettle, 1 l",
        "A slim spout for a slow, precise pour. Works on gas, electric and induction hobs.",
        Decimal("42.50"),
        12,
        Picture("kettle", "#2f3436"),
    ),
    (
        "brewing-gear",
        "paper-filters-02-100",
        "Paper filters size 02, 100 pcs",
        "Unbleached paper filters that leave no papery taste.",
        Decimal("4.90"),
        45,
        Picture("filters", "#c9a77c"),
    ),
    (
        "mugs-cups",
        "stoneware-mug-350ml",
        "Stoneware mug, 350 ml",
        "Hand-glazed stoneware in speckled white; dishwasher safe.",
        Decimal("16.00"),
        22,
        Picture("mug", "#ede6da"),
    ),
    (
        "mugs-cups",
        "double-wall-glass-cup-set",
        "Double-walled glass cups, set of 2",
        "Borosilicate glass that keeps drinks hot and hands cool. 250 ml each.",
        Decimal("19.90"),
        5,
        Picture("glasses", "#dfe8ee"),
    ),
]


# The German text of the demo categories and products, by slug (the English is in CATEGORIES and PRODUCTS).
GERMAN_CATEGORIES = {
    "coffee": "Kaffee",
    "tea": "Tee",
    "brewing-gear": "Zubehör für die Zubereitung",
    "mugs-cups": "Becher & Tassen",
}
GERMAN_PRODUCTS = {
    "ethiopia-yirgacheffe-250g": (
        "Äthiopien Yirgacheffe, 250 g",
        "Gewaschene Bohnen einer einzigen Herkunft mit Noten von Jasmin, Zitrone und Bergamotte. Helle Röstung, am "
        "besten von Hand aufgegossen.",
    ),
    "colombia-huila-250g": (
        "Kolumbien Huila, 250 g",
        "Ausgewogen und süß: Karamell, roter Apfel und Milchschokolade. Eine mittlere Röstung für jede "
        "Zubereitungsart.",
    ),
    "house-espresso-blend-1kg": (
        "Espresso-Hausmischung, 1 kg",
        "Unser Espresso für jeden Tag: Bohnen aus Brasilien und Indien, dunkel geröstet für eine dichte Crema und "
        "einen Abgang nach Kakao.",
    ),
    "sencha-fukamushi-100g": (
        "Sencha Fukamushi, 100 g",
        "Lang gedämpfter japanischer Grüntee, grasig und mild. Bei 70 °C eine Minute ziehen lassen.",
    ),
    "assam-breakfast-200g": (
        "Assam-Frühstückstee, 200 g",
        "Kräftiger, malziger Schwarztee, lose, der auch mit Milch gut schmeckt.",
    ),
    "chamomile-blossoms-50g": (
        "Kamillenblüten, 50 g",
        "Ganze Kamillenblüten aus biologischem Anbau für eine ruhige Tasse am Abend.",
    ),
    "ceramic-pour-over-dripper": (
        "Keramik-Handfilter",
        "Ein glasierter Porzellanfilter für Filtertüten der Größe 02; hält die Brühtemperatur gleichmäßig.",
    ),
    "hand-grinder-conical-burr": (
        "Handmühle mit Kegelmahlwerk",
        "Mahlwerk aus Edelstahl mit 40 Raststufen, von Espresso bis French Press.",
    ),
    "gooseneck-kettle-1l": (
        "Schwanenhalskessel, 1 l",
        "Ein schmaler Ausguss zum langsamen, genauen Aufgießen. Für Gas-, Elektro- und Induktionsherde.",
    ),
    "paper-filters-02-100": (
        "Papierfilter Größe 02, 100 Stück",
        "Ungebleichte Papierfilter, die keinen Papiergeschmack hinterlassen.",
    ),
    "stoneware-mug-350ml": (
        "Steinzeugbecher, 350 ml",
        "Von Hand glasiertes Steinzeug in gesprenkeltem Weiß; spülmaschinenfest.",
    ),
    "double-wall-glass-cup-set": (
        "Doppelwandige Gläser, 2er-Set",
        "Borosilikatglas hält Getränke heiß und die Hände kühl. Je 250 ml.",
    ),
}


def _create_missing(model, slug, values):
    """Create the row unless its slug exists; an existing row is left as the shop's staff made it (stock
    sold, prices changed, products withdrawn), so re-running the command never restocks or reprices."""
    row, created = model.objects.get_or_create(slug=slug, defaults=values)
    return row, "created" if created else "kept"


def _fill_in(row, values):
    """Give an existing row the text of `values` ({column: text}) where it has none (a demo loaded before the
    German text shipped); text the staff wrote is kept. Return whether it changed the row."""
    missing = [column for column, text in values.items() if not getattr(row, column)]
    for column in missing:
        setattr(row, column, values[column])
    if missing:
        row.save(update_fields=missing)
    return bool(missing)


def _give_picture(product, picture, backdrop):
    """Draw the product's picture unless it has one (a photo staff uploaded is kept); return whether it drew.

    The picture is saved as an upload is, so Product.save makes its resized copies (shop.images).
    """
    if product.image and product.image.storage.exists(product.image.name):
        return False
    if product.image:  # its file is gone (a wiped media folder): forget it, so the new file gets copies made
        product.image = ""
        product.save(update_fields=["image"])
    product.image = ContentFile(demo_pictures.draw(picture, backdrop), name=f"{product.slug}.jpg")
    product.save(update_fields=["image"])
    return True


class Command(BaseCommand):
    help = (
        "Create a small demo catalog in English and German, with a picture drawn for each product; products and "
        "categories that exist already are left untouched, except that a demo product without a picture gets one "
        "and German text missing from a demo product or category is filled in."
    )

    @transaction.atomic
    def handle(self, *args, **options):
        outcomes = {"created": 0, "kept": 0}
        categories, backdrops = {}, {}
        for slug, name, backdrop in CATEGORIES:
            german = {"name_de": GERMAN_CATEGORIES[slug]}
            categories[slug], outcome = _create_missing(Category, slug, {"name_en": name, **german})
            backdrops[slug] = backdrop
            if outcome == "kept":
                _fill_in(categories[slug], german)
            outcomes[outcome] += 1
        drawn = 0
        for category_slug, slug, name, description, price, stock, picture in PRODUCTS:
            german = dict(zip(("name_de", "description_de"), GERMAN_PRODUCTS[slug]))
            product, outcome = _create_missing(
                Product,
                slug,
                {
                    "category_id": categories[category_slug].id,
                    "name_en": name,
                    "description_en": description,
                    **german,
                    "price": price,
                    "available": True,
                    "stock": stock,
                    "vat_class": VAT_CLASSES.get(category_slug, Product.VatClass.STANDARD),
                },
            )
            outcomes[outcome] += 1
            if outcome == "kept":
                _fill_in(product, german)
            drawn += _give_picture(product, picture, backdrops[category_slug])
        if options["verbosity"] > 1:
            self.stdout.write(", ".join(f"{count} {outcome}" for outcome, count in outcomes.items()))
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo catalog: {len(CATEGORIES)} categories, {len(PRODUCTS)} products, "
                f"{drawn} picture{'s' if drawn != 1 else ''} drawn"
            )
        )
