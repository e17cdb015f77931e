"""Writes of the catalog, and the catalogue version that keys every cached fragment.

Cached fragments (the product grid of a list page, the category menu, a product's description)
are stored under the catalogue version current when they were rendered. Every change to products,
categories, prices or stock moves the version on, so the next request renders afresh and a price
change shows at once; old fragments are never read again and expire on their own.

The version lives in the shared cache, so every web node sees the same one. It is bumped again
after the change commits, so a reader that sees the last version also sees the new rows. If the cache
loses the key, the next reader starts a new version from the clock, never an old number that
stale fragments might still be stored under.
"""

import time

from django.core.cache import cache
from django.db import transaction

VERSION_KEY = "catalog:version"
# Cached fragments outlive no version, but a quiet catalogue should not pin them for ever.
FRAGMENT_TIMEOUT = 60 * 60


def catalogue_version() -> str:
    version = cache.get(VERSION_KEY)
    if version is None:
        version = _new_version()
        if not cache.add(VERSION_KEY, version, timeout=None):
            version = cache.get(VERSION_KEY, version)
    return str(version)


def catalogue_changed() -> None:
    """Call inside (or outside) the transaction that changed products, prices or stock.

    Bumped twice: at once, and again after the commit. A page rendered between the two may have
    read the old rows under the first new version; the second bump retires what it cached.
    """
    _bump()
    transaction.on_commit(_bump)


def _bump() -> None:
    cache.set(VERSION_KEY, _new_version(), timeout=None)


def _new_version() -> int:
    # Nanoseconds: two bumps in one process never collide, and a lost key never rewinds.
    return time.time_ns()
