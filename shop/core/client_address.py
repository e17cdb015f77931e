"""The client's address, as every limit (lockout, declines, proof-of-work, sign-up) counts it.

Behind a reverse proxy every TCP connection comes from the proxy, so the address must be read
from the header the proxy sets (TRUSTED_PROXY_HEADER). That header is believed only when the
connection really comes from one of the proxy's own addresses (TRUSTED_PROXY_ADDRESSES): a
client reaching a node directly could otherwise sign any address it likes. Proxies append to
X-Forwarded-For, so with N trusted proxies the client's address is the N-th entry from the
right; everything left of it is whatever the client chose to send.
"""

import ipaddress
from functools import lru_cache

from django.conf import settings

# What an unparseable address counts as: one shared bucket, never an address anyone binds to.
UNKNOWN = "0.0.0.0"  # noqa: S104


@lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries if entry.strip())


def _parse(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(address.strip())
    except ValueError:
        return None


def is_trusted_proxy(peer: str) -> bool:
    parsed = _parse(peer)
    if parsed is None:
        return False
    return any(parsed in network for network in _networks(tuple(settings.SHOP_TRUSTED_PROXY_ADDRESSES)))


def client_address(request) -> str:
    peer = request.META.get("REMOTE_ADDR", "")
    address = peer
    header = settings.SHOP_TRUSTED_PROXY_HEADER
    if header and is_trusted_proxy(peer):
        hops = [part.strip() for part in request.META.get(header, "").split(",") if part.strip()]
        if len(hops) >= settings.SHOP_TRUSTED_PROXY_COUNT:
            address = hops[-settings.SHOP_TRUSTED_PROXY_COUNT]
    parsed = _parse(address)
    return str(parsed) if parsed is not None else UNKNOWN
