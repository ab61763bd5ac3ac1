"""Django settings for myshop.

Every value that differs between a laptop and production comes from an environment variable of the same name,
and every default is the harmless local one. docs/settings.md explains each variable.
"""

import os
from decimal import Decimal
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name, default=""):
    """A text variable as set; an empty one stays empty (for some, empty switches a feature off)."""
    return os.environ.get(name, default).strip()


def env_int(name, default):
    """A number; unset or empty gives the default (compose passes unset variables as empty)."""
    return int(env(name) or default)


def env_float(name, default):
    return float(env(name) or default)


def env_decimal(name, default):
    return Decimal(env(name) or default)


def env_bool(name, default=False):
    value = env(name).lower()
    return default if not value else value in {"1", "true", "yes", "on"}


def env_list(name, default):
    """A comma-separated list; empty items are dropped."""
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG")

DEV_SECRET_KEY = "django-insecure-development-key-do-not-use-in-production"
SECRET_KEY = env("SECRET_KEY") or (DEV_SECRET_KEY if DEBUG else None)
if not SECRET_KEY:
    raise ImproperlyConfigured("Set SECRET_KEY (or DEBUG=1 for local development).")
if not DEBUG and SECRET_KEY == DEV_SECRET_KEY:
    raise ImproperlyConfigured("The development SECRET_KEY must not be used with DEBUG off.")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")
ADMIN_URL = env("ADMIN_URL", "admin/").strip("/") + "/"

# --- HTTPS and browser security: on with DEBUG off, unless switched off -----------------------------------
if env_bool("SECURE_PROXY_SSL_HEADER", True):  # behind a TLS-terminating proxy that sets X-Forwarded-Proto
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)  # opt in once HTTPS works everywhere
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", SECURE_HSTS_SECONDS > 0)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", SECURE_HSTS_SECONDS > 0)
SECURE_REFERRER_POLICY = "same-origin"
# Sent by core.middleware.ContentSecurityPolicyMiddleware, in the shape of Django 6's own setting.
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
    "modeltranslation",  # catalog text per language (shop/translation.py); before the admin, as its docs require
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.postgres",  # OpClass in index expressions (orders.search.TrigramIndex)
    "core.apps.CoreConfig",
    "shop.apps.ShopConfig",
    "cart.apps.CartConfig",
    "coupons.apps.CouponsConfig",
    "orders.apps.OrdersConfig",
    "payments.apps.PaymentsConfig",
    "recommendations.apps.RecommendationsConfig",
    "allauth",
    "allauth.account",
    "accounts.apps.AccountsConfig",
    "ops.apps.OpsConfig",
]

MIDDLEWARE = [
    "ops.middleware.OpsEndpointsMiddleware",  # /healthz, /readyz, /metrics: before the HTTPS redirect
    "core.after_response.AfterResponseMiddleware",  # the checkout's publish, once the page is sent
    "django.middleware.security.SecurityMiddleware",
    "core.middleware.ContentSecurityPolicyMiddleware",  # on every response, static files and errors too
    "core.middleware.OutageMiddleware",  # 503, not 500, while the database or Redis is unreachable
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "core.middleware.LanguagePrefixMiddleware",  # the language: URL prefix, else cookie, else the browser's
    "core.middleware.RequestBodyMiddleware",  # before anything reads the body (the CSRF check does)
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "myshop.urls"
WSGI_APPLICATION = "myshop.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "OPTIONS": {
            # Django's cached loader, a copy per language, fixed words and URLs done once (core/template_loader.py).
            "loaders": [
                (
                    "core.template_loader.Loader",
                    ["django.template.loaders.filesystem.Loader", "django.template.loaders.app_directories.Loader"],
                )
            ],
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "cart.context_processors.cart",
                "shop.context_processors.shop",
                "core.csrf.context_processor",  # one masked CSRF token per request, not one per render and call
            ],
        },
    },
]

