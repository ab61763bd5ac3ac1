"""Laying native delayed delivery before the first countdown (core/publishing.py) costs one bounded try when
the broker is away, never a retry loop in front of every countdown."""

import time

from celery import Celery

from core import publishing


def test_laying_delayed_delivery_against_an_absent_broker_gives_up_at_once_and_tries_again_later(monkeypatch):
    app = Celery("absent", broker="amqp://guest:guest@127.0.0.1:1//", set_as_current=False)
    app.conf.update(broker_connection_timeout=0.5, task_default_queue_type="quorum")
    monkeypatch.setattr(publishing, "_delayed_delivery_laid", False)
    started = time.monotonic()
    publishing.lay_delayed_delivery(app)  # refused: logged, not raised (the publish that follows fails too)
    assert time.monotonic() - started < 1.0
    assert publishing._delayed_delivery_laid is False  # the next countdown tries again
