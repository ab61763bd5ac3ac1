from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from kombu import Connection
from kombu.utils.url import maybe_sanitize_url

HOW_TO_START = """\
Nothing answers at the broker URL {url}.
Start RabbitMQ, then run this again:
  - with Docker:         docker compose up -d rabbitmq
  - Debian/Ubuntu:       sudo apt-get install -y rabbitmq-server && sudo rabbitmq-server -detached
  - macOS (Homebrew):    brew install rabbitmq && brew services start rabbitmq
or point CELERY_BROKER_URL at a running broker."""


class Command(BaseCommand):
    help = "Check that the Celery broker (RabbitMQ) answers at CELERY_BROKER_URL, within a few seconds."

    def add_arguments(self, parser):
        parser.add_argument("--timeout", type=float, default=3.0, help="seconds to wait for the broker")

    def handle(self, *args, timeout, **options):
        url = settings.CELERY_BROKER_URL
        shown = maybe_sanitize_url(url)
        try:
            with Connection(url, connect_timeout=timeout) as connection:
                connection.ensure_connection(max_retries=1, timeout=timeout)
        except Exception as error:
            raise CommandError(f"{HOW_TO_START.format(url=shown)}\n({type(error).__name__}: {error})")
        self.stdout.write(f"Broker OK at {shown}")
