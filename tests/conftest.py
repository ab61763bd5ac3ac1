"""Session housekeeping on the shared broker: the run's own task queue is removed when the run ends."""
import warnings

import pytest


def delete_queue_and_exchange(broker_url, name):
    """Delete queue `name` and the exchange of the same name on the broker; True if nothing is left.

    Deleting what is not there is fine. Celery's celery_delayed_* queues are shared by every quorum-queue
    user of the vhost (other runs may have retries in flight) and are left alone.
    """
    from amqp.exceptions import NotFound
    from kombu import Connection

    with Connection(broker_url, connect_timeout=5) as connection:
        for delete in ("queue_delete", "exchange_delete"):
            channel = connection.channel()
            try:
                getattr(channel, delete)(name)
            except NotFound:
                pass
            finally:
                if channel.is_open:
                    channel.close()
        channel = connection.channel()
        try:
            channel.queue_declare(name, passive=True)
        except NotFound:
            return True
        return False


@pytest.fixture(scope="session", autouse=True)
def _remove_the_run_queue_at_the_end():
    """Runs last: after the session's worker has stopped, the run's queue and its exchange are deleted."""
    yield
    from django.conf import settings

    name = settings.CELERY_TASK_DEFAULT_QUEUE
    if not name.startswith("myshop-test-"):
        return  # never a production queue, whatever TEST_CELERY_QUEUE says
    try:
        if not delete_queue_and_exchange(settings.CELERY_BROKER_URL, name):
            warnings.warn(f"the run's queue {name} is still on the broker")
    except Exception as error:  # the broker is gone: the queue expires by itself (x-expires)
        warnings.warn(f"could not delete the run's queue {name}: {type(error).__name__}: {error}")
