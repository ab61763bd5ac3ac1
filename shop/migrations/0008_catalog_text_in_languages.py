"""The catalog's names and descriptions per language (shop/translation.py, django-modeltranslation).

The existing text becomes the English text (the default language, which pages fall back to), so a shop keeps its
names; German starts empty. The search vector is rebuilt from every language's columns, and the sort indexes move
to what each language sorts by (shop.search.sort_name). Back again, the English text is copied into the old columns.
"""

import django.contrib.postgres.search
import django.db.models.functions.comparison
from django.db import migrations, models
from django.db.models.functions import Coalesce, NullIf

import shop.search


def english_from_the_text(apps, schema_editor):
    Category = apps.get_model("shop", "Category")
    Product = apps.get_model("shop", "Product")
    Category.objects.update(name_en=models.F("name"))
    Product.objects.update(name_en=models.F("name"), description_en=NullIf("description", models.Value("")))


def text_from_the_english(apps, schema_editor):
    # One UPDATE per table: PostgreSQL refuses to alter a table (the next steps back) once a row this transaction
    # wrote is updated again, as that queues the deferred foreign key checks.
    Category = apps.get_model("shop", "Category")
    Product = apps.get_model("shop", "Product")
    Category.objects.update(name=Coalesce("name_en", "name"))
    Product.objects.update(name=Coalesce("name_en", "name"), description=Coalesce("description_en", models.Value("")))


class Migration(migrations.Migration):
    dependencies = [
        ("shop", "0007_product_vat_class"),
    ]

    operations = [
        migrations.AddField(
            model_name="category",
            name="name_de",
            field=models.CharField(max_length=200, null=True),
        ),
        migrations.AddField(
            model_name="category",
            name="name_en",
            field=models.CharField(max_length=200, null=True),
        ),
        migrations.AddField(
            model_name="product",
            name="description_de",
            field=models.TextField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="product",
            name="description_en",
            field=models.TextField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="product",
            name="name_de",
            field=models.CharField(max_length=200, null=True),
        ),
        migrations.AddField(
            model_name="product",
            name="name_en",
            field=models.CharField(max_length=200, null=True),
        ),
        # A generated column's expression cannot be altered in place: the vector is dropped and made again.
        migrations.RemoveIndex(
            model_name="product",
            name="product_search_vector_idx",
        ),
        migrations.RemoveField(
            model_name="product",
            name="search_vector",
        ),
        migrations.AddField(
            model_name="product",
            name="search_vector",
            field=models.GeneratedField(
                db_persist=True,
                expression=shop.search.OnPostgreSQL(
                    django.contrib.postgres.search.CombinedSearchVector(
                        django.contrib.postgres.search.CombinedSearchVector(
                            django.contrib.postgres.search.CombinedSearchVector(
                                django.contrib.postgres.search.SearchVector(
                                    "name_en", "name_de", config="english", weight="A"
                                ),
                                "||",
                                django.contrib.postgres.search.SearchVector(
                                    "description_en", "description_de", config="english", weight="B"
                                ),
                                django.contrib.postgres.search.SearchConfig("english"),
                            ),
                            "||",
                            django.contrib.postgres.search.SearchVector(
                                "name_en", "name_de", config="german", weight="A"
                            ),
                            django.contrib.postgres.search.SearchConfig("english"),
                        ),
                        "||",
                        django.contrib.postgres.search.SearchVector(
                            "description_en", "description_de", config="german", weight="B"
                        ),
                        django.contrib.postgres.search.SearchConfig("english"),
                    ),
                    output_field=django.contrib.postgres.search.SearchVectorField(),
                ),
                output_field=django.contrib.postgres.search.SearchVectorField(),
            ),
        ),
        migrations.AddIndex(
            model_name="product",
            index=shop.search.SearchIndex(fields=["search_vector"], name="product_search_vector_idx"),
        ),
        # The sort indexes: the English ones on name_en instead of the old column, the German ones on the German
        # name with the English one in its gaps.
        migrations.RemoveIndex(
            model_name="product",
            name="product_available_name_idx",
        ),
        migrations.RemoveIndex(
            model_name="product",
            name="product_cat_avail_name_idx",
        ),
        migrations.RemoveIndex(
            model_name="product",
            name="product_available_price_idx",
        ),
        migrations.AddIndex(
            model_name="product",
            index=models.Index(fields=["available", "name_en", "id"], name="product_available_name_idx"),
        ),
        migrations.AddIndex(
            model_name="product",
            index=models.Index(fields=["category", "available", "name_en", "id"], name="product_cat_avail_name_idx"),
        ),
        migrations.AddIndex(
            model_name="product",
            index=models.Index(fields=["available", "price", "name_en", "id"], name="product_available_price_idx"),
        ),
        migrations.AddIndex(
            model_name="product",
            index=models.Index(
                models.F("available"),
                django.db.models.functions.comparison.Coalesce("name_de", "name_en"),
                models.F("id"),
                name="product_available_name_de_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="product",
            index=models.Index(
                models.F("category"),
                models.F("available"),
                django.db.models.functions.comparison.Coalesce("name_de", "name_en"),
                models.F("id"),
                name="product_cat_avail_name_de_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="product",
            index=models.Index(
                models.F("available"),
                models.F("price"),
                django.db.models.functions.comparison.Coalesce("name_de", "name_en"),
                models.F("id"),
                name="product_available_price_de_idx",
            ),
        ),
        # Last, after the steps that rewrite the table, and first on the way back (see text_from_the_english).
        migrations.RunPython(english_from_the_text, text_from_the_english, elidable=False),
    ]
