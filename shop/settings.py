"""The one settings module of the shop, driven by the environment.

Two modes (see README "Configuration"):
- embedded (default): SQLite under var/, Celery tasks run in-process, local-memory cache,
  e-mails written to var/mail/ and echoed to the console. Nothing to install beyond Python.
- production (DJANGO_ENV=production): PostgreSQL, Redis, real Celery worker and beat, SMTP.
  Refuses to start without SECRET_KEY, ALLOWED_HOSTS, DATABASE_URL, REDIS_URL, PICKUP_CODE_KEY,
  CARD_FINGERPRINT_KEY and an explicit PAYMENT_GATEWAY; the unsafe combinations of the rest
  (sandbox payments, no trusted-proxy decision) are errors of shop/core/checks.py.

Setting DATABASE_URL or REDIS_URL in any mode switches that part to the real service, which
is how the test suite runs against PostgreSQL and Redis in CI.
"""

import hashlib
import secrets
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import environ
from celery.schedules import crontab
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()

DJANGO_ENV = env.str("DJANGO_ENV", default="development")
if DJANGO_ENV not in {"development", "production"}:
    raise ImproperlyConfigured(f"DJANGO_ENV must be 'development' or 'production', not {DJANGO_ENV!r}.")
PRODUCTION = DJANGO_ENV == "production"

if PRODUCTION:
    _required = (
        "SECRET_KEY",
        "ALLOWED_HOSTS",
        "DATABASE_URL",
        "REDIS_URL",
        "PICKUP_CODE_KEY",
        "CARD_FINGERPRINT_KEY",
        "PAYMENT_GATEWAY",
    )
    _missing = [n for n in _required if not env.str(n, default="")]
    if _missing:
        raise ImproperlyConfigured(
            "DJANGO_ENV=production needs these environment variables: " + ", ".join(_missing) + " (see README)."
        )

# Where the embedded mode keeps its database, secret key, mails and exports. Never committed.
VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _development_secret_key() -> str:
    """Generate the development key once into var/, so sessions survive restarts and no key is committed."""
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(50))
    return path.read_text().strip()


SECRET_KEY = env.str("SECRET_KEY", default="") or _development_secret_key()
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "whitenoise.runserver_nostatic",
    # The admin, as django-otp's OTP-enforcing site: staff never reach it on a password alone.
    "shop.accounts.apps.OTPAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.postgres",
    "csp",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp_webauthn",  # passkeys as django-otp devices (shop/accounts/passkeys.py)
    "axes",
    "django_altcha",
    "django.forms",  # its widget templates, for FORM_RENDERER below
    "shop.core",
    "shop.accounts",
    "shop.catalog",
    "shop.orders",
    "shop.payments",
    "shop.payments.gateways.sandbox",  # the stand-in provider: its own URLs, templates, CSP
    "shop.payments.gateways.stripe",  # its card-element partial and glue script
    "shop.privacy",
    "shop.risk",
    "shop.operations",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # 503 for everything but the health checks while a restore re-applies the erasure ledger.
    "shop.operations.middleware.RestoreGuardMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    # Before the session (its key is a cookie) and every view: a NUL byte is a 400, not a DataError.
    "shop.core.middleware.RefuseUnstorableInputMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "shop.accounts.middleware.SessionPolicyMiddleware",
    "shop.accounts.middleware.MandatoryTwoStepMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "shop.risk.device.DeviceCookieMiddleware",
    "axes.middleware.AxesMiddleware",
    # Analytics: an aggregate page-view count in our own database, only with consent.
    "shop.privacy.consent.PageViewMiddleware",
]

