import os

from celery import Celery
from celery.signals import task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "myshop.settings")

app = Celery("myshop")
# Every CELERY_* Django setting configures the app (CELERY_BROKER_URL -> broker_url, ...).
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def _close_old_database_connections(**kwargs):
    """Treat each task like a web request: drop a database connection that is broken or older than
    CONN_MAX_AGE, keep a healthy one (Celery's own fixup would reconnect for every task; see settings)."""
    from django.db import close_old_connections

    close_old_connections()
