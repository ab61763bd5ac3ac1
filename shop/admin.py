from django.contrib import admin

from .models import Category, Product


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "slug"]
    prepopulated_fields = {"slug": ("name",)}
    search_fields = ["name"]


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "category", "price", "stock", "available", "created", "updated"]
    list_filter = ["available", "category", "created", "updated"]
    list_editable = ["price", "stock", "available"]
    list_select_related = ["category"]
    prepopulated_fields = {"slug": ("name",)}
    search_fields = ["name", "slug"]