# axes first: a locked-out pair or address is refused before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "shop.urls"
# Widgets render through the project's templates/, so a widget template can live next to the pages.
FORM_RENDERER = "django.forms.renderers.TemplatesSetting"
WSGI_APPLICATION = "shop.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "accounts:account"
LOGOUT_REDIRECT_URL = "catalog:home"

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
                "shop.orders.context_processors.cart_summary",
                "shop.privacy.consent.context",
                "shop.core.context_processors.payment_test_mode",
                "shop.catalog.context_processors.catalogue",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASES = {"default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # psycopg 3's pool: connections = processes x max_size. Set in code, because URL parsers
    # leave `?pool=true` as a string or a bool, never as the dict the backend expects.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    if env.bool("DATABASE_POOL", default=True):
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": env.int("DATABASE_POOL_MIN_SIZE", default=1),
            "max_size": env.int("DATABASE_POOL_MAX_SIZE", default=10),
            "timeout": 10,
        }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: cache, sessions, Celery broker ---------------------------------------------------
# One REDIS_URL serves all three by default; each can have its own server, so that an outage of
# the broker (a queue filling up, a restart) never stops sign-in, which needs only the database
# and the session cache.
REDIS_URL = env.str("REDIS_URL", default="")
CACHE_URL = env.str("CACHE_URL", default="") or REDIS_URL
SESSION_CACHE_URL = env.str("SESSION_CACHE_URL", default="") or CACHE_URL
BROKER_URL = env.str("CELERY_BROKER_URL", default="") or REDIS_URL


def _cache(url: str) -> dict:
    if url:
        return {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}
    return {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}


CACHES = {"default": _cache(CACHE_URL)}
if SESSION_CACHE_URL != CACHE_URL:
    CACHES["sessions"] = _cache(SESSION_CACHE_URL)
    SESSION_CACHE_ALIAS = "sessions"
# Sessions are rows in the database with the cache in front: every web node sees the same
# sessions, and a session can be listed and ended server-side. (Django's cached_db engine, plus
# keeping the "active sessions" list in step when a key rotates: shop/accounts/session_store.py.)
SESSION_ENGINE = "shop.accounts.session_store"
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=int(timedelta(days=14).total_seconds()))
PASSWORD_RESET_TIMEOUT = 60 * 60

# --- Celery -----------------------------------------------------------------------------------
CELERY_BROKER_URL = BROKER_URL or "memory://"
# Without a broker (embedded mode) tasks run in-process, and their exceptions surface.
CELERY_TASK_ALWAYS_EAGER = not BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Must exceed the longest task, or Redis hands the message to a second worker. (Data requests do
# not wait for it: their lease brings a killed worker's job back within a minute or two.) A broker
# that is down is reported after a few seconds, not retried for ever: the page that enqueues
# answers, and the sweepers send the work later.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 60 * 60}
CELERY_BROKER_CONNECTION_TIMEOUT = 3
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 1}
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
# Task modules beyond each app's tasks.py.
CELERY_IMPORTS = ["shop.privacy.retention"]
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    # Security operations (shop/operations): readiness heartbeat, breach clock, audit chain, backups.
    "operations-beat-heartbeat": {"task": "shop.operations.tasks.beat_heartbeat", "schedule": crontab()},
    "operations-breach-reminders": {
        "task": "shop.operations.tasks.send_breach_reminders",
        "schedule": crontab(minute="*/10"),
    },
    "operations-sweep-subject-notifications": {
        "task": "shop.operations.tasks.sweep_subject_notifications",
        "schedule": crontab(),
    },
    "operations-verify-audit-chain": {
        "task": "shop.operations.tasks.verify_audit_chain",
        "schedule": crontab(hour=4, minute=7),
    },
    "resend-unsent-order-confirmations": {
        "task": "shop.orders.tasks.sweep_order_confirmations",
        "schedule": crontab(minute="*/5"),
    },
    # Order lifecycle (README "Order lifecycle"): unpaid orders past the payment window expire.
    "expire-unpaid-orders": {
        "task": "shop.orders.tasks.expire_unpaid_orders",
        "schedule": crontab(),  # every minute
    },
    "mark-shipped-orders-delivered": {
        "task": "shop.orders.tasks.mark_overdue_deliveries",
        "schedule": crontab(minute=23),
    },
    "expire-uncollected-pickup-orders": {
        "task": "shop.orders.tasks.expire_uncollected_pickups",
        "schedule": crontab(minute="*/15"),
    },
    "send-pickup-reminders": {
        "task": "shop.orders.tasks.send_pickup_reminders",
        "schedule": crontab(minute=7),
    },
    "apply-retention-policies": {
        "task": "shop.privacy.retention.apply_retention_task",
        "schedule": crontab(hour=3, minute=17),
    },
    # Risk: retrain the model on the labelled history (promoted only if it beats the one in use),
    # and delete assessments, labels and list entries past their retention.
    "train-risk-model": {
        "task": "shop.risk.tasks.train_risk_model",
        "schedule": crontab(hour=2, minute=41),
    },
    "purge-risk-records": {
        "task": "shop.risk.tasks.purge_risk_records",
        "schedule": crontab(hour=2, minute=11),
    },
    # Product images without resized copies (a lost message): make them.
    "sweep-product-thumbnails": {
        "task": "shop.catalog.tasks.sweep_product_thumbnails",
        "schedule": crontab(minute="*/15"),
    },
    # Data-subject requests: re-enqueue pending ones, expired leases and due retries, resume
    # deferred erasures. Every minute: a killed worker's job is running again a minute later.
    "sweep-data-requests": {
        "task": "shop.privacy.tasks.sweep_data_requests",
        "schedule": crontab(minute="*"),
    },
}

