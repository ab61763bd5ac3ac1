"""Django settings for myshop.

Every value that differs between a laptop and production comes from an environment variable named after
the setting itself; every default is the harmless local one. See the settings table in README.md.
"""

import os
from decimal import Decimal
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name, default=False):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name, default):
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG")  # off unless switched on

DEV_SECRET_KEY = "django-insecure-development-key-do-not-use-in-production"
SECRET_KEY = os.environ.get("SECRET_KEY") or (DEV_SECRET_KEY if DEBUG else None)
if not SECRET_KEY:
    raise ImproperlyConfigured("Set SECRET_KEY (or DEBUG=1 for local development).")
if not DEBUG and SECRET_KEY == DEV_SECRET_KEY:
    raise ImproperlyConfigured("The development SECRET_KEY must not be used with DEBUG off.")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")
ADMIN_URL = os.environ.get("ADMIN_URL", "admin/").strip("/") + "/"  # a less guessable admin path

# --- HTTPS and browser security: on in production (DEBUG off) unless switched off explicitly -----------
# Behind a TLS-terminating proxy that sets X-Forwarded-Proto (set SECURE_PROXY_SSL_HEADER=0 if yours
# doesn't, or the header could be forged by clients).
if env_bool("SECURE_PROXY_SSL_HEADER", True):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
# HSTS makes browsers refuse plain HTTP for this host for that long: opt in once HTTPS works everywhere.
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "0"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", SECURE_HSTS_SECONDS > 0)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", SECURE_HSTS_SECONDS > 0)
SECURE_REFERRER_POLICY = "same-origin"
# Content-Security-Policy (core/middleware.py; the shape of Django 6's SECURE_CSP): scripts, styles,
# fonts and images from the shop itself only, no inline script or style, no framing, forms post to the shop.
SECURE_CSP = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'"],
    "font-src": ["'self'"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "core.apps.CoreConfig",
    "shop.apps.ShopConfig",
    "cart.apps.CartConfig",
    "orders.apps.OrdersConfig",
    "payments.apps.PaymentsConfig",
    "ops.apps.OpsConfig",
]

MIDDLEWARE = [
    "ops.middleware.OpsEndpointsMiddleware",  # /healthz, /readyz, /metrics: first, see ops/middleware.py
    "core.after_response.AfterResponseMiddleware",  # the checkout's hand-over, once the page is sent
    "django.middleware.security.SecurityMiddleware",
    "core.middleware.ContentSecurityPolicyMiddleware",  # on every response, static files and errors too
    "core.middleware.OutageMiddleware",  # 503, not 500, while the database is unreachable
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "core.middleware.RequestBodyMiddleware",  # before anything reads the body (the CSRF check does)
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "myshop.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "cart.context_processors.cart",
                "shop.context_processors.shop",
            ],
        },
    },
]

WSGI_APPLICATION = "myshop.wsgi.application"

