"""Make the resized copies of product photos uploaded before copies existed (or of all, with --all)."""

from django.core.management.base import BaseCommand

from shop import images
from shop.models import Product


class Command(BaseCommand):
    help = "Make the resized copies (renditions) of product photos that have none; --all remakes every one."

    def add_arguments(self, parser):
        parser.add_argument("--all", action="store_true", help="remake the copies of every product photo")

    def handle(self, *args, all=False, **options):
        products = Product.objects.exclude(image="")
        if not all:
            products = products.filter(image_renditions=[])
        done = 0
        for product in products.iterator():
            old = product.image_renditions
            renditions = images.make_renditions(product.image)
            Product.objects.filter(pk=product.pk).update(image_renditions=renditions)
            images.delete_renditions(product.image.storage, [r for r in old if r not in renditions])
            done += 1
        self.stdout.write(f"Resized the photos of {done} product{'s' if done != 1 else ''}.")