# --- E-mail -----------------------------------------------------------------------------------
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Storefront <shop@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_URL = env.str("EMAIL_URL", default="")
if EMAIL_URL:
    globals().update(env.email_url("EMAIL_URL"))
    if EMAIL_BACKEND == "django.core.mail.backends.smtp.EmailBackend":  # noqa: F821 (set just above)
        EMAIL_BACKEND = "shop.core.mail.SMTPEmailBackend"  # the same SMTP, plus the mail log (ids, no addresses)
else:
    EMAIL_BACKEND = "shop.core.mail.FileAndConsoleEmailBackend"
    EMAIL_FILE_PATH = VAR_DIR / "mail"
# Embedded mail files hold whole messages (links, codes, addresses): purged after this many days.
SHOP_MAIL_FILE_DAYS = env.int("SHOP_MAIL_FILE_DAYS", default=7)
# Links in e-mails are absolute; a Celery worker has no request to build them from.
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:" + env.str("PORT", default="8000")).rstrip("/")

# --- Accounts: lockout, MFA, sessions, bots (README "Security settings") -----------------
# django-axes counts failed logins (and failed second factors) in the database, so that every
# web node agrees. 5 failures for one account from one address lock that pair; 30 failures from
# one address across any accounts lock the address (shop.accounts.lockout.ShopAxesHandler).
AXES_HANDLER = "shop.accounts.lockout.ShopAxesHandler"
AXES_FAILURE_LIMIT = env.int("LOCKOUT_FAILURES_PER_ACCOUNT", default=5)
SHOP_LOCKOUT_FAILURES_PER_ADDRESS = env.int("LOCKOUT_FAILURES_PER_ADDRESS", default=30)
SHOP_CHALLENGE_AFTER_FAILURES = 3
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_USERNAME_FORM_FIELD = "username"
AXES_USERNAME_CALLABLE = "shop.accounts.lockout.username_from_request"
AXES_CLIENT_IP_CALLABLE = "shop.accounts.lockout.client_ip"
AXES_LOCKOUT_CALLABLE = "shop.accounts.lockout.lockout_response"
AXES_SENSITIVE_PARAMETERS = ["password", "password1", "password2", "new_password1", "new_password2", "token", "code"]
AXES_VERBOSE = False
# Behind a reverse proxy: the header it sets (e.g. HTTP_X_FORWARDED_FOR) and how many trusted
# proxies append to it. The client address is the entry the outermost trusted proxy added (the
# right-most after skipping the others); anything to its left was sent by the client and ignored.
SHOP_TRUSTED_PROXY_HEADER = env.str("TRUSTED_PROXY_HEADER", default="")
SHOP_TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=1)
# The header is believed only when the TCP peer is one of these (addresses or networks): a client
# reaching a node directly cannot choose its own address by sending the header itself.
SHOP_TRUSTED_PROXY_ADDRESSES = env.list("TRUSTED_PROXY_ADDRESSES", default=["127.0.0.1", "::1"])
# The explicit "no proxy, clients connect to us directly" decision; production needs it or a header.
SHOP_TRUSTED_PROXY_NONE = env.bool("TRUSTED_PROXY_NONE", default=False)

