"""The one check for every `next` the shop redirects to after a form.

A `next` comes from the address bar or a form, so it is the attacker's choice: another site
(an open redirect for phishing), a scheme (`javascript:`), or something that is not a path at
all. Django's own check accepts "oops" (a relative path), which `redirect()` then takes for a
view name and fails on with a 500, after a step-up has already rotated the session. Only a
local absolute path is followed; anything else silently becomes the page's default.
"""

from django.shortcuts import resolve_url
from django.utils.http import url_has_allowed_host_and_scheme

MAX_LENGTH = 2000


def safe_next(request, candidate: str | None, *, default: str = "/") -> str:
    """`candidate` if it is a path on this site, else `default` (a path or a URL name)."""
    if candidate and is_local_path(request, candidate):
        return candidate
    return resolve_url(default)


def next_from(request, *, default: str = "/") -> str:
    """The `next` of a POST (the form's hidden field) or of the query string, made safe."""
    return safe_next(request, request.POST.get("next") or request.GET.get("next"), default=default)


def is_local_path(request, candidate: str) -> bool:
    if len(candidate) > MAX_LENGTH or not candidate.startswith("/") or candidate.startswith(("//", "/\\")):
        return False
    if any(not char.isprintable() or char.isspace() for char in candidate):
        return False
    return url_has_allowed_host_and_scheme(candidate, allowed_hosts={request.get_host()}, require_https=False)
