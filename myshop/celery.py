import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "myshop.settings")

# Every task publishes as core.publishing.ConfirmBoundedTask says (bounded confirms, a nack tried once more).
app = Celery("myshop", task_cls="core.publishing:ConfirmBoundedTask")
# Every CELERY_* Django setting configures the app (CELERY_BROKER_URL -> broker_url, ...).
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