OTP_TOTP_ISSUER = env.str("SHOP_NAME", default="Storefront")
OTP_TOTP_THROTTLE_FACTOR = 1
# The admin never shows a device's secret key or QR code (it is the second factor itself).
OTP_ADMIN_HIDE_SENSITIVE_DATA = True
SHOP_REQUIRE_CUSTOMER_MFA = env.bool("SHOP_REQUIRE_CUSTOMER_MFA", default=False)
# Passkeys (WebAuthn, README "Passkeys"). The relying party is SITE_URL itself: browsers bind each
# passkey to that host and sign the origin they saw, so a look-alike site gets nothing it can use.
# Browsers refuse WebAuthn on an IP address, so outside production a loopback SITE_URL
# (the default http://127.0.0.1:8000) becomes http://localhost:<port> for passkeys.
_site = urlsplit(SITE_URL)
_passkey_host = _site.hostname or ""
if not PRODUCTION and _passkey_host in {"127.0.0.1", "::1"}:
    _passkey_host = "localhost"
SHOP_PASSKEY_RP_ID = _passkey_host
SHOP_PASSKEY_ORIGIN = f"{_site.scheme}://{_passkey_host}" + (f":{_site.port}" if _site.port else "")
OTP_WEBAUTHN_RP_ID = SHOP_PASSKEY_RP_ID
OTP_WEBAUTHN_RP_NAME = env.str("SHOP_NAME", default="Storefront")
OTP_WEBAUTHN_ALLOWED_ORIGINS = [SHOP_PASSKEY_ORIGIN]
OTP_WEBAUTHN_ALLOW_PASSWORDLESS_LOGIN = True  # so every passkey is a discoverable credential
OTP_WEBAUTHN_HELPER_CLASS = "shop.accounts.passkeys.PasskeyHelper"
OTP_WEBAUTHN_TIMEOUT_SECONDS = 5 * 60  # a ceremony (and its challenge) lasts this long
# Staff must sign in with a passkey (phishing-resistant) to open the admin. Off for the demo.
SHOP_REQUIRE_STAFF_PASSKEY = env.bool("SHOP_REQUIRE_STAFF_PASSKEY", default=False)
# A passkey confirmation before a pickup code is shown is good for this long, in this session.
SHOP_PASSKEY_PRESENCE_SECONDS = 5 * 60
SHOP_BACKUP_CODE_COUNT = 10
# A step-up (password, and the second factor when enrolled) is good for this long.
SHOP_STEP_UP_SECONDS = 10 * 60
SHOP_SESSION_IDLE = {"staff": timedelta(minutes=30), "shopper": timedelta(hours=2)}
SHOP_SESSION_ABSOLUTE = {"staff": timedelta(hours=12), "shopper": timedelta(hours=12), "remembered": timedelta(days=14)}
SHOP_EMAIL_VERIFICATION_MAX_AGE = int(timedelta(days=3).total_seconds())

