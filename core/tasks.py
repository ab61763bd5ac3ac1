"""Periodic housekeeping, run by Celery beat (CELERY_BEAT_SCHEDULE in settings)."""

from importlib import import_module

from celery import shared_task
from django.conf import settings


@shared_task(ignore_result=True)
def clear_expired_sessions():
    """Delete expired sessions, as `manage.py clearsessions` does: the session table never stops growing
    otherwise (every cart is a session)."""
    import_module(settings.SESSION_ENGINE).SessionStore.clear_expired()
