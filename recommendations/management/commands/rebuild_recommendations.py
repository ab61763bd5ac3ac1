"""Recount "bought together" from the database's paid orders and swap it in at once."""

from django.core.management.base import BaseCommand, CommandError

from recommendations import services, store


class Command(BaseCommand):
    help = "Recount the products bought together from every paid order, and replace what Redis holds at once."

    def handle(self, *args, **options):
        if not store.is_configured():
            raise CommandError("No Redis for recommendations: set RECOMMENDATIONS_REDIS_URL (or a Redis CACHE_URL).")
        try:
            orders, products = services.rebuild()
        except store.RedisUnavailable as error:
            raise CommandError(f"Redis did not answer ({error}): the rebuild stopped. Run it again once Redis is back.")
        self.stdout.write(f"Counted {orders} paid order(s): {products} product(s) have products bought with them.")
