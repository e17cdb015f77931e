"""Velocity counters in the shared cache (Redis in production), so every web node sees the same counts.

Each counter lives in fixed buckets of its window (an hour, a day); a count is the current bucket
plus the part of the previous one that still lies inside the window (a sliding-window estimate),
so a burst just before a bucket boundary is not forgotten. Reads and writes go as one get_many
and one set_many: two round trips per scoring, whatever the number of counters. Concurrent bumps
of one counter can lose an increment; velocity is a signal, not a limit (the exact card-testing
limit is payments' DeclineLimiter).

Keys hold keyed hashes only (shop/risk/hashing.py), never an address or an e-mail in clear.
"""

from datetime import datetime

from django.core.cache import cache
from django.utils import timezone

from . import hashing

HOUR, DAY = 3600, 86400
_PREFIX = "risk:v"


def _bucket_keys(name: str, window: int, ts: float) -> tuple[str, str, float]:
    bucket = int(ts // window)
    elapsed = (ts % window) / window
    return f"{_PREFIX}:{name}:{window}:{bucket}", f"{_PREFIX}:{name}:{window}:{bucket - 1}", elapsed


def read(names: list[tuple[str, int]], *, now: datetime | None = None) -> dict[tuple[str, int], float]:
    """Counts of (counter, window) pairs."""
    ts = (now or timezone.now()).timestamp()
    layout = {pair: _bucket_keys(pair[0], pair[1], ts) for pair in names}
    values = cache.get_many([key for current, previous, _ in layout.values() for key in (current, previous)])
    return {
        pair: values.get(current, 0) + values.get(previous, 0) * (1 - elapsed)
        for pair, (current, previous, elapsed) in layout.items()
    }


def bump(names: list[tuple[str, int]], *, now: datetime | None = None) -> None:
    ts = (now or timezone.now()).timestamp()
    current_keys = {_bucket_keys(name, window, ts)[0]: window for name, window in names}
    values = cache.get_many(list(current_keys))
    # Two windows of lifetime: the bucket is still read as "previous" during the next window.
    by_window: dict[int, dict[str, int]] = {}
    for key, window in current_keys.items():
        by_window.setdefault(window, {})[key] = values.get(key, 0) + 1
    for window, updates in by_window.items():
        cache.set_many(updates, timeout=2 * window)


def first_time(marker: str, *, ttl: int) -> bool:
    """True the first time `marker` is seen within ttl (cache.add is atomic on every backend)."""
    return cache.add(f"{_PREFIX}:seen:{marker}", 1, timeout=ttl)


def subjects(*, user_id, client, email: str = "", card_fingerprint: str = "") -> dict[str, str]:
    """The hashed identities a request is counted under ("kind" -> hash), leaving out unknown ones."""
    found = {
        "account": hashing.keyed("account", str(user_id)) if user_id else "",
        "session": hashing.session_hash(client.session_key),
        "address": hashing.address_hash(client.address),
        "device": hashing.device_hash(client.device_id),
        "email": hashing.email_hash(email) if email else "",
        "card": hashing.card_hash(card_fingerprint) if card_fingerprint else "",
    }
    return {kind: value for kind, value in found.items() if value}


def record_payment_result(*, user_id, client, card_fingerprint: str, declined: bool, now=None) -> None:
    """After the gateway answered: count declines, and distinct cards per session and account."""
    who = subjects(user_id=user_id, client=client)
    names = []
    if declined:
        names += [(f"decline:{kind}:{value}", DAY) for kind, value in who.items() if kind in ("session", "account")]
    if card_fingerprint:
        card = hashing.card_hash(card_fingerprint)
        for kind in ("session", "account", "device"):
            if kind in who and first_time(f"{kind}:{who[kind]}:{card}", ttl=DAY):
                names.append((f"cards:{kind}:{who[kind]}", DAY))
    if names:
        bump(names, now=now)
