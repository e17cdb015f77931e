"""Text a person typed, made safe for an e-mail: `{{ order.shipping_name|mailtext }}`.

HTML e-mails are autoescaped by Django already; plain-text e-mails are rendered with autoescape
off, so there this filter is what stands between the visitor's text and the message. It removes
control characters (line breaks, so nobody starts a new paragraph of "our" text; bidi overrides,
which reorder what the reader sees), collapses whitespace and bounds the length.
"""

import re

from django import template

register = template.Library()

# C0 and C1 controls, DEL, line/paragraph separators, bidi embeddings/overrides/isolates, BOM.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
DEFAULT_LIMIT = 200


def clean(value, limit: int = DEFAULT_LIMIT) -> str:
    text = " ".join(_CONTROL.sub(" ", str(value)).split())
    limit = max(1, int(limit))
    return text if len(text) <= limit else text[: limit - 1] + "…"


@register.filter(name="mailtext")
def mailtext(value, limit=DEFAULT_LIMIT):
    return clean("" if value is None else value, limit)