# SQLite file by default; DATABASE_URL=postgres://user@host:5432/name for PostgreSQL.
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=int(os.environ.get("CONN_MAX_AGE", "0")),
        # A persistent connection the database dropped (a restart) is replaced before use, not failed on.
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's backend, its health check of a reused connection made without a round trip (see the module).
    DATABASES["default"]["ENGINE"] = "core.postgresql"
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Write-ahead log: pages are read while the worker writes, without waiting for it. With synchronous=NORMAL a
    # commit is not flushed to disk on its own (the log is, at checkpoints): every commit survives a killed web
    # server or worker, but a power cut or an operating-system crash can lose the last ones. That cost a third
    # of the worker's CPU per email here (fsync is paid in CPU on this disk). SQLITE_SYNCHRONOUS=FULL flushes
    # every commit, for a machine where the last orders must survive a power cut too.
    SQLITE_SYNCHRONOUS = os.environ.get("SQLITE_SYNCHRONOUS", "NORMAL").upper()
    if SQLITE_SYNCHRONOUS not in ("NORMAL", "FULL", "EXTRA"):
        raise ImproperlyConfigured(f"SQLITE_SYNCHRONOUS must be NORMAL, FULL or EXTRA, not {SQLITE_SYNCHRONOUS!r}")
    DATABASES["default"]["OPTIONS"] = {
        # The web server and the worker write to the same file: take the write lock at BEGIN and wait for it,
        # instead of failing with "database is locked" halfway through a transaction.
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": f"PRAGMA journal_mode=WAL; PRAGMA synchronous={SQLITE_SYNCHRONOUS}",
    }

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    # 12 characters at least: "Summer2024" and its kind fall to a guessing list in seconds.
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "core.passwords.DecoratedCommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
# Production: STATIC_MANIFEST=1 and `manage.py collectstatic`, which writes hashed, pre-compressed copies
# that WhiteNoise serves with far-future caching. Off by default, since pages then need collectstatic first.
STATIC_MANIFEST = env_bool("STATIC_MANIFEST")
# Invoices (and any other private file) live outside MEDIA_ROOT, which a proxy serves to anyone: they are
# only ever sent by a view that checks who asks (payments/views.py, the admin).
PRIVATE_MEDIA_ROOT = Path(os.environ.get("PRIVATE_MEDIA_ROOT", BASE_DIR / "var" / "private"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "invoices": {
        "BACKEND": "payments.storage.PrivateStorage",
        "OPTIONS": {"location": PRIVATE_MEDIA_ROOT / "invoices"},
    },
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if STATIC_MANIFEST
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# Request bodies: a larger one is answered 413 before any of it is read (core/middleware.py). Uploads
# (multipart) may carry REQUEST_BODY_MAX_SIZE in all; any other body DATA_UPLOAD_MAX_MEMORY_SIZE. An
# uploaded file above FILE_UPLOAD_MAX_MEMORY_SIZE goes to a temporary file rather than memory.
REQUEST_BODY_MAX_SIZE = int(os.environ.get("REQUEST_BODY_MAX_SIZE") or 10 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
MEDIA_URL = os.environ.get("MEDIA_URL", "/media/")
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / "media"))

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

SESSION_SERIALIZER = "django.contrib.sessions.serializers.JSONSerializer"
# Expired sessions (abandoned carts) are deleted this often by Celery beat (core/tasks.py).
SESSION_CLEAR_EXPIRED_SECONDS = float(os.environ.get("SESSION_CLEAR_EXPIRED_SECONDS", "3600"))

# An in-process cache by default (no server needed); CACHE_URL=redis://host:6379/0 in production, so that
# the abuse limits below are shared by every web process.
CACHE_URL = os.environ.get("CACHE_URL", "")
CACHES = {
    "default": {
        # django-redis: one client per connection pool (Django's own backend builds one per command).
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": CACHE_URL,
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1},
    }
    if CACHE_URL.startswith(("redis://", "rediss://"))
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "myshop"}
}

# Sessions (the cart, the checkout's one-time keys) live in the shared cache when there is one: no database
# read or write per request, and no rows to clear. Without one (a laptop), in the database. Give Redis
# persistence (appendonly) in production, or set SESSION_ENGINE=core.sessions to keep Redis out of shopping.
SESSION_ENGINE = os.environ.get("SESSION_ENGINE") or (
    "django.contrib.sessions.backends.cache"
    if CACHES["default"]["BACKEND"].endswith("RedisCache")
    else "core.sessions"  # Django's database store, an outage told apart from an interrupted session
)

# Abuse limits per client address, "requests/seconds" ("" switches one off). Answered with 429.
RATE_LIMIT_CHECKOUT = os.environ.get("RATE_LIMIT_CHECKOUT", "10/600")  # order attempts (POST)
RATE_LIMIT_CART = os.environ.get("RATE_LIMIT_CART", "120/60")  # cart changes (POST)
RATE_LIMIT_LOGIN = os.environ.get("RATE_LIMIT_LOGIN", "10/300")  # admin login attempts (POST)
# Number of proxies in front of the app that append to X-Forwarded-For (0: use the connection's address).
TRUSTED_PROXY_COUNT = int(os.environ.get("TRUSTED_PROXY_COUNT", "0"))