ALTCHA_HMAC_KEY = env.str("ALTCHA_HMAC_KEY", default="") or SECRET_KEY
ALTCHA_VERIFICATION_ENABLED = True  # never switched off by the environment; tests may override it

# --- Payments (README "Payments") --------------------------------------------------------------
# sandbox: the built-in stand-in provider with documented test cards (embedded default).
# stripe: PaymentIntents through the official SDK (needs the three STRIPE_* keys).
# Production names it explicitly (required above); the sandbox there also needs SANDBOX_IN_PRODUCTION.
PAYMENT_GATEWAY = env.str("PAYMENT_GATEWAY", default="sandbox")
# A demo deployment that takes no money: every page then says so (shop/core/checks.py, the banner).
SANDBOX_IN_PRODUCTION = env.bool("SANDBOX_IN_PRODUCTION", default=False)
# Keys the card fingerprints at rest (HMAC-SHA256 over the gateway's own fingerprint), so a stored
# fingerprint and the last 4 digits never lead back to a card number. Required in production.
CARD_FINGERPRINT_KEY = (
    env.str("CARD_FINGERPRINT_KEY", default="")
    or hashlib.sha256(b"storefront-card-fingerprint-key:" + SECRET_KEY.encode()).hexdigest()
)
if PAYMENT_GATEWAY not in {"sandbox", "stripe"}:
    raise ImproperlyConfigured(f"PAYMENT_GATEWAY must be 'sandbox' or 'stripe', not {PAYMENT_GATEWAY!r}.")
# Signs the sandbox gateway's webhooks (HMAC-SHA256 over "timestamp.body").
SANDBOX_WEBHOOK_SECRET = env.str("SANDBOX_WEBHOOK_SECRET", default="") or f"sandbox-{SECRET_KEY}"
STRIPE_SECRET_KEY = env.str("STRIPE_SECRET_KEY", default="")
STRIPE_PUBLISHABLE_KEY = env.str("STRIPE_PUBLISHABLE_KEY", default="")
STRIPE_WEBHOOK_SECRET = env.str("STRIPE_WEBHOOK_SECRET", default="")
STRIPE_API_BASE = env.str("STRIPE_API_BASE", default="")  # tests point the SDK at a local server
if PAYMENT_GATEWAY == "stripe":
    _missing = [
        n
        for n in ("STRIPE_SECRET_KEY", "STRIPE_PUBLISHABLE_KEY", "STRIPE_WEBHOOK_SECRET")
        if not env.str(n, default="")
    ]
    if _missing:
        raise ImproperlyConfigured("PAYMENT_GATEWAY=stripe needs " + ", ".join(_missing) + " (see README).")
WEBHOOK_TOLERANCE_SECONDS = 5 * 60
# Card-testing defence: declines per hour per session, account or client address.
SHOP_DECLINE_LIMIT = env.int("SHOP_DECLINE_LIMIT", default=5)

# --- Passwords --------------------------------------------------------------------------------
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    # The shop's name, the person's e-mail parts and other context words (ASVS 6.2.11).
    {"NAME": "shop.accounts.password_validation.ContextWordValidator"},
]

