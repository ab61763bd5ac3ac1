from django.conf import settings
from django.contrib.postgres.search import SearchVectorField
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models.functions import Now
from django.utils.translation import gettext_lazy as _

from core.reversing import kept_reverse

from . import images, money, search


class Category(models.Model):
    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(_("slug"), max_length=200, unique=True)

    class Meta:
        verbose_name = _("category")
        ordering = ["name"]
        verbose_name_plural = _("categories")

    def __str__(self):
        return self.name

    @classmethod
    def from_db(cls, db, field_names, values):
        return _old_text_as_english(super().from_db(db, field_names, values), ("name",))

    def get_absolute_url(self):
        return kept_reverse("shop:product_list_by_category", self.slug)


def _old_text_as_english(instance, fields):
    """`instance` with the English text of each of `fields` taken from the field's old column where it has none: a
    row the release before the languages wrote during a rolling deploy (migration shop 0008 copied the rows there
    were then). Without it the page, the cart and the order's emails would show a blank name."""
    default = settings.MODELTRANSLATION_DEFAULT_LANGUAGE
    for field in fields:
        english, old = f"{field}_{default}", instance.__dict__.get(field)
        if old and instance.__dict__.get(english, "") is None:  # loaded and NULL, not deferred
            setattr(instance, english, old)
    return instance


def _sort_indexes(language):
    """The sort indexes of one language's catalog pages, on what they sort by (shop.search.sort_name): the
    catalog, a category, and by price (read backwards for high first). The default language's are on plain
    columns; another language's on its name with the default language's in its gaps (an expression)."""
    name = search.sort_name(language)
    if language == settings.MODELTRANSLATION_DEFAULT_LANGUAGE:
        return [
            models.Index(fields=["available", name.name, "id"], name="product_available_name_idx"),
            models.Index(fields=["category", "available", name.name, "id"], name="product_cat_avail_name_idx"),
            models.Index(fields=["available", "price", name.name, "id"], name="product_available_price_idx"),
        ]
    available, category, price, id = (models.F(field) for field in ("available", "category", "price", "id"))
    return [
        models.Index(available, name, id, name=f"product_available_name_{language}_idx"),
        models.Index(category, available, name, id, name=f"product_cat_avail_name_{language}_idx"),
        models.Index(available, price, name, id, name=f"product_available_price_{language}_idx"),
    ]