# --- Shop --------------------------------------------------------------------------------------------
SHOP_NAME = os.environ.get("SHOP_NAME", "myshop")
SHOP_CURRENCY = os.environ.get("SHOP_CURRENCY", "EUR")
SHOP_PRODUCTS_PER_PAGE = int(os.environ.get("SHOP_PRODUCTS_PER_PAGE", "12"))
CART_MAX_QUANTITY = int(os.environ.get("CART_MAX_QUANTITY", "20"))  # per product line
# No hoarding (orders/limits.py): units per order, orders per email address and per client address a day
# (0 switches a cap off). One client holds at most ORDER_MAX_UNITS x ORDER_MAX_PER_CLIENT_PER_DAY units a day.
ORDER_MAX_UNITS = int(os.environ.get("ORDER_MAX_UNITS") or "20")
ORDER_MAX_PER_EMAIL_PER_DAY = int(os.environ.get("ORDER_MAX_PER_EMAIL_PER_DAY") or "3")
ORDER_MAX_PER_CLIENT_PER_DAY = int(os.environ.get("ORDER_MAX_PER_CLIENT_PER_DAY") or "4")
# Shipping: a flat rate per order, free from a threshold on (SHOP_FREE_SHIPPING_FROM empty: never free).
SHOP_SHIPPING_COST = Decimal(os.environ.get("SHOP_SHIPPING_COST", "4.90"))
_free_shipping_from = os.environ.get("SHOP_FREE_SHIPPING_FROM", "50.00").strip()
SHOP_FREE_SHIPPING_FROM = Decimal(_free_shipping_from) if _free_shipping_from else None
# Catalog prices include VAT (shown next to every price); the shop is not set up to add tax at checkout.
SHOP_PRICES_INCLUDE_VAT = env_bool("SHOP_PRICES_INCLUDE_VAT", True)

# --- What shoppers are told, and product photos -------------------------------------------------------
# Working days from the payment being confirmed to the parcel leaving; said on the order pages and email.
SHOP_DISPATCH_DAYS = int(os.environ.get("SHOP_DISPATCH_DAYS", "2"))
# Where shoppers write with questions: shown with every order and the Reply-To of order emails.
SHOP_CONTACT_EMAIL = os.environ.get("SHOP_CONTACT_EMAIL", "help@myshop.local")
# Product photo uploads larger than this (file size, megabytes) or with more pixels are refused in the admin.
SHOP_IMAGE_MAX_UPLOAD_MB = float(os.environ.get("SHOP_IMAGE_MAX_UPLOAD_MB", "10"))
SHOP_IMAGE_MAX_PIXELS = int(os.environ.get("SHOP_IMAGE_MAX_PIXELS", "50000000"))
# A failed CSRF check (an expired cookie) gets the shop's "your session expired, try again" page.
CSRF_FAILURE_VIEW = "core.views.csrf_failure"

# --- The confirmation email's guarantees (see README, "Guarantees") ---------------------------------
# Send attempts before an order is marked "confirmation failed" (then an operator can resend it from the
# admin), and the backoff between them: base * 2**(attempt-1) seconds, capped, with jitter.
ORDER_EMAIL_MAX_ATTEMPTS = int(os.environ.get("ORDER_EMAIL_MAX_ATTEMPTS", "6"))
ORDER_EMAIL_RETRY_BASE_SECONDS = float(os.environ.get("ORDER_EMAIL_RETRY_BASE_SECONDS", "10"))
ORDER_EMAIL_RETRY_MAX_SECONDS = float(os.environ.get("ORDER_EMAIL_RETRY_MAX_SECONDS", "600"))
# How often the sweep looks for order emails the broker may have lost (run by Celery beat).
ORDER_EMAIL_SWEEP_SECONDS = float(os.environ.get("ORDER_EMAIL_SWEEP_SECONDS", "30"))
# An email handed over this long ago and still not sent is handed over again, at most once per period (a
# message lost inside the broker, a dead worker's lapsed claim). A failed hand-over is due at once.
# Extra messages are harmless: sending is claimed in the database.
ORDER_EMAIL_REQUEUE_AFTER_SECONDS = float(os.environ.get("ORDER_EMAIL_REQUEUE_AFTER_SECONDS", "900"))

