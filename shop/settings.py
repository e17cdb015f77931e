"""The one settings module of the shop, driven by the environment.

Two modes (see README "Configuration"):
- embedded (default): SQLite under var/, Celery tasks run in-process, local-memory cache,
  e-mails written to var/mail/ and echoed to the console. Nothing to install beyond Python.
- production (DJANGO_ENV=production): PostgreSQL, Redis, real Celery worker and beat, SMTP.
  Refuses to start without SECRET_KEY, ALLOWED_HOSTS, DATABASE_URL, REDIS_URL and PICKUP_CODE_KEY.

Setting DATABASE_URL or REDIS_URL in any mode switches that part to the real service, which
is how the test suite runs against PostgreSQL and Redis in CI.
"""

import hashlib
import secrets
from datetime import timedelta
from pathlib import Path

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
    _required = ("SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "REDIS_URL", "PICKUP_CODE_KEY")
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
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
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
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Sessions are rows in the database with the cache in front: every web node sees the same
# sessions, and a session can be listed and ended server-side. (Django's cached_db engine, plus
# keeping the "active sessions" list in step when a key rotates: shop/accounts/session_store.py.)
SESSION_ENGINE = "shop.accounts.session_store"
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=int(timedelta(days=14).total_seconds()))
PASSWORD_RESET_TIMEOUT = 60 * 60

# --- Celery -----------------------------------------------------------------------------------
CELERY_BROKER_URL = REDIS_URL or "memory://"
# Without Redis (embedded mode) tasks run in-process, and their exceptions surface.
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Must exceed the longest task, or Redis hands the message to a second worker.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 60 * 60}
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
# Task modules beyond each app's tasks.py.
CELERY_IMPORTS = ["shop.privacy.retention"]
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "resend-unsent-order-confirmations": {
        "task": "shop.orders.tasks.sweep_order_confirmations",
        "schedule": crontab(minute="*/5"),
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
    # Product images without resized copies (a lost message): make them.
    "sweep-product-thumbnails": {
        "task": "shop.catalog.tasks.sweep_product_thumbnails",
        "schedule": crontab(minute="*/15"),
    },
    # Data-subject requests: re-enqueue pending or stuck ones, resume deferred erasures.
    "sweep-data-requests": {
        "task": "shop.privacy.tasks.sweep_data_requests",
        "schedule": crontab(minute="*/10"),
    },
}

# --- E-mail -----------------------------------------------------------------------------------
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Storefront <shop@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_URL = env.str("EMAIL_URL", default="")
if EMAIL_URL:
    globals().update(env.email_url("EMAIL_URL"))
else:
    EMAIL_BACKEND = "shop.core.mail.FileAndConsoleEmailBackend"
    EMAIL_FILE_PATH = VAR_DIR / "mail"
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

OTP_TOTP_ISSUER = env.str("SHOP_NAME", default="Storefront")
OTP_TOTP_THROTTLE_FACTOR = 1
SHOP_REQUIRE_CUSTOMER_MFA = env.bool("SHOP_REQUIRE_CUSTOMER_MFA", default=False)
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
PAYMENT_GATEWAY = env.str("PAYMENT_GATEWAY", default="sandbox")
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
]

# --- Static and media -------------------------------------------------------------------------
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
# Data exports (shop/privacy/services.py): outside MEDIA_ROOT, served only by a permission-checking view.
PRIVACY_EXPORT_DIR = Path(env.str("PRIVACY_EXPORT_DIR", default=str(VAR_DIR / "exports")))
# A request still pending or running after this long is enqueued again by the sweeper.
PRIVACY_SWEEP_AFTER_MINUTES = env.int("PRIVACY_SWEEP_AFTER_MINUTES", default=15)
# Seconds to pause between erasure steps: 0 in use; the killed-worker test slows a real worker down.
PRIVACY_ERASURE_STEP_DELAY = env.float("PRIVACY_ERASURE_STEP_DELAY", default=0)
# Retention (shop/privacy/retention.py): orders keep their personal data this many years after the
# end of the order's calendar year (accounting law); accounts unused this long are warned, then erased.
SHOP_ORDER_RETENTION_YEARS = env.int("SHOP_ORDER_RETENTION_YEARS", default=10)
SHOP_INACTIVE_ACCOUNT_YEARS = env.int("SHOP_INACTIVE_ACCOUNT_YEARS", default=3)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
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
