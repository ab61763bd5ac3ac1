from django.apps import AppConfig


class RecommendationsConfig(AppConfig):
    """What is bought together: learned from paid orders by the worker, kept in Redis, shown on product and cart."""

    name = "recommendations"

    def ready(self):
        from cart import pages as cart_pages
        from orders.signals import order_status_changed
        from shop import pages as shop_pages

        from . import receivers, sections

        order_status_changed.connect(receivers.on_status_changed, dispatch_uid="recommendations-count-paid")
        shop_pages.add_product_section(sections.product_section)
        cart_pages.add_section(sections.cart_section)