# --- Static and media -------------------------------------------------------------------------
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
# Data exports (shop/privacy/archives.py): the `exports` storage below, outside MEDIA_ROOT, served
# only by a permission-checking view. A worker builds each archive in its local spool folder first.
PRIVACY_EXPORT_DIR = Path(env.str("PRIVACY_EXPORT_DIR", default=str(VAR_DIR / "exports")))
PRIVACY_EXPORT_SPOOL_DIR = Path(env.str("PRIVACY_EXPORT_SPOOL_DIR", default=str(VAR_DIR / "export-spool")))
# Data-request jobs (shop/privacy/jobs.py): a running job's lease, renewed before every step; the
# sweeper (every minute) re-enqueues a request whose lease expired, or that stayed pending this
# many minutes without a worker. A failing job is retried (1, 5, 25 minutes later) up to N runs.
PRIVACY_LEASE_SECONDS = env.int("PRIVACY_LEASE_SECONDS", default=30)
PRIVACY_SWEEP_AFTER_MINUTES = env.int("PRIVACY_SWEEP_AFTER_MINUTES", default=1)
PRIVACY_MAX_ATTEMPTS = env.int("PRIVACY_MAX_ATTEMPTS", default=4)
# Seconds to pause between erasure steps: 0 in use; the killed-worker test slows a real worker down.
PRIVACY_ERASURE_STEP_DELAY = env.float("PRIVACY_ERASURE_STEP_DELAY", default=0)
# Retention (shop/privacy/retention.py): orders keep their personal data this many years after the
# end of the order's calendar year (accounting law); accounts unused this long are warned, then erased.
SHOP_ORDER_RETENTION_YEARS = env.int("SHOP_ORDER_RETENTION_YEARS", default=10)
SHOP_INACTIVE_ACCOUNT_YEARS = env.int("SHOP_INACTIVE_ACCOUNT_YEARS", default=3)
# Retention end: the anonymised order (amounts, dates, lines, payments) is deleted this many years
# after the end of its calendar year (never before its personal data goes).
SHOP_ORDER_RECORD_YEARS = max(
    env.int("SHOP_ORDER_RECORD_YEARS", default=SHOP_ORDER_RETENTION_YEARS), SHOP_ORDER_RETENTION_YEARS
)
# Retention runs change at most this many rows per transaction (shop/privacy/retention.py).
SHOP_RETENTION_BATCH_SIZE = env.int("SHOP_RETENTION_BATCH_SIZE", default=10_000)
# Files go through Django's storage API, so several nodes can share them: product media
# ("default") and export archives ("exports") are folders by default (MEDIA_ROOT,
# PRIVACY_EXPORT_DIR: a shared volume when there are several nodes), or any storage class, e.g.
# django-storages' S3 backend for an S3-compatible bucket, with its options as JSON (README
# "Scaling out").
STORAGES = {
    "default": {
        "BACKEND": env.str("MEDIA_STORAGE_BACKEND", default="django.core.files.storage.FileSystemStorage"),
        "OPTIONS": env.json("MEDIA_STORAGE_OPTIONS", default={}),
    },
    "exports": {
        "BACKEND": env.str("EXPORT_STORAGE_BACKEND", default="shop.privacy.archives.ExportFileStorage"),
        "OPTIONS": env.json("EXPORT_STORAGE_OPTIONS", default={}),
    },
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
# Outside production WhiteNoise serves straight from the source folders: no collectstatic.
WHITENOISE_USE_FINDERS = not PRODUCTION
WHITENOISE_AUTOREFRESH = not PRODUCTION

# --- Security headers -------------------------------------------------------------------------
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "object-src": [NONE],
        "base-uri": [NONE],
        "report-uri": ["/csp-report/"],
    },
}
PERMISSIONS_POLICY = {
    "accelerometer": [],
    "camera": [],
    "geolocation": [],
    "gyroscope": [],
    "magnetometer": [],
    "microphone": [],
    "payment": [],
    "usb": [],
}
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_FAILURE_VIEW = "shop.core.views.csrf_failure"
if PRODUCTION:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = 60 * 60 * 24 * 365
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    # __Host- cookies: Secure, no Domain, Path=/ -- a sibling subdomain cannot plant or read them.
    SESSION_COOKIE_NAME = "__Host-sessionid"
    CSRF_COOKIE_NAME = "__Host-csrftoken"
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    # Only the one TLS proxy in front of the app sets this header; it must strip any client copy.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- Logging ----------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.security.csrf": {"level": "WARNING"}, "axes": {"level": "ERROR"}},
}

# --- Internationalisation ---------------------------------------------------------------------
LANGUAGE_CODE = "en"
TIME_ZONE = env.str("TIME_ZONE", default="Europe/Berlin")
USE_I18N = True
USE_TZ = True

