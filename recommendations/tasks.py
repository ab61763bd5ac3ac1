"""The worker's side of recommendations: counting a paid order, and the nightly rebuild (run by Celery beat)."""

import logging

from celery import shared_task
from django.db import DatabaseError

from orders.tasks import retry_delay

from . import services, store

logger = logging.getLogger(__name__)

COUNT_RETRIES = 8  # with the emails' backoff, about half an hour; after that the nightly rebuild counts it


@shared_task(bind=True, max_retries=COUNT_RETRIES, ignore_result=True)
def count_paid_order(self, order_id):
    """Add paid order `order_id` to what is bought together; a second delivery counts nothing."""
    try:
        return services.count_paid_order(order_id)
    except (store.RedisUnavailable, DatabaseError) as error:
        wait = retry_delay(self.request.retries + 1)
        logger.warning(
            "order %s: not counted in recommendations (%s), trying again in %.0f s",
            order_id,
            type(error).__name__,
            wait,
        )
        raise self.retry(countdown=wait)


# Longer than the other tasks' limit: it reads every paid order (still far below RabbitMQ's consumer_timeout).
@shared_task(ignore_result=True, time_limit=20 * 60, soft_time_limit=18 * 60)
def rebuild_recommendations():
    """Recount what is bought together from the database (run nightly by Celery beat)."""
    if not store.is_configured():
        return None
    return services.rebuild()
