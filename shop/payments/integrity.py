"""The scripts a payment page may run, listed in one place with Subresource Integrity hashes.

PCI DSS 6.4.3 asks for an inventory of the scripts on payment pages and a way to know each is
the one intended. The shop's own scripts are pinned by their sha384; a gateway adds its own
(ClientConfig.scripts). The CSP of the page allows nothing else to run.
"""

import hashlib
from base64 import b64encode
from functools import cache

from django.contrib.staticfiles import finders
from django.templatetags.static import static

# The shop's scripts on every payment page, in load order.
SHOP_SCRIPTS = ("js/shop.js", "js/challenge.js")


@cache
def sri(static_path: str) -> str:
    """sha384 of a static file, read from its source (the manifest storage renames, never rewrites)."""
    with open(finders.find(static_path), "rb") as source:
        return "sha384-" + b64encode(hashlib.sha384(source.read()).digest()).decode()


def payment_page_scripts(gateway_scripts) -> list[tuple[str, str]]:
    """(url, integrity) of every script the payment page loads: the shop's, then the gateway's."""
    return [(static(path), sri(path)) for path in SHOP_SCRIPTS] + list(gateway_scripts)