# --- The shop's own settings ------------------------------------------------------------------
SHOP_NAME = env.str("SHOP_NAME", default="Storefront")
SHOP_CURRENCY = env.str("SHOP_CURRENCY", default="EUR")
SHOP_DELIVERY_FEE_MINOR = env.int("SHOP_DELIVERY_FEE_MINOR", default=490)
SHOP_FREE_DELIVERY_FROM_MINOR = env.int("SHOP_FREE_DELIVERY_FROM_MINOR", default=5000)
SHOP_MAX_LINE_QUANTITY = 20
# How long a guest's signed order link in the confirmation e-mail keeps working.
SHOP_GUEST_ORDER_LINK_MAX_AGE = int(timedelta(days=90).total_seconds())

# --- Click & collect (README "Pickup in store") ----------------------------------------------------
# Keys the pickup codes at rest (HMAC-SHA256) and derives them for the owner's page and e-mail.
# Production must set its own; development derives one from SECRET_KEY under a distinct salt.
PICKUP_CODE_KEY = (
    env.str("PICKUP_CODE_KEY", default="")
    or hashlib.sha256(b"storefront-pickup-code-key:" + SECRET_KEY.encode()).hexdigest()
)
SHOP_PICKUP_WINDOW_DAYS = env.int("SHOP_PICKUP_WINDOW_DAYS", default=7)
# Orders of at least this total need an ID check at the pickup desk.
SHOP_PICKUP_ID_CHECK_FROM_MINOR = env.int("SHOP_PICKUP_ID_CHECK_FROM_MINOR", default=10000)
# Wrong codes: per order (then a Shop manager releases it), per clerk and per store within the window.
SHOP_PICKUP_WRONG_CODES_PER_ORDER = 5
SHOP_PICKUP_WRONG_CODES_PER_CLERK = 10
SHOP_PICKUP_WRONG_CODES_PER_STORE = 30
SHOP_PICKUP_DESK_WINDOW_SECONDS = 15 * 60

# --- Order lifecycle (README "Order lifecycle") ----------------------------------------------------
# Minutes an unpaid order keeps its units before the beat task expires it.
SHOP_PAYMENT_WINDOW_MINUTES = env.int("SHOP_PAYMENT_WINDOW_MINUTES", default=30)
# Open unpaid orders at once, per session, per account and per client address (the address from
# the trusted proxy, see TRUSTED_PROXY_HEADER; set higher than the others for shared offices).
SHOP_UNPAID_ORDERS_PER_SESSION = env.int("SHOP_UNPAID_ORDERS_PER_SESSION", default=3)
SHOP_UNPAID_ORDERS_PER_ACCOUNT = env.int("SHOP_UNPAID_ORDERS_PER_ACCOUNT", default=3)
SHOP_UNPAID_ORDERS_PER_ADDRESS = env.int("SHOP_UNPAID_ORDERS_PER_ADDRESS", default=5)
# The share (percent) of one store's units of a product that one unpaid order may take (at least 1 unit).
SHOP_UNPAID_STOCK_SHARE_PERCENT = env.int("SHOP_UNPAID_STOCK_SHARE_PERCENT", default=25)
# Checkout asks for the proof-of-work challenge once a session or address has this many unpaid orders open.
SHOP_CHECKOUT_CHALLENGE_FROM_UNPAID = 1
# A shipped order counts as delivered this many days after shipping (unless staff marked it earlier).
SHOP_AUTO_DELIVERED_DAYS = env.int("SHOP_AUTO_DELIVERED_DAYS", default=10)
# Returns are recorded up to this many days after delivery (EU right of withdrawal).
SHOP_RETURN_WINDOW_DAYS = env.int("SHOP_RETURN_WINDOW_DAYS", default=14)

