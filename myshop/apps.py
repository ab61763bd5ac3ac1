from django.apps import AppConfig


class MyshopConfig(AppConfig):
    """The project's own wiring as an app: its deploy checks and periodic tasks (myshop/tasks.py)."""

    name = "myshop"
    verbose_name = "myshop wiring"

    def ready(self):
        from . import checks  # noqa: F401  (registers the deploy checks)