# --- Payments (payments/; see README, "Payments and invoices") -----------------------------------------
# "offline": the shop's own simulated provider (no account, no money moves; `check --deploy` fails on it).
# "stripe": Stripe Checkout, with STRIPE_SECRET_KEY and the webhook endpoint's STRIPE_WEBHOOK_SECRET.
PAYMENT_PROVIDER = os.environ.get("PAYMENT_PROVIDER", "offline").strip().lower()
if PAYMENT_PROVIDER not in {"offline", "stripe"}:
    raise ImproperlyConfigured("PAYMENT_PROVIDER must be 'offline' or 'stripe'.")
STRIPE_SECRET_KEY = os.environ.get("STRIPE_SECRET_KEY", "")
STRIPE_WEBHOOK_SECRET = os.environ.get("STRIPE_WEBHOOK_SECRET", "")
# An order placed for online payment and still unpaid this many seconds later is cancelled (its stock goes
# back on sale); beat looks for such orders every PAYMENT_EXPIRY_CHECK_SECONDS.
PAYMENT_TIMEOUT = float(os.environ.get("PAYMENT_TIMEOUT", "1800"))
PAYMENT_EXPIRY_CHECK_SECONDS = float(os.environ.get("PAYMENT_EXPIRY_CHECK_SECONDS", "60"))
# The offline provider confirms a payment this many seconds after the shopper's decision (a real provider
# is slow too), by a webhook signed with this secret (empty: derived from SECRET_KEY).
PAYMENT_OFFLINE_CONFIRM_SECONDS = float(os.environ.get("PAYMENT_OFFLINE_CONFIRM_SECONDS", "3"))
PAYMENT_OFFLINE_WEBHOOK_SECRET = os.environ.get("PAYMENT_OFFLINE_WEBHOOK_SECRET", "")
if PAYMENT_PROVIDER == "stripe":
    # The "Pay" form posts to the shop, which redirects to Stripe's page: form-action covers that redirect.
    SECURE_CSP["form-action"].append("https://checkout.stripe.com")

# --- Email -------------------------------------------------------------------------------------------
# Development prints emails to the console; production sends them (the console would log personal data)
# with Django's SMTP backend made to tell a lost reply after the message from an error before it.
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND") or (
    "django.core.mail.backends.console.EmailBackend" if DEBUG else "orders.mail.SMTPBackend"
)
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS")
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL")
# Django's default is to wait forever; a hung mail server must not pin a worker slot.
# (A mail server may take a while to accept a message after its body; under the task's soft time limit.)
EMAIL_TIMEOUT = float(os.environ.get("EMAIL_TIMEOUT", "60"))
EMAIL_FILE_PATH = os.environ.get("EMAIL_FILE_PATH", str(BASE_DIR / "var" / "emails"))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "myshop <orders@myshop.local>")

