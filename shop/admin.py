from django import forms
from django.contrib import admin

from . import images
from .models import Category, Product


class ProductForm(forms.ModelForm):
    def clean_image(self):
        image = self.cleaned_data.get("image")
        if image and image is not self.initial.get("image"):  # a new upload, not the stored file
            images.check_upload(image)
        return image


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "slug"]
    prepopulated_fields = {"slug": ("name",)}
    search_fields = ["name"]


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    form = ProductForm
    list_display = ["name", "slug", "category", "price", "stock", "available", "created", "updated"]
    list_filter = ["available", "category", "created", "updated"]
    list_editable = ["price", "stock", "available"]
    list_select_related = ["category"]
    prepopulated_fields = {"slug": ("name",)}
    search_fields = ["name", "slug"]