# --- Database: a SQLite file by default, DATABASE_URL=postgres://... in production -------------------------
DATABASES = {
    "default": dj_database_url.parse(
        env("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=env_int("CONN_MAX_AGE", 0),
        conn_health_checks=True,  # a connection the database dropped (a restart) is replaced before use
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["ENGINE"] = "core.postgresql"  # Django's, its health check without a round trip
    if env_bool("DATABASE_PREPARED_STATEMENTS", True):
        # A query the connection has run 5 times is prepared: PostgreSQL plans it once, not on every run (the
        # catalog's indexes made planning most of a lookup's cost). Off behind a pooler in transaction mode.
        DATABASES["default"].setdefault("OPTIONS", {}).update(server_side_binding=True, prepare_threshold=5)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A write-ahead log; NORMAL survives a killed process but not a power cut (docs/guarantees.md).
    SQLITE_SYNCHRONOUS = env("SQLITE_SYNCHRONOUS", "NORMAL").upper()
    if SQLITE_SYNCHRONOUS not in ("NORMAL", "FULL", "EXTRA"):
        raise ImproperlyConfigured(f"SQLITE_SYNCHRONOUS must be NORMAL, FULL or EXTRA, not {SQLITE_SYNCHRONOUS!r}")
    DATABASES["default"]["OPTIONS"] = {
        # Web and worker write to one file: take the write lock at BEGIN, and wait for it.
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": f"PRAGMA journal_mode=WAL; PRAGMA synchronous={SQLITE_SYNCHRONOUS}",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "core.passwords.DecoratedCommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Customer accounts: django-allauth, by email, verified, its emails through the worker (accounts/) ------
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",  # the admin's staff log in by username
    "allauth.account.auth_backends.AuthenticationBackend",
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "accounts:orders"
ACCOUNT_LOGOUT_REDIRECT_URL = "shop:product_list"
ACCOUNT_ADAPTER = "accounts.adapter.ShopAccountAdapter"  # every account email goes through the outbox
ACCOUNT_USER_DISPLAY = "accounts.adapter.user_display"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_PREVENT_ENUMERATION = True  # the same answer for a known and an unknown address
ACCOUNT_FORMS = {"signup": "accounts.forms.SignupForm"}  # ... in the same time too
ACCOUNT_EMAIL_CONFIRMATION_HMAC = True  # a key the worker can make again: nothing secret is stored
ACCOUNT_EMAIL_NOTIFICATIONS = False
# allauth's limits on log-in, sign-up and reset, counted in the cache: its defaults (docs/settings.md), or off.
ACCOUNT_RATE_LIMITS = {} if env_bool("ACCOUNT_RATE_LIMITS", True) else False

# The shop's languages: pages under /en/ and /de/, emails and invoices in the order's language (docs/languages.md).
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("de", "Deutsch")]
LOCALE_PATHS = [BASE_DIR / "locale"]  # locale/de/LC_MESSAGES/django.po, compiled by bin/run, .ci/run and the image
# Catalog names and descriptions per language (shop/translation.py): name_en, name_de, ... columns. English is
# required and is what a page shows where the active language has no text; slugs come from the English name.
MODELTRANSLATION_DEFAULT_LANGUAGE = "en"
MODELTRANSLATION_FALLBACK_LANGUAGES = ("en",)
MODELTRANSLATION_PREPOPULATE_LANGUAGE = "en"
# What shoppers, emails (rendered by the worker, with these same settings), invoices and the admin show;
# docs/settings.md says why one zone serves them all.
TIME_ZONE = env("TIME_ZONE", "Europe/Berlin")
USE_I18N = True
USE_TZ = True

# --- Files ---------------------------------------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env("STATIC_ROOT") or BASE_DIR / "staticfiles")
STATIC_MANIFEST = env_bool("STATIC_MANIFEST")  # production: 1, with `manage.py collectstatic`
WHITENOISE_ROOT = BASE_DIR / "webroot"  # files browsers ask for at the site's root: /favicon.ico
MEDIA_URL = env("MEDIA_URL", "/media/")
MEDIA_ROOT = Path(env("MEDIA_ROOT") or BASE_DIR / "media")
# Invoices: outside MEDIA_ROOT, which a proxy serves to anyone; sent only by views that check who asks.
PRIVATE_MEDIA_ROOT = Path(env("PRIVATE_MEDIA_ROOT") or BASE_DIR / "var" / "private")
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
# Request bodies: larger ones are answered 413 unread (core.middleware.RequestBodyMiddleware).
REQUEST_BODY_MAX_SIZE = env_int("REQUEST_BODY_MAX_SIZE", 10 * 1024 * 1024)  # uploads (multipart)
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024  # any other body
FILE_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024

# --- Cache and sessions: Redis in production (CACHE_URL), in-process and the database on a laptop ---------
CACHE_URL = env("CACHE_URL")
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
SESSION_ENGINE = env("SESSION_ENGINE") or (
    "core.redis_sessions"  # Django's cache store, in fewer Redis round trips
    if CACHES["default"]["BACKEND"] == "django_redis.cache.RedisCache"
    else "core.sessions"  # Django's database store, a lost database told apart from an interrupted session
)
SESSION_SERIALIZER = "django.contrib.sessions.serializers.JSONSerializer"
# Flash messages ("2 in your cart") ride in the session the same request saves anyway, not in a signed cookie
# of their own: 2 % of the web tier's instructions per order (bench/RESULTS.md).
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"
SESSION_CLEAR_EXPIRED_SECONDS = env_float("SESSION_CLEAR_EXPIRED_SECONDS", 3600)  # beat: core.tasks

# --- Abuse limits: "requests/seconds" per client address, answered 429 ("" switches one off) --------------
RATE_LIMIT_CHECKOUT = env("RATE_LIMIT_CHECKOUT", "10/600")
RATE_LIMIT_CART = env("RATE_LIMIT_CART", "120/60")
RATE_LIMIT_LOGIN = env("RATE_LIMIT_LOGIN", "10/300")
RATE_LIMIT_COUPON = env("RATE_LIMIT_COUPON", "10/900")  # coupon codes refused (guessing), coupons/limits.py
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)  # proxies in front that append to X-Forwarded-For
# No hoarding (orders/limits.py; 0 switches a cap off).
ORDER_MAX_UNITS = env_int("ORDER_MAX_UNITS", 20)
ORDER_MAX_PER_EMAIL_PER_DAY = env_int("ORDER_MAX_PER_EMAIL_PER_DAY", 3)
ORDER_MAX_PER_CLIENT_PER_DAY = env_int("ORDER_MAX_PER_CLIENT_PER_DAY", 4)

# --- The shop ------------------------------------------------------------------------------------------
SHOP_NAME = env("SHOP_NAME", "myshop")
SHOP_CURRENCY = env("SHOP_CURRENCY", "EUR")
SHOP_SITE_URL = env("SHOP_SITE_URL", "http://127.0.0.1:8000")  # for links in emails: the worker has no request
SHOP_CONTACT_EMAIL = env("SHOP_CONTACT_EMAIL", "help@myshop.local")
SHOP_PRODUCTS_PER_PAGE = env_int("SHOP_PRODUCTS_PER_PAGE", 12)
CART_MAX_QUANTITY = env_int("CART_MAX_QUANTITY", 20)  # per order line
SHOP_SHIPPING_COST = env_decimal("SHOP_SHIPPING_COST", "4.90")
_free_shipping_from = env("SHOP_FREE_SHIPPING_FROM", "50.00")
SHOP_FREE_SHIPPING_FROM = Decimal(_free_shipping_from) if _free_shipping_from else None  # empty: never free
SHOP_PRICES_INCLUDE_VAT = env_bool("SHOP_PRICES_INCLUDE_VAT", True)
# VAT in percent (docs/invoices.md): the standard rate, and the reduced one products may be set to. Germany's by
# default, the shop's country (EUR, Europe/Berlin). Each order line keeps the rate it was sold at.
SHOP_VAT_RATE = env_decimal("SHOP_VAT_RATE", "19")
SHOP_VAT_REDUCED_RATE = env_decimal("SHOP_VAT_REDUCED_RATE", "7")
# The seller as invoices name it. The defaults are a plainly fake demo company (a VAT ID of zeros), so a demo
# invoice cannot pass for a real one; `check --deploy` warns until they are set (payments.W002).
DEMO_SELLER = {
    "name": "myshop Demo GmbH (not a real company)",
    "address": "Musterstraße 1\n10115 Berlin\nGermany",
    "vat_id": "DE000000000",
}
# Unset or empty (compose passes unset variables as empty) gives the demo's.
SHOP_SELLER_NAME = env("SHOP_SELLER_NAME") or DEMO_SELLER["name"]
SHOP_SELLER_ADDRESS = (env("SHOP_SELLER_ADDRESS") or DEMO_SELLER["address"]).replace("\\n", "\n")  # "\n": a new line
SHOP_SELLER_VAT_ID = env("SHOP_SELLER_VAT_ID") or DEMO_SELLER["vat_id"]
SHOP_SELLER_REGISTRATION = env("SHOP_SELLER_REGISTRATION")  # optional: "Amtsgericht Berlin, HRB 12345", a director
SHOP_DISPATCH_DAYS = env_int("SHOP_DISPATCH_DAYS", 2)
# ISO 3166-1 alpha-2 codes the checkout offers, the first preselected (orders/countries.py knows them).
SHOP_SHIPPING_COUNTRIES = [code.upper() for code in env_list("SHOP_SHIPPING_COUNTRIES", "DE,AT,BE,FR,NL")]
if not SHOP_SHIPPING_COUNTRIES:
    raise ImproperlyConfigured("SHOP_SHIPPING_COUNTRIES must name at least one country, like DE.")
SHOP_LOW_STOCK_AT = env_int("SHOP_LOW_STOCK_AT", 5)  # on sale with this many units or fewer: "low stock"
# Who gets the operators' emails (the daily low-stock digest); empty: OPERATOR_EMAILS, MANAGERS, ADMINS.
SHOP_OPERATOR_EMAILS = env_list("SHOP_OPERATOR_EMAILS", "")
SHOP_LOW_STOCK_DIGEST_HOUR = env_int("SHOP_LOW_STOCK_DIGEST_HOUR", 7)  # in TIME_ZONE: the operators' morning
# The language of the operators' emails (one of LANGUAGES, else `check` fails: ops.E001).
SHOP_OPERATOR_LANGUAGE = env("SHOP_OPERATOR_LANGUAGE") or LANGUAGE_CODE
SHOP_IMAGE_MAX_UPLOAD_MB = env_float("SHOP_IMAGE_MAX_UPLOAD_MB", 10)
SHOP_IMAGE_MAX_PIXELS = env_int("SHOP_IMAGE_MAX_PIXELS", 50_000_000)
CSRF_FAILURE_VIEW = "core.views.csrf_failure"

# --- Order emails: the outbox (docs/guarantees.md) -----------------------------------------------------
ORDER_EMAIL_MAX_ATTEMPTS = env_int("ORDER_EMAIL_MAX_ATTEMPTS", 6)
ORDER_EMAIL_RETRY_BASE_SECONDS = env_float("ORDER_EMAIL_RETRY_BASE_SECONDS", 10)  # base * 2**(attempt-1), jittered
ORDER_EMAIL_RETRY_MAX_SECONDS = env_float("ORDER_EMAIL_RETRY_MAX_SECONDS", 600)
ORDER_EMAIL_SWEEP_SECONDS = env_float("ORDER_EMAIL_SWEEP_SECONDS", 30)
ORDER_EMAIL_REQUEUE_AFTER_SECONDS = env_float("ORDER_EMAIL_REQUEUE_AFTER_SECONDS", 900)
ORDER_EMAIL_CLAIM_SECONDS = env_float("ORDER_EMAIL_CLAIM_SECONDS", 30)  # a lease, renewed every third of it
if ORDER_EMAIL_CLAIM_SECONDS < 3:
    raise ImproperlyConfigured("ORDER_EMAIL_CLAIM_SECONDS must be at least 3 (the lease is renewed every third).")
EMAIL_MESSAGE_ID_DOMAIN = env("EMAIL_MESSAGE_ID_DOMAIN", "myshop.local")

# --- Payments (docs/payments.md) -----------------------------------------------------------------------
PAYMENT_PROVIDER = env("PAYMENT_PROVIDER", "offline").lower()
if PAYMENT_PROVIDER not in {"offline", "stripe"}:
    raise ImproperlyConfigured("PAYMENT_PROVIDER must be 'offline' or 'stripe'.")
STRIPE_SECRET_KEY = env("STRIPE_SECRET_KEY")
STRIPE_WEBHOOK_SECRET = env("STRIPE_WEBHOOK_SECRET")
PAYMENT_TIMEOUT = env_float("PAYMENT_TIMEOUT", 1800)  # an unpaid order is cancelled this long after it was placed
PAYMENT_EXPIRY_CHECK_SECONDS = env_float("PAYMENT_EXPIRY_CHECK_SECONDS", 60)
PAYMENT_OFFLINE_CONFIRM_SECONDS = env_float("PAYMENT_OFFLINE_CONFIRM_SECONDS", 3)
PAYMENT_OFFLINE_WEBHOOK_SECRET = env("PAYMENT_OFFLINE_WEBHOOK_SECRET")  # empty: derived from SECRET_KEY
if PAYMENT_PROVIDER == "stripe":
    SECURE_CSP["form-action"].append("https://checkout.stripe.com")  # "Pay" redirects to Stripe's page

# --- "Bought together" recommendations, kept in Redis (docs/recommendations.md) ---------------------------
# Empty (no Redis cache either): nothing is learned, and pages show the category's best sellers.
RECOMMENDATIONS_REDIS_URL = env("RECOMMENDATIONS_REDIS_URL") or (
    CACHE_URL if CACHE_URL.startswith(("redis://", "rediss://")) else ""
)
RECOMMENDATIONS_KEY_PREFIX = env("RECOMMENDATIONS_KEY_PREFIX", "recs")
# A page waits this long for Redis before it shows the best sellers instead; the worker waits longer.
RECOMMENDATIONS_PAGE_TIMEOUT = env_float("RECOMMENDATIONS_PAGE_TIMEOUT", 0.05)
RECOMMENDATIONS_WORKER_TIMEOUT = env_float("RECOMMENDATIONS_WORKER_TIMEOUT", 2.0)
RECOMMENDATIONS_BEST_SELLERS_SECONDS = env_float("RECOMMENDATIONS_BEST_SELLERS_SECONDS", 300)
RECOMMENDATIONS_REBUILD_HOUR = env_int("RECOMMENDATIONS_REBUILD_HOUR", 4)  # nightly, in TIME_ZONE

# --- Email: the console in development; in production SMTP, a lost reply told apart from a refusal ---------
EMAIL_BACKEND = env("EMAIL_BACKEND") or (
    "django.core.mail.backends.console.EmailBackend" if DEBUG else "orders.mail.SMTPBackend"
)
EMAIL_HOST = env("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS")
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL")
EMAIL_TIMEOUT = env_float("EMAIL_TIMEOUT", 60)  # Django's default waits forever
EMAIL_FILE_PATH = env("EMAIL_FILE_PATH") or str(BASE_DIR / "var" / "emails")
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "myshop <orders@myshop.local>")
OPERATOR_EMAILS = env_list("OPERATOR_EMAILS", "")  # told of what the shop did by itself (a late payment refunded)

# --- Celery, read by myshop/celery.py through the CELERY_ namespace (docs/scaling.md) -----------------------
# One RabbitMQ node, or the nodes of one cluster separated by ";".
CELERY_BROKER_URL = env("CELERY_BROKER_URL", "amqp://guest:guest@localhost:5672//")
CELERY_BROKER_CONNECTION_TIMEOUT = env_float("CELERY_BROKER_CONNECTION_TIMEOUT", 0.5)  # bounds a publish
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.1, "interval_max": 0.1}
# A quorum queue behind a topic exchange of its name: replicated, and countdowns use native delayed delivery.
CELERY_TASK_DEFAULT_QUEUE = env("CELERY_TASK_DEFAULT_QUEUE", "myshop")
CELERY_TASK_DEFAULT_QUEUE_TYPE = "quorum"
CELERY_TASK_DEFAULT_EXCHANGE_TYPE = "topic"
CELERY_TASK_CREATE_MISSING_QUEUE_TYPE = "quorum"
CELERY_TASK_CREATE_MISSING_QUEUE_EXCHANGE_TYPE = "topic"
CELERY_WORKER_CONSUMER = env("CELERY_WORKER_CONSUMER", "core.worker:FailoverConsumer")  # resumes in ~1 s
# Publisher confirms (quorum queues need them), every wait on the broker bounded.
BROKER_CONFIRM_TIMEOUT = env_float("BROKER_CONFIRM_TIMEOUT", 1.0)
BROKER_SOCKET_TIMEOUT = env_float("BROKER_SOCKET_TIMEOUT", 1.0)
BROKER_NACK_RETRY_SECONDS = env_float("BROKER_NACK_RETRY_SECONDS", 0.5)  # a nacked publish is tried once more
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "confirm_publish": True,
    "read_timeout": BROKER_SOCKET_TIMEOUT,
    "write_timeout": BROKER_SOCKET_TIMEOUT,
}
CELERY_DB_REUSE_MAX = 1_000_000  # connections kept as CONN_MAX_AGE says (core/worker.py), not one per task
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND") or None
CELERY_TASK_IGNORE_RESULT = True
# A message is acknowledged after its task ran and requeued when its process dies: "run again", never "lost".
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False  # finish the email, record it sent
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 90)  # far below RabbitMQ's 30 min consumer_timeout
CELERY_TASK_SOFT_TIME_LIMIT = max(1, int(CELERY_TASK_TIME_LIMIT * 0.8))  # ends an attempt, which counts
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
    "sweep-account-emails": {
        "task": "accounts.tasks.sweep_unsent_account_emails",
        "schedule": ORDER_EMAIL_SWEEP_SECONDS,
        "options": {"expires": ORDER_EMAIL_SWEEP_SECONDS},
    },
    # Owed once a day (ops/digests.py: one row per day, whoever fires it); the sweep sends what the broker lost.
    "low-stock-digest": {
        "task": "ops.tasks.owe_low_stock_digest",
        "schedule": crontab(hour=SHOP_LOW_STOCK_DIGEST_HOUR, minute=0),
        "options": {"expires": 3600},
    },
    "sweep-operator-digests": {
        "task": "ops.tasks.sweep_unsent_digests",
        "schedule": ORDER_EMAIL_SWEEP_SECONDS,
        "options": {"expires": ORDER_EMAIL_SWEEP_SECONDS},
    },
    "clear-expired-sessions": {
        "task": "core.tasks.clear_expired_sessions",
        "schedule": SESSION_CLEAR_EXPIRED_SECONDS,
        "options": {"expires": SESSION_CLEAR_EXPIRED_SECONDS},
    },
    # Recounted from the database every night: repairs what a lost task or a paid order cancelled later left.
    "rebuild-recommendations": {
        "task": "recommendations.tasks.rebuild_recommendations",
        "schedule": crontab(hour=RECOMMENDATIONS_REBUILD_HOUR, minute=17),
        "options": {"expires": 3600},
    },
}
CELERY_BEAT_SCHEDULE_FILENAME = env("CELERY_BEAT_SCHEDULE_FILENAME") or str(BASE_DIR / "var" / "celerybeat-schedule")

# --- Operations: health, readiness and metrics (ops/, docs/operating.md) ---------------------------------
READYZ_TIMEOUT_SECONDS = env_float("READYZ_TIMEOUT_SECONDS", 1.0)
READYZ_REQUIRE = env_list("READYZ_REQUIRE", "database,broker,cache")  # the checks whose failure answers 503
READYZ_CACHE_SECONDS = env_float("READYZ_CACHE_SECONDS", 1.0)  # an answer kept this long: bursts are cheap
METRICS_TOKEN = env("METRICS_TOKEN")
METRICS_ALLOWED_NETWORKS = env_list("METRICS_ALLOWED_NETWORKS", "127.0.0.0/8,::1/128" if DEBUG else "")
WORKER_METRICS_PORT = env_int("WORKER_METRICS_PORT", 0) or None
WORKER_METRICS_ADDRESS = env("WORKER_METRICS_ADDRESS", "0.0.0.0")

LOG_LEVEL = env("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    # A status page's address is a key to its order: masked in every line (core/logmask.py).
    "filters": {"mask_status_tokens": {"()": "core.logmask.MaskStatusTokens"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["mask_status_tokens"]}
    },
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        "orders": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "payments": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "accounts": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "recommendations": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
    },
}