# --- Celery (read by myshop/celery.py through the CELERY_ namespace) ---------------------------------
# One RabbitMQ node, or the nodes of one cluster separated by ";" ("amqp://mq1:5672//;amqp://mq2:5672//;..."):
# web and worker connect to the first that answers and move on to the next when it dies.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "amqp://guest:guest@localhost:5672//")
# Publishing happens inside the checkout request: bound it so a dead broker costs the shopper well under
# a second (kombu's defaults can hang for several); the order row remembers that the email is owed.
CELERY_BROKER_CONNECTION_TIMEOUT = float(os.environ.get("CELERY_BROKER_CONNECTION_TIMEOUT", "0.5"))
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,  # one more try, on the next node of the list when there are several
    "interval_start": 0,
    "interval_step": 0.1,
    "interval_max": 0.1,
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# The task queue is a quorum queue: replicated by Raft over the cluster's nodes, it survives losing a
# minority of them (on one node it is simply a durable queue). It is reached through a topic exchange of the
# same name because Celery then routes countdown retries through RabbitMQ's native delayed delivery (the
# celery_delayed_* queues) instead of holding them in a worker's memory; a direct exchange would not allow
# that. Web and worker read these same lines, so the producer declares exactly the queue the worker consumes.
# The name differs from Celery's default "celery" on purpose: a broker that still has the old classic queue
# of that name would refuse a quorum redeclaration (PRECONDITION_FAILED); see README, "Scaling out".
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_TASK_DEFAULT_QUEUE", "myshop")
CELERY_TASK_DEFAULT_QUEUE_TYPE = "quorum"
CELERY_TASK_DEFAULT_EXCHANGE_TYPE = "topic"
CELERY_TASK_CREATE_MISSING_QUEUE_TYPE = "quorum"  # any queue a route names later is a quorum queue too
CELERY_TASK_CREATE_MISSING_QUEUE_EXCHANGE_TYPE = "topic"
# Sets up delayed delivery through the live node only, so a worker resumes consuming within about a second
# after its node dies instead of ~17 s (see OneNodeDelayedDelivery in core/worker.py).
CELERY_WORKER_CONSUMER = os.environ.get("CELERY_WORKER_CONSUMER", "core.worker:FailoverConsumer")
# Publisher confirms: a publish returns once the queue's majority has the message (quorum queues need them,
# or a message sent on a channel that then closes can vanish). py-amqp waits forever by default, for a
# confirm and for any other reply: a broker under a memory or disk alarm stops reading from publishers, and
# a checkout would hang. BROKER_CONFIRM_TIMEOUT bounds the wait for a confirm (core/publishing.py applies it
# to every publish); BROKER_SOCKET_TIMEOUT bounds every read and write on the socket (py-amqp's
# read_timeout/write_timeout), which the reconnect after a failed publish needs as well.
BROKER_CONFIRM_TIMEOUT = float(os.environ.get("BROKER_CONFIRM_TIMEOUT", "1.0"))
BROKER_SOCKET_TIMEOUT = float(os.environ.get("BROKER_SOCKET_TIMEOUT", "1.0"))
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "confirm_publish": True,
    "read_timeout": BROKER_SOCKET_TIMEOUT,
    "write_timeout": BROKER_SOCKET_TIMEOUT,
}
# A publish the broker nacks (a quorum queue electing a new leader) is tried once more after this pause.
BROKER_NACK_RETRY_SECONDS = float(os.environ.get("BROKER_NACK_RETRY_SECONDS", "0.5"))
# Celery's Django fixup closes the database connection around every task unless told to reuse it; a new
# PostgreSQL connection per email cost as much CPU as the email itself (bench/checkout.py). core/worker.py
# applies CONN_MAX_AGE per task instead, as Django does per request.
CELERY_DB_REUSE_MAX = 1_000_000
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND") or None
CELERY_TASK_IGNORE_RESULT = True
# Acknowledge after the task ran, and requeue when the process running it dies, so a crash mid-email
# means "run again", never "lost". One message at a time per process, as acks_late expects.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A task still running after its connection to the broker died finishes (and records "sent") rather than
# being cancelled halfway through an SMTP conversation; its redelivered copy then finds the email sent.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
# Far below RabbitMQ's 30 min consumer_timeout.
CELERY_TASK_TIME_LIMIT = int(os.environ.get("CELERY_TASK_TIME_LIMIT", "90"))
# The soft limit interrupts an attempt (counted, retried); the hard one kills the process if even that hangs.
CELERY_TASK_SOFT_TIME_LIMIT = max(1, int(CELERY_TASK_TIME_LIMIT * 0.8))
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE = {
    "sweep-order-emails": {
        "task": "orders.tasks.sweep_unsent_emails",
        "schedule": ORDER_EMAIL_SWEEP_SECONDS,
        "options": {"expires": ORDER_EMAIL_SWEEP_SECONDS},  # a backlog of sweeps is pointless
    },
    "expire-unpaid-orders": {
        "task": "payments.tasks.expire_unpaid_orders",
        "schedule": PAYMENT_EXPIRY_CHECK_SECONDS,
        "options": {"expires": PAYMENT_EXPIRY_CHECK_SECONDS},
    },
    "clear-expired-sessions": {
        "task": "core.tasks.clear_expired_sessions",
        "schedule": SESSION_CLEAR_EXPIRED_SECONDS,
        "options": {"expires": SESSION_CLEAR_EXPIRED_SECONDS},
    },
}
CELERY_BEAT_SCHEDULE_FILENAME = os.environ.get(
    "CELERY_BEAT_SCHEDULE_FILENAME", str(BASE_DIR / "var" / "celerybeat-schedule")
)

