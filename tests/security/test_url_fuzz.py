"""Hostile input on every URL pattern of the project: no answer may be a 5xx.

The review found 500s from NUL bytes (PostgreSQL refuses them: DataError) on the product list,
categories, order numbers, the 3-D Secure and pay-return paths and admin filters. This walks
every pattern the URL resolver knows (the admin's included), fills each path parameter and a set
of common query and form keys with hostile values (a NUL, 10 kB strings, bad unicode, negative
and non-numeric numbers), and sends GET and POST, as an anonymous visitor and as signed-in staff.
"""

import re

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from tests.factories import UserFactory

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db]

# Percent-encoded, as they travel: bad unicode is bytes that are no UTF-8 at all.
HOSTILE = {
    "nul": "a%00b",
    "long": "x" * 10_000,
    "bad unicode": "%FF%FE%C0%AF%ED%A0%80",
    "negative": "-1",
    "not a number": "1e9999",
}
# Keys views read from the query string or a form.
KEYS = [
    "q",
    "category",
    "page",
    "sort",
    "store",
    "next",
    "o",
    "p",
    "e",
    "token",
    "code",
    "number",
    "quantity",
    "return",
    "decision",
    "email",
    "username",
    "password",
    "idempotency_key",
    "payment_method",
    "all",
    "_changelist_filters",
]
_PARAM = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>[^>]+)>")
_REGEX_GROUP = re.compile(r"\(\?P<(?P<name>\w+)>[^)]*\)")


def _routes(resolver=None, prefix=""):
    """Every pattern as a route string with <converter:name> placeholders (regex groups become <str:name>)."""
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        route = str(entry.pattern)
        if hasattr(entry.pattern, "regex") and route.startswith("^"):
            route = _REGEX_GROUP.sub(lambda m: f"<str:{m.group('name')}>", route.lstrip("^").rstrip("$"))
            route = route.replace("\\", "")
        if isinstance(entry, URLResolver):
            yield from _routes(entry, prefix + route)
        elif isinstance(entry, URLPattern):
            yield prefix + route


def _fill(route: str, value: str) -> str:
    def replace(match):
        converter = match.group("converter") or "str"
        if converter == "int":
            return "0" if value != "-1" else "999999999999999999999"
        return value[:2000]

    return "/" + _PARAM.sub(replace, route)


def _fuzz(client: Client, relogin=None) -> list[str]:
    failures = []
    routes = sorted(set(_routes()))
    assert len(routes) > 50, routes  # the walk really found the project's patterns
    for route in routes:
        if "logout" in route:
            continue  # signing out is no hostile input; it would only end the staff session under test
        for label, value in HOSTILE.items():
            if relogin:
                relogin()
            path = _fill(route, value)
            encoded = "&".join(f"{key}={value}" for key in KEYS)
            for method in ("get", "post"):
                try:
                    if method == "get":
                        response = client.get(f"{path}?{encoded}")
                    else:
                        response = client.post(path, encoded, content_type="application/x-www-form-urlencoded")
                except Exception as error:  # noqa: BLE001 - an unhandled exception is what we look for
                    failures.append(f"{method.upper()} {route} [{label}]: {type(error).__name__}: {error}"[:300])
                    continue
                if response.status_code >= 500:
                    failures.append(f"{method.upper()} {route} [{label}]: {response.status_code}")
    return failures


def test_no_url_answers_hostile_input_with_a_5xx_for_an_anonymous_visitor(client, stock_for_fuzz):
    assert _fuzz(client) == []


def test_no_url_answers_hostile_input_with_a_5xx_for_signed_in_staff(client, verified_login, stock_for_fuzz):
    staff = UserFactory(is_staff=True, is_superuser=True)

    failures = _fuzz(client, relogin=lambda: verified_login(client, staff))
    assert failures == [], "\n".join(failures)


@pytest.fixture
def stock_for_fuzz():
    from tests.factories import StockFactory

    return StockFactory(product__slug="teapot", quantity=5)


def test_a_nul_byte_anywhere_is_a_clear_400(client):
    for path, data in [
        ("/products/", {"q": "a\x00b"}),
        ("/products/", {"category": "\x00"}),
        ("/orders/AB\x00CD/", {}),
    ]:
        response = client.get(path, data)
        assert response.status_code == 400, path
        assert "cannot be stored" in response.content.decode()
    client.cookies["sessionid"] = "abc\x00def"
    assert client.get("/").status_code == 400
