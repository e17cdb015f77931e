"""The shop's settings for the simulator: an in-memory database, a large local-memory cache for the
velocity counters (the default cache would cull them after 300 entries), nothing else changed."""

from shop.settings import *  # noqa: F403

DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "OPTIONS": {"MAX_ENTRIES": 10_000_000, "CULL_FREQUENCY": 10},
    }
}
LOGGING = {"version": 1, "disable_existing_loggers": True}