# A worker's claim on an email is a lease it renews every third of this while it sends: a dead worker's
# lease lapses within this many seconds, and the email is then sent by the next worker.
ORDER_EMAIL_CLAIM_SECONDS = float(os.environ.get("ORDER_EMAIL_CLAIM_SECONDS", "30"))
if ORDER_EMAIL_CLAIM_SECONDS < 3:
    raise ImproperlyConfigured("ORDER_EMAIL_CLAIM_SECONDS must be at least 3 (the lease is renewed every third).")

# --- Operations: health, readiness and metrics (ops/) -------------------------------------------------
# /readyz gives each check (database, broker) this long, and answers 503 when one named here failed. A web
# tier that should keep taking orders while the broker is down (the sweep hands their emails over later)
# can set READYZ_REQUIRE=database: the broker is then reported but does not take the pod out of service.
READYZ_TIMEOUT_SECONDS = float(os.environ.get("READYZ_TIMEOUT_SECONDS", "1.0"))
READYZ_REQUIRE = env_list("READYZ_REQUIRE", "database,broker")
# /metrics is closed unless a scraper shows this bearer token, or connects directly (not through a proxy
# adding X-Forwarded-For) from one of these networks (comma-separated CIDRs; loopback when DEBUG=1).
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
METRICS_ALLOWED_NETWORKS = env_list("METRICS_ALLOWED_NETWORKS", "127.0.0.0/8,::1/128" if DEBUG else "")
# A worker serves its own metrics on this port (empty: not at all); one port per worker process on a host.
WORKER_METRICS_PORT = int(os.environ.get("WORKER_METRICS_PORT") or 0) or None
WORKER_METRICS_ADDRESS = os.environ.get("WORKER_METRICS_ADDRESS", "0.0.0.0")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    # Status-page paths are keys to an order: masked in every line (myshop/logmask.py).
    "filters": {"mask_status_tokens": {"()": "core.logmask.MaskStatusTokens"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["mask_status_tokens"]}
    },
    # Warnings and errors from everything (a 500's traceback from django.request included) reach stderr,
    # where the process manager collects them; the orders logger also reports each email's outcome.
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        "orders": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO"), "propagate": False},
        "payments": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO"), "propagate": False},
    },
}

# Absolute address of the shop, for links in emails (the worker has no request to build them from).
SHOP_SITE_URL = os.environ.get("SHOP_SITE_URL", "http://127.0.0.1:8000")
EMAIL_MESSAGE_ID_DOMAIN = os.environ.get("EMAIL_MESSAGE_ID_DOMAIN", "myshop.local")
