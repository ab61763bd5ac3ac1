from django.apps import AppConfig


class CoreConfig(AppConfig):
    """What every app relies on: request guards, error pages, sessions, logging, the task base class."""

    name = "core"
    verbose_name = "Core"

    def ready(self):
        from . import checks, worker  # noqa: F401  (register the deploy checks and the worker's signal handlers)
