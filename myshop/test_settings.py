"""Settings for the test suite: the real ones, with a fixed key and a few speed-ups."""

import os
import uuid

os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production")

from kombu import Exchange, Queue  # noqa: E402

from .settings import *  # noqa: E402,F403
from .settings import BASE_DIR, DATABASES  # noqa: E402

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

if DATABASES["default"]["ENGINE"] == "core.postgresql":
    # The shop's backend, emptying tables faster between transactional tests (testkit/postgresql).
    DATABASES["default"]["ENGINE"] = "testkit.postgresql"
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not ":memory:", so a worker in another thread or process sees the same test database.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / "var" / f"test-{os.getpid()}.sqlite3")}

# Each test run gets a queue of its own on the shared broker, so a developer's running worker never eats
# the suite's messages (and the other way round). It is declared as production declares its queue (quorum,
# behind a topic exchange of the same name), and the session deletes it and its exchange at the end
# (tests/conftest.py). Should a run die first, the queue expires once unused for 10 minutes (quorum queues
# honour x-expires, though redeclaring does not renew it) and the exchange goes with its last binding.
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("TEST_CELERY_QUEUE", f"myshop-test-{uuid.uuid4().hex[:8]}")
CELERY_TASK_QUEUES = [
    Queue(
        CELERY_TASK_DEFAULT_QUEUE,
        Exchange(CELERY_TASK_DEFAULT_QUEUE, type="topic", auto_delete=True),
        routing_key=CELERY_TASK_DEFAULT_QUEUE,
        queue_arguments={"x-queue-type": "quorum", "x-expires": 10 * 60 * 1000},
    ),
]
CELERY_RESULT_BACKEND = "cache+memory://"

# The suite's many requests come from one address: abuse limits are switched on by the tests about them.
RATE_LIMIT_CHECKOUT = ""
RATE_LIMIT_CART = ""
RATE_LIMIT_LOGIN = ""
RATE_LIMIT_COUPON = ""
ACCOUNT_RATE_LIMITS = False  # allauth's
ORDER_MAX_UNITS = 0
ORDER_MAX_PER_EMAIL_PER_DAY = 0
ORDER_MAX_PER_CLIENT_PER_DAY = 0
# The test client and live server speak plain HTTP; the production values are checked by
# tests/security/test_deploy_checks_and_limits.py.
SECURE_SSL_REDIRECT = False