class Product(models.Model):
    class VatClass(models.TextChoices):
        # The rates are settings (SHOP_VAT_RATE, SHOP_VAT_REDUCED_RATE); an order line freezes the one it sold at.
        STANDARD = "standard", _("Standard rate")
        REDUCED = "reduced", _("Reduced rate (books, food…)")

    category = models.ForeignKey(
        Category, related_name="products", on_delete=models.PROTECT, verbose_name=_("category")
    )
    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(_("slug"), max_length=200, unique=True)
    description = models.TextField(_("description"), blank=True)
    image = models.ImageField(_("image"), upload_to="products/%Y/%m/%d", blank=True)
    # The resized copies of `image` that pages show ([{width, height, name}], narrow first): made once per
    # upload, on save (see shop.images).
    image_renditions = models.JSONField(_("image renditions"), default=list, blank=True, editable=False)
    price = models.DecimalField(_("price"), max_digits=10, decimal_places=2, validators=[MinValueValidator(0)])
    vat_class = models.CharField(  # a database default too: older code (a rolling deploy) still inserts
        _("VAT"),
        max_length=10,
        choices=VatClass.choices,
        default=VatClass.STANDARD,
        db_default=VatClass.STANDARD,
    )
    available = models.BooleanField(_("available"), default=True)
    # The units on hand: the sum of the product's stock movements, changed only with one (see shop.stock).
    stock = models.PositiveIntegerField(_("stock"), default=0)
    created = models.DateTimeField(_("created"), auto_now_add=True)
    updated = models.DateTimeField(_("updated"), auto_now=True)
    # The name (weight A) above the description (B) as a text search vector, kept current by the database itself
    # (a stored generated column, so bulk writes too). NULL on SQLite, which searches without it (shop.search).
    search_vector = models.GeneratedField(
        verbose_name=_("search vector"),
        expression=search.document(),
        output_field=SearchVectorField(),
        db_persist=True,
        editable=False,
    )

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        ordering = ["name", "id"]  # the active language's name (modeltranslation reads "name" as name_de on /de/)
        indexes = [
            # The catalog pages filter on availability (and category) and sort by name, id, in each language by
            # what shop.search.sort_name sorts on: these indexes hand a page over in order without sorting.
            *(index for language, _label in settings.LANGUAGES for index in _sort_indexes(language)),
            # The catalog sorted by newest first (shop.search.SORTS).
            models.Index(fields=["available", "created", "id"], name="product_available_created_idx"),
            search.SearchIndex(fields=["search_vector"], name="product_search_vector_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(price__gte=0), name="product_price_not_negative"),
        ]

    def __str__(self):
        return self.name

    @classmethod
    def from_db(cls, db, field_names, values):
        product = _old_text_as_english(super().from_db(db, field_names, values), ("name", "description"))
        product._saved_image_name = product.__dict__.get("image")  # None when deferred: then treated as none
        return product

    def save(self, *args, **kwargs):
        """Save; when the image changed (a new upload, or removed), replace its resized copies.

        Stock is written only when the product is created (its first movement records it): afterwards it
        moves by recorded deltas alone (shop.stock), never by saving a product loaded a while ago.
        """
        adding = self._state.adding
        if not adding and kwargs.get("update_fields") is None:
            kwargs["update_fields"] = [
                field.attname
                for field in self._meta.concrete_fields
                if not field.primary_key and not field.generated and field.attname != "stock"
            ]
        super().save(*args, **kwargs)
        if adding and self.stock:
            StockMovement.objects.create(
                product=self,
                delta=self.stock,
                balance=self.stock,
                reason=StockMovement.Reason.RECEIVED,
                note="initial stock",
            )
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "image" not in update_fields:
            return
        if (self.image.name or "") == (getattr(self, "_saved_image_name", "") or ""):
            return  # the same upload (or none, as before)
        old = self.image_renditions
        self.image_renditions = images.make_renditions(self.image) if self.image else []
        Product.objects.filter(pk=self.pk).update(image_renditions=self.image_renditions)
        self._saved_image_name = self.image.name
        images.delete_renditions(self.image.storage, [r for r in old or [] if r not in self.image_renditions])

    def get_absolute_url(self):
        return kept_reverse("shop:product_detail", self.id, self.slug)

    @property
    def vat_rate(self):
        """The VAT rate in percent that applies to this product today."""
        return money.vat_rate(self.vat_class)

    @property
    def in_stock(self):
        return self.available and self.stock > 0


class StockMovement(models.Model):
    """One change to a product's stock and why: the ledger. stock = the sum of a product's movements."""

    class Reason(models.TextChoices):
        RECEIVED = "received", _("Received")
        COUNTED = "counted", _("Stock-take correction")
        SOLD = "sold", _("Sold")
        RETURNED = "returned", _("Returned (order cancelled)")

    product = models.ForeignKey(
        Product, related_name="stock_movements", on_delete=models.PROTECT, verbose_name=_("product")
    )
    delta = models.IntegerField(_("delta"))
    balance = models.PositiveIntegerField(_("balance"), help_text=_("The stock after this movement."))
    reason = models.CharField(_("reason"), max_length=20, choices=Reason.choices)
    order = models.ForeignKey(
        "orders.Order",
        null=True,
        blank=True,
        related_name="stock_movements",
        on_delete=models.PROTECT,
        verbose_name=_("order"),
    )
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("by"),
    )
    note = models.CharField(_("note"), max_length=200, blank=True)
    created = models.DateTimeField(_("created"), db_default=Now())

    class Meta:
        verbose_name = _("stock movement")
        verbose_name_plural = _("stock movements")
        ordering = ["-id"]
        indexes = [models.Index(fields=["product", "-id"], name="stockmovement_product_idx")]
        constraints = [models.CheckConstraint(condition=~models.Q(delta=0), name="stockmovement_not_zero")]

    def __str__(self):
        return f"{self.delta:+d} {self.product} ({self.get_reason_display()})"