# --- Risk engine (README "Risk engine") ---------------------------------------------------------
# Keys the hashes of addresses, devices, e-mails and cards that risk counts and lists (HMAC-SHA256).
# Production should set its own; development derives one from SECRET_KEY under a distinct salt.
RISK_HASH_KEY = (
    env.str("RISK_HASH_KEY", default="")
    or hashlib.sha256(b"storefront-risk-hash-key:" + SECRET_KEY.encode()).hexdigest()
)
# Score thresholds (0-100): from CHALLENGE the payment asks for 3-D Secure, from REVIEW the order is
# held for a fraud analyst, from BLOCK it is refused with a neutral message.
RISK_CHALLENGE_FROM = env.int("RISK_CHALLENGE_FROM", default=35)
RISK_REVIEW_FROM = env.int("RISK_REVIEW_FROM", default=60)
RISK_BLOCK_FROM = env.int("RISK_BLOCK_FROM", default=90)
# Hours within which a held order should be decided (the review desk highlights late ones).
RISK_REVIEW_SLA_HOURS = env.int("RISK_REVIEW_SLA_HOURS", default=24)
# "shadow": the rules decide and an active model only scores beside them; "model": the active model decides.
RISK_MODEL_MODE = env.str("RISK_MODEL_MODE", default="shadow")
# Labels (with at least this many fraud labels among them) before the nightly training runs.
RISK_MIN_LABELS = env.int("RISK_MIN_LABELS", default=200)
RISK_MIN_FRAUD_LABELS = env.int("RISK_MIN_FRAUD_LABELS", default=20)
# Days after which a scored order nobody reported (no dispute, no fraud refund) counts as legitimate.
RISK_LEGIT_AFTER_DAYS = env.int("RISK_LEGIT_AFTER_DAYS", default=45)
# Category slugs of goods that resell easily (electronics, gift cards): a large share raises the score.
RISK_HIGH_RESALE_CATEGORIES = env.list("RISK_HIGH_RESALE_CATEGORIES", default=["electronics", "gift-cards"])
# Days a risk assessment, review and label is kept (fraud prevention, then deleted by the nightly purge).
RISK_RETENTION_DAYS = env.int("RISK_RETENTION_DAYS", default=365)

# --- Security operations (README "Security operations") ----------------------------------------
# security.txt (RFC 9116): where researchers report, until when the file holds, the policy page.
SECURITY_CONTACT = env.list("SECURITY_CONTACT", default=["mailto:security@localhost"])
SECURITY_TXT_EXPIRES_DAYS = env.int("SECURITY_TXT_EXPIRES_DAYS", default=180)
SECURITY_POLICY_URL = env.str("SECURITY_POLICY_URL", default="")
# The data protection officer: breach reminders go there as well as to the managers.
SHOP_DPO_EMAIL = env.str("DPO_EMAIL", default="")
# Backups: encrypted (AES-256-GCM) under BACKUP_KEY into BACKUP_DIR, kept BACKUP_RETENTION_DAYS.
BACKUP_DIR = Path(env.str("BACKUP_DIR", default=str(VAR_DIR / "backups")))
BACKUP_KEY = env.str("BACKUP_KEY", default="")
BACKUP_RETENTION_DAYS = env.int("BACKUP_RETENTION_DAYS", default=30)
# The erasure ledger lives outside the backups, so a restore can be followed by every erasure since.
ERASURE_LEDGER_PATH = Path(env.str("ERASURE_LEDGER_PATH", default=str(VAR_DIR / "ledger" / "erasures.jsonl")))
ERASURE_LEDGER_KEY = (
    env.str("ERASURE_LEDGER_KEY", default="")
    or hashlib.sha256(b"storefront-erasure-ledger-key:" + SECRET_KEY.encode()).hexdigest()
)
# Readiness fails below this much free disk where exports and backups are written.
HEALTH_MIN_FREE_DISK_MB = env.int("HEALTH_MIN_FREE_DISK_MB", default=500)
